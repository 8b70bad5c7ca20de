"""Walk-forward evaluation on real data: each day scored by models trained only on games before it.

History runs through the feature store once; each box score of a game played becomes a
training row with its as-of features. For every day in the window, each model kind is
retrained (every `retrain_days`) on the rows dated before that day, then every book's main
line for that day is scored and graded against the box scores. Seeds and thread counts are
fixed and nothing reads the wall clock, so a run is reproducible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from features.identity import PlayerDirectory
from features.schema import FEATURE_SCHEMA_VERSION, Target
from features.store import FeatureStore
from scoring.grading import Performance, grade, performance, performance_by_model_and_day
from scoring.model import MODEL_FEATURES, ModelKind, ModelMeta, PointsModel
from scoring.scorer import Request, Scorer
from scoring.training import DEFAULT_PARAMS, TrainingSet, build_training_set, fit
from scoring.trees import TreeEnsemble
from vocabulary.events import BoxScore, InputEvent
from vocabulary.records import Grade

__all__ = ["Evaluation", "calibration", "hit_rate_by_edge", "make_model", "walk_forward"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # metadata time of evaluation models: never the wall clock
EDGE_BUCKETS = (0.0, 0.02, 0.04, 0.06, 0.10, 1.0)


@dataclass
class Evaluation:
    start: date
    end: date
    grades: list[Grade]
    overall: dict[str, Performance] = field(default_factory=dict)
    by_day: dict[tuple[str, date], Performance] = field(default_factory=dict)
    training_rows: int = 0


def make_model(
    name: str,
    kind: ModelKind,
    data: TrainingSet,
    params: Mapping[str, Any] | None = None,
    created_at: datetime = EPOCH,
) -> tuple[PointsModel, Any]:
    """Fit a model and wrap it with its metadata; returns the PointsModel and the CatBoost model."""
    settings = DEFAULT_PARAMS | dict(params or {})
    model, sigma = fit(data, kind, settings)
    meta = ModelMeta(
        name=name,
        kind=kind,
        feature_schema_version=FEATURE_SCHEMA_VERSION,
        feature_names=MODEL_FEATURES,
        trained_from=date.fromisoformat(str(data.game_dates.min())),
        trained_to=date.fromisoformat(str(data.game_dates.max())),
        rows=len(data),
        data_hash=data.data_hash(),
        params=settings,
        sigma=sigma,
        metrics={},
        created_at=created_at,
    )
    return PointsModel(meta, TreeEnsemble.from_catboost(model)), model


def main_line_requests(store: FeatureStore, day: date) -> list[Request]:
    """Every book's main line on `day`, as the store holds it (the last quote before tip-off)."""
    requests = []
    for (player_id, game_key, market_name), market in sorted(store.markets.items()):
        if market.game_date != day or market_name != "points":
            continue
        for book, ladder in sorted(market.books.items()):
            if ladder.main is None:
                continue
            quote = ladder.main
            vector = store.vector(Target(player_id, game_key, book, quote.line, market_name))
            requests.append(Request(vector, quote.over_price, quote.under_price))
    return requests


def walk_forward(
    events: Sequence[InputEvent],
    directory: PlayerDirectory,
    window: tuple[date, date],
    kinds: Mapping[str, ModelKind],
    *,
    params: Mapping[str, Any] | None = None,
    retrain_days: int = 1,
) -> Evaluation:
    start, end = window
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    data, store = build_training_set(events, directory)
    boxes = {(e.player_id, e.game_key): e for e in events if isinstance(e, BoxScore)}
    grades: list[Grade] = []
    scorers: dict[str, Scorer] = {}
    trained_on: date | None = None
    day = start
    while day <= end:
        requests = main_line_requests(store, day)
        if requests and (trained_on is None or (day - trained_on).days >= retrain_days):
            history = data.before(day)
            scorers = {
                name: Scorer(make_model(name, kind, history, params)[0]) for name, kind in kinds.items()
            }
            trained_on = day
        for scorer in scorers.values() if requests else ():
            for prediction in scorer.score(requests):
                grades.append(grade(prediction, boxes.get((prediction.player_id, prediction.game_key))))
        day += timedelta(days=1)
    overall = {name: performance(g for g in grades if g.model == name) for name in kinds}
    return Evaluation(
        start, end, grades, overall, performance_by_model_and_day(grades), len(data.before(end))
    )


def calibration(grades: Sequence[Grade], bins: int = 10) -> list[dict[str, float]]:
    """Predicted P(over) in equal-width bins against the observed over rate (decided props)."""
    rows = []
    decided = [g for g in grades if g.result in ("WIN", "LOSS") and g.actual is not None]
    for i in range(bins):
        low, high = i / bins, (i + 1) / bins
        members = [g for g in decided if low <= g.p_over < high or (i == bins - 1 and g.p_over == 1.0)]
        if members:
            observed = sum(g.actual > g.line for g in members) / len(members)  # type: ignore[operator]
            predicted = sum(g.p_over for g in members) / len(members)
            rows.append(
                {"low": low, "high": high, "n": len(members), "predicted": predicted, "observed": observed}
            )
    return rows


def hit_rate_by_edge(grades: Sequence[Grade]) -> list[dict[str, float]]:
    """Hit rate of the favoured side by the size of the model's edge over the book."""
    rows = []
    decided = [g for g in grades if g.result in ("WIN", "LOSS") and g.market_p_over is not None]
    for low, high in itertools.pairwise(EDGE_BUCKETS):
        members = [g for g in decided if low <= abs(g.p_over - g.market_p_over) < high]  # type: ignore[operator]
        hits = sum(g.result == "WIN" for g in members)
        rows.append(
            {
                "low": low,
                "high": high,
                "n": len(members),
                "hit_rate": hits / len(members) if members else math.nan,
            }
        )
    return rows
