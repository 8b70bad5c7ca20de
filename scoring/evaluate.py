"""Walk-forward evaluation on real data: each day scored by models trained only on games before it.

History runs through the feature store once; each box score of a game played becomes a
training row with its as-of features. For every day, each model kind is retrained (every
`retrain_days`) on the rows dated before that day, then every book's main line for that day
is scored and graded against the box scores.

The calibration stage (`scoring.calibration`) is walk-forward too: the stage for day D is
fitted on the graded record of the model alone on the days before D. That record starts at
the first day with props in the data (the 2024-25 season has none), whatever `--from` is, so
a day's figures do not depend on the window it is reported in; days before `--from` are
scored for the record only. Seeds and thread counts are fixed and nothing reads the wall
clock, so a run is reproducible.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from features.identity import PlayerDirectory
from features.schema import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, Target
from features.store import FeatureStore
from scoring.calibration import Calibration, GradedQuote, fit_stage
from scoring.grading import Performance, grade, performance, performance_by_model_and_day
from scoring.model import MODEL_FEATURES, ModelKind, ModelMeta, PointsModel, start_of_day
from scoring.scorer import Request, Scorer
from scoring.training import DEFAULT_PARAMS, TrainingSet, build_training_set, fit
from scoring.trees import TreeEnsemble
from vocabulary.events import BoxScore, InputEvent
from vocabulary.markets import settle
from vocabulary.records import Grade, Prediction

__all__ = [
    "Evaluation",
    "calibration",
    "calibration_by_quantile",
    "first_prop_day",
    "fit_stages",
    "graded_quotes",
    "hit_rate_by_edge",
    "make_model",
    "walk_forward",
]

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # metadata time of evaluation models: never the wall clock
EDGE_BUCKETS = (0.0, 0.02, 0.04, 0.06, 0.10, 1.0)
STAGE_RETRAIN_DAYS = 7  # `propstream train`: the record the served stage is fitted on
_SPREAD, _TOTAL = FEATURE_NAMES.index("team_spread"), FEATURE_NAMES.index("game_total")

Boxes = Mapping[tuple[int, str], BoxScore]


@dataclass
class Evaluation:
    """Graded predictions of the window (`grades[i]` grades `predictions[i]`), the same props
    graded as the model alone saw them (`alone`, without the stage), and each model's stage
    per day."""

    start: date
    end: date
    grades: list[Grade]
    overall: dict[str, Performance] = field(default_factory=dict)
    by_day: dict[tuple[str, date], Performance] = field(default_factory=dict)
    training_rows: int = 0
    predictions: list[Prediction] = field(default_factory=list)
    alone: list[Grade] = field(default_factory=list)
    stages: dict[str, dict[date, Calibration]] = field(default_factory=dict)
    in_sample: int = 0  # predictions left out: their game inside their model's training window


def make_model(
    name: str,
    kind: ModelKind,
    data: TrainingSet,
    params: Mapping[str, Any] | None = None,
    created_at: datetime = EPOCH,
    *,
    active_from: datetime | None = None,
) -> tuple[PointsModel, Any]:
    """Fit a model and wrap it with its metadata; returns the PointsModel and the CatBoost
    model. The version is active from `active_from`, by default from the start of the day after
    its last training game."""
    settings = DEFAULT_PARAMS | dict(params or {})
    model, spread = fit(data, kind, settings)
    trained_to = date.fromisoformat(str(data.game_dates.max()))
    meta = ModelMeta(
        name=name,
        kind=kind,
        market=data.market,
        feature_schema_version=FEATURE_SCHEMA_VERSION,
        feature_names=MODEL_FEATURES,
        trained_from=date.fromisoformat(str(data.game_dates.min())),
        trained_to=trained_to,
        rows=len(data),
        data_hash=data.data_hash(),
        params=settings,
        sigma=None if kind == "negbin" else spread,
        dispersion=spread if kind == "negbin" else None,
        metrics={},
        created_at=created_at,
        active_from=active_from or start_of_day(trained_to + timedelta(days=1)),
    )
    return PointsModel(meta, TreeEnsemble.from_catboost(model)), model


def main_line_requests(store: FeatureStore, day: date, market_name: str = "points") -> list[Request]:
    """Every book's main line of `market_name` on `day`, as the store holds it (the last quote
    before tip-off)."""
    requests = []
    for (player_id, game_key, name), market in sorted(store.markets.items()):
        if market.game_date != day or name != market_name:
            continue
        for book, ladder in sorted(market.books.items()):
            if ladder.main is None:
                continue
            quote = ladder.main
            vector = store.vector(Target(player_id, game_key, book, quote.line, market_name))
            requests.append(Request(vector, quote.over_price, quote.under_price))
    return requests


def first_prop_day(store: FeatureStore) -> date | None:
    """The first game date with a prop in the store (the start of the stage's record)."""
    return min((m.game_date for m in store.markets.values()), default=None)


def graded_quotes(
    requests: Sequence[Request], predictions: Sequence[Prediction], boxes: Boxes
) -> list[GradedQuote]:
    """The decided, priced props among `predictions` (of the model alone), for the stage."""
    quotes = []
    for request, p in zip(requests, predictions, strict=True):
        box = boxes.get((p.player_id, p.game_key))
        decided = p.p_over + p.p_under
        if p.market_p_over is None or p.under_price is None or box is None or box.minutes <= 0:
            continue
        actual = settle(p.market, box)
        if actual == p.line or decided <= 0:
            continue
        values = request.vector.values
        quotes.append(
            GradedQuote(
                game_date=p.game_date,
                player_id=p.player_id,
                game_key=p.game_key,
                book=p.book,
                p_model=p.p_over / decided,
                p_market=p.market_p_over,
                team_spread=values[_SPREAD],
                game_total=values[_TOTAL],
                over_price=p.over_price,
                under_price=p.under_price,
                over=actual > p.line,
            )
        )
    return quotes


def _days(
    data: TrainingSet,
    store: FeatureStore,
    kinds: Mapping[str, ModelKind],
    first: date,
    last: date,
    *,
    params: Mapping[str, Any] | None,
    retrain_days: int,
) -> Iterator[tuple[date, list[Request], dict[str, PointsModel]]]:
    """Each day with props of the set's market in [first, last], its requests and the models
    trained before it (retrained every `retrain_days`, counted from the first day scored)."""
    models: dict[str, PointsModel] = {}
    trained_on: date | None = None
    day = first
    while day <= last:
        requests = main_line_requests(store, day, data.market)
        if requests:
            if trained_on is None or (day - trained_on).days >= retrain_days:
                history = data.before(day)
                models = {name: make_model(name, kind, history, params)[0] for name, kind in kinds.items()}
                trained_on = day
            yield day, requests, models
        day += timedelta(days=1)


def walk_forward(
    events: Sequence[InputEvent],
    directory: PlayerDirectory,
    window: tuple[date, date],
    kinds: Mapping[str, ModelKind],
    *,
    params: Mapping[str, Any] | None = None,
    retrain_days: int = 1,
    stage: bool = True,
    market: str = "points",
    prepared: tuple[TrainingSet, FeatureStore] | None = None,
) -> Evaluation:
    """Score and grade every book's main line of `market` on each day of `window`; with
    `stage`, through the calibration stage fitted on the days before (else the model alone).
    `prepared`: the training set and store of `build_training_set` over the same events (one
    replay serves every market)."""
    start, end = window
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    data, store = prepared or build_training_set(events, directory)
    data = data.for_market(market)
    boxes = {(e.player_id, e.game_key): e for e in events if isinstance(e, BoxScore)}
    first = min(start, first_prop_day(store) or start) if stage else start
    result = Evaluation(start, end, [], training_rows=len(data.before(end)))
    record: dict[str, list[GradedQuote]] = {name: [] for name in kinds}
    result.stages = {name: {} for name in kinds}
    started, days = time.monotonic(), (end - first).days + 1
    for day, requests, models in _days(
        data, store, kinds, first, end, params=params, retrain_days=retrain_days
    ):
        for name, model in models.items():
            alone = Scorer(model).score(requests)
            predictions = alone
            if stage:
                calibration = fit_stage(record[name], day)
                result.stages[name][day] = calibration
                predictions = Scorer(model, calibration=calibration).score(requests)
            if day >= start:
                for p, a in zip(predictions, alone, strict=True):
                    if p.in_sample:  # not by construction (trained before `day`): kept apart if so
                        result.in_sample += 1
                        continue
                    box = boxes.get((p.player_id, p.game_key))
                    result.predictions.append(p)
                    result.grades.append(grade(p, box))
                    result.alone.append(grade(a, box))
            record[name] += graded_quotes(requests, alone, boxes)
        logger.info(  # a walk-forward over weeks runs for minutes: a line per day says how far it is
            "evaluate %s: day %d/%d %s%s, %s graded rows so far, %.1f s elapsed",
            market,
            (day - first).days + 1,
            days,
            day,
            " (calibration warm-up)" if day < start else "",
            f"{len(result.grades):,}",
            time.monotonic() - started,
        )
    result.overall = {name: performance(g for g in result.grades if g.model == name) for name in kinds}
    result.by_day = performance_by_model_and_day(result.grades)
    return result


def fit_stages(
    data: TrainingSet,
    store: FeatureStore,
    boxes: Boxes,
    kinds: Mapping[str, ModelKind],
    until: date,
    *,
    params: Mapping[str, Any] | None = None,
    retrain_days: int = STAGE_RETRAIN_DAYS,
) -> dict[str, Calibration]:
    """The stage to serve beside models trained on games before `until`: fitted on the
    walk-forward record of the props before `until` (models retrained every `retrain_days`).
    Without props before `until` each stage is the market itself, with no picks."""
    record: dict[str, list[GradedQuote]] = {name: [] for name in kinds}
    first = first_prop_day(store)
    if first is not None:
        last = until - timedelta(days=1)
        for _, requests, models in _days(
            data, store, kinds, first, last, params=params, retrain_days=retrain_days
        ):
            for name, model in models.items():
                record[name] += graded_quotes(requests, Scorer(model).score(requests), boxes)
    return {name: fit_stage(record[name], until) for name in kinds}


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


def calibration_by_quantile(
    forecasts: Sequence[tuple[float, bool]], bins: int = 10
) -> list[dict[str, float]]:
    """(P(over), went over) pairs sorted by P(over) and cut into `bins` groups of (nearly) equal
    size, never splitting equal predictions (so a group may be larger, and there may be fewer):
    each group's range, size, mean prediction and observed over rate. Readable where the
    predictions crowd together (a stage that starts from the market stays near one half)."""
    ordered = sorted(forecasts, key=lambda f: f[0])
    rows = []
    start = 0
    for i in range(1, bins + 1):
        end = len(ordered) * i // bins
        while 0 < end < len(ordered) and ordered[end][0] == ordered[end - 1][0]:
            end += 1  # equal predictions stay in one bin
        members = ordered[start:end]
        if members:
            rows.append(
                {
                    "low": members[0][0],
                    "high": members[-1][0],
                    "n": len(members),
                    "predicted": sum(p for p, _ in members) / len(members),
                    "observed": sum(o for _, o in members) / len(members),
                }
            )
        start = max(start, end)
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
