"""Training sets built by running history through `features/`, and CatBoost fitting.

A training row is one player's game: the game-level feature vector as of that game (only
what was known before it: earlier box scores, its market and lines) and the points scored.
Rows come from the same `FeatureStore` the dataflow runs, so there is no second feature
implementation for training to drift from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from catboost import CatBoostRegressor

from features.identity import PlayerDirectory, resolve_props
from features.store import FeatureStore
from scoring.model import ModelKind, model_columns
from vocabulary.events import BoxScore, InputEvent, PropLine

__all__ = ["DEFAULT_PARAMS", "TrainingSet", "build_training_set", "fit"]

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
    points: np.ndarray
    game_dates: np.ndarray  # datetime64[D]

    def __len__(self) -> int:
        return len(self.points)

    def before(self, day: date) -> TrainingSet:
        mask = self.game_dates < np.datetime64(day)
        return TrainingSet(self.features[mask], self.points[mask], self.game_dates[mask])

    def data_hash(self) -> str:
        digest = hashlib.sha256(np.ascontiguousarray(self.features).tobytes())
        digest.update(self.points.tobytes())
        return digest.hexdigest()[:16]


def build_training_set(
    events: Iterable[InputEvent], directory: PlayerDirectory
) -> tuple[TrainingSet, FeatureStore]:
    """Replay `events` (in event-time order); each box score of a game played becomes a row,
    its features taken just before the box score is applied. Returns the final store too."""
    events = list(events)
    ids = {id(prop): pid for pid, prop in resolve_props(events, directory)}
    store = FeatureStore()
    rows, points, dates = [], [], []
    for event in events:
        if isinstance(event, BoxScore) and event.minutes > 0:
            home, away = (event.team, event.opponent) if event.home else (event.opponent, event.team)
            vector = store.game_vector(event.player_id, event.game_key, (event.game_date, home, away))
            rows.append(vector.values)
            points.append(float(event.points))
            dates.append(event.game_date)
        if isinstance(event, PropLine):
            if id(event) in ids:
                store.apply(event, ids[id(event)])
        else:
            store.apply(event)
    features = model_columns(np.asarray(rows, dtype=np.float64).reshape(-1, len(rows[0]) if rows else 0))
    return TrainingSet(features, np.asarray(points), np.asarray(dates, dtype="datetime64[D]")), store


def fit(
    data: TrainingSet, kind: ModelKind, params: dict[str, Any] | None = None
) -> tuple[CatBoostRegressor, float | None]:
    """Fit a model of points; for the constant-sigma kind also return the residuals' std."""
    if len(data) < 100:
        raise ValueError(f"too little training data: {len(data)} rows (need at least 100)")
    settings = DEFAULT_PARAMS | (params or {})
    loss = "RMSE" if kind == "normal_constant_sigma" else "RMSEWithUncertainty"
    model = CatBoostRegressor(loss_function=loss, verbose=False, allow_writing_files=False, **settings)
    target = np.sqrt(data.points) if kind == "sqrt_uncertainty" else data.points
    model.fit(data.features, target)
    if kind != "normal_constant_sigma":
        return model, None
    residuals = data.points - model.predict(data.features)
    return model, float(np.std(residuals, ddof=1))
