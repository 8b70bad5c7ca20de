"""Training sets built by running history through `features/`, and CatBoost fitting.

A training row is one player's game: the game-level feature vector as of that game (only
what was known before it: earlier box scores, its market and lines) and what the player did in
every market (`vocabulary.markets.settle`: points, rebounds, ...). One replay gives the rows of
every market: the features are the same, only the target differs (`TrainingSet.for_market`).
Rows come from the same `FeatureStore` the dataflow runs, so there is no second feature
implementation for training to drift from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from features.identity import PlayerDirectory, resolve_props
from features.store import FeatureStore
from scoring.model import COUNT_KINDS, ModelKind, model_columns
from vocabulary.events import BoxScore, InputEvent, PropLine
from vocabulary.markets import MARKETS, settle

if TYPE_CHECKING:  # imported by `fit` alone: a worker or a replay never trains (0.4 s to import)
    from catboost import CatBoostRegressor

__all__ = ["DEFAULT_PARAMS", "TrainingSet", "build_training_set", "dispersion", "fit"]

DEFAULT_PARAMS: dict[str, Any] = {
    "iterations": 300,
    "depth": 6,
    "learning_rate": 0.05,
    "random_seed": 0,
    "thread_count": 2,
    "nan_mode": "Min",
}


@dataclass(frozen=True)
class TrainingSet:
    features: np.ndarray  # rows x MODEL_FEATURES
    points: np.ndarray  # the target: the stat `market` settles on (points for points)
    game_dates: np.ndarray  # datetime64[D]
    market: str = "points"
    targets: Mapping[str, np.ndarray] = field(default_factory=dict)  # every market's target

    def __len__(self) -> int:
        return len(self.points)

    def before(self, day: date) -> TrainingSet:
        mask = self.game_dates < np.datetime64(day)
        targets = {m: t[mask] for m, t in self.targets.items()}
        dates = self.game_dates[mask]
        return TrainingSet(self.features[mask], self.points[mask], dates, self.market, targets)

    def for_market(self, market: str) -> TrainingSet:
        """The same rows with `market`'s stat as the target."""
        if market not in self.targets:
            raise ValueError(f"no target for market {market!r} (have {sorted(self.targets)})")
        return TrainingSet(self.features, self.targets[market], self.game_dates, market, self.targets)

    def data_hash(self) -> str:
        digest = hashlib.sha256(np.ascontiguousarray(self.features).tobytes())
        digest.update(self.points.tobytes())
        return digest.hexdigest()[:16]


def build_training_set(
    events: Iterable[InputEvent], directory: PlayerDirectory, market: str = "points"
) -> tuple[TrainingSet, FeatureStore]:
    """Replay `events` (in event-time order); each box score of a game played becomes a row,
    its features taken just before the box score is applied, its target `market`'s stat (every
    market's is kept: `for_market`). Returns the final store too."""
    events = list(events)
    ids = {id(prop): pid for pid, prop in resolve_props(events, directory)}
    store = FeatureStore()
    rows: list[tuple[float, ...]] = []
    dates: list[date] = []
    targets: dict[str, list[float]] = {m: [] for m in MARKETS}
    for event in events:
        if isinstance(event, BoxScore) and event.minutes > 0:
            home, away = (event.team, event.opponent) if event.home else (event.opponent, event.team)
            vector = store.game_vector(event.player_id, event.game_key, (event.game_date, home, away))
            rows.append(vector.values)
            for name, values in targets.items():
                values.append(settle(name, event))
            dates.append(event.game_date)
        if isinstance(event, PropLine):
            if id(event) in ids:
                store.apply(event, ids[id(event)])
        else:
            store.apply(event)
    features = model_columns(np.asarray(rows, dtype=np.float64).reshape(-1, len(rows[0]) if rows else 0))
    arrays = {m: np.asarray(t, dtype=np.float64) for m, t in targets.items()}
    data = TrainingSet(features, arrays["points"], np.asarray(dates, dtype="datetime64[D]"), "points", arrays)
    return data.for_market(market), store


def fit(
    data: TrainingSet, kind: ModelKind, params: dict[str, Any] | None = None
) -> tuple[CatBoostRegressor, float | None]:
    """Fit a model of the set's target; for the constant-sigma kind also return the residuals'
    std, for the negative binomial its dispersion (see `dispersion`)."""
    from catboost import CatBoostRegressor  # noqa: PLC0415 (a worker never trains)

    if len(data) < 100:
        raise ValueError(f"too little training data: {len(data)} rows (need at least 100)")
    settings = DEFAULT_PARAMS | (params or {})
    if kind in COUNT_KINDS:
        model = CatBoostRegressor(
            loss_function="Poisson", verbose=False, allow_writing_files=False, **settings
        )
        model.fit(data.features, data.points)
        if kind == "poisson":
            return model, None
        mean = np.exp(model.predict(data.features, prediction_type="RawFormulaVal"))
        return model, dispersion(data.points, mean)
    loss = "RMSE" if kind == "normal_constant_sigma" else "RMSEWithUncertainty"
    model = CatBoostRegressor(loss_function=loss, verbose=False, allow_writing_files=False, **settings)
    target = np.sqrt(data.points) if kind == "sqrt_uncertainty" else data.points
    model.fit(data.features, target)
    if kind != "normal_constant_sigma":
        return model, None
    residuals = data.points - model.predict(data.features)
    return model, float(np.std(residuals, ddof=1))


def dispersion(actual: np.ndarray, mean: np.ndarray) -> float:
    """The negative binomial's 1/r by moments, Var(Y) = mean + (1/r) mean^2: the share of the
    squared residuals the Poisson variance leaves unexplained (0 when they are under-dispersed)."""
    excess = float(np.sum((actual - mean) ** 2 - mean))
    return max(0.0, excess / float(np.sum(mean * mean)))
