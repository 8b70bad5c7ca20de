"""Models of a market's stat: a CatBoost model of a player's points (rebounds, ...) read as a
normal, Poisson or negative binomial distribution, and the registry that stores them by
(market, name) with their metadata."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
from catboost import CatBoostRegressor
from pydantic import AwareDatetime, BaseModel, ConfigDict

from features.schema import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, MARKET_FEATURES
from scoring.calibration import IDENTITY, INPUTS, Calibration
from scoring.distribution import Scale
from scoring.exceptions import ModelNotFoundError, SchemaMismatchError
from scoring.trees import TreeEnsemble
from vocabulary.events import Market

__all__ = [
    "COUNT_KINDS",
    "MODEL_FEATURES",
    "ModelKind",
    "ModelMeta",
    "PointsModel",
    "Registry",
    "model_columns",
]

# The model sees a player's game, not a book: the book's own line and price are used after it,
# when its distribution is read at that line (scoring.scorer). Nor does it see the other books
# (the consensus): a prediction then depends only on inputs whose every change rescores it,
# which is what makes the final predictions independent of arrival order (docs/model.md).
MODEL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in MARKET_FEATURES)
_COLUMNS = np.asarray([FEATURE_NAMES.index(n) for n in MODEL_FEATURES], dtype=np.intp)

ModelKind = Literal["normal_uncertainty", "normal_constant_sigma", "sqrt_uncertainty", "poisson", "negbin"]
COUNT_KINDS: tuple[ModelKind, ...] = ("poisson", "negbin")


def model_columns(vectors: np.ndarray) -> np.ndarray:
    """The model's columns of full feature vectors (rows x FEATURE_NAMES)."""
    return vectors[:, _COLUMNS]


class ModelMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ModelKind
    market: Market = "points"  # the prop market it scores (registries from before markets: points)
    feature_schema_version: str
    feature_names: tuple[str, ...]
    trained_from: date
    trained_to: date
    rows: int
    data_hash: str
    params: dict[str, Any]
    sigma: float | None
    dispersion: float | None = None  # negbin: 1/r, variance = mean + dispersion * mean^2
    metrics: dict[str, float]
    created_at: AwareDatetime


class PointsModel:
    """Predicts a normal distribution (loc, sigma) of points or of sqrt(points).

    `normal_uncertainty`: points ~ N(loc, sigma), both from CatBoost's RMSEWithUncertainty
    (raw outputs: loc and log sigma). `normal_constant_sigma`: loc from RMSE, sigma the training
    residuals' standard deviation for everyone. `sqrt_uncertainty`: sqrt(points) ~ N(loc, sigma)
    from RMSEWithUncertainty on the square root of points."""

    def __init__(self, meta: ModelMeta, trees: TreeEnsemble) -> None:
        self.meta = meta
        self.trees = trees

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def market(self) -> str:
        return self.meta.market

    @property
    def scale(self) -> Scale:
        kind = self.meta.kind
        if kind in COUNT_KINDS:
            return "negbin" if kind == "negbin" else "poisson"
        return "sqrt" if kind == "sqrt_uncertainty" else "points"

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(loc, sigma) on the model's scale for rows of MODEL_FEATURES; for the count kinds
        the mean (CatBoost's Poisson loss: raw output log mean) and the standard deviation."""
        raw = self.trees.raw(features)
        if self.meta.kind in COUNT_KINDS:
            mean = np.exp(raw[:, 0])
            dispersion = (self.meta.dispersion or 0.0) if self.meta.kind == "negbin" else 0.0
            return mean, np.sqrt(mean + dispersion * mean * mean)
        if self.meta.kind in ("normal_uncertainty", "sqrt_uncertainty"):
            return raw[:, 0], np.exp(raw[:, 1])
        if self.meta.sigma is None:
            raise SchemaMismatchError(f"model {self.name} of kind {self.meta.kind} has no sigma")
        return raw[:, 0], np.full(len(raw), self.meta.sigma)


class Registry:
    """A models directory, models kept by (market, name): a points model in `<name>/` (where
    registries from before markets keep theirs), another market's in `<market>/<name>/`. Each
    folder holds `model.cbm`, `model.json` (the trees, for the fast evaluator), `metadata.json`
    and, once fitted, `calibration.json` (the stage between the model and the bettor,
    `scoring.calibration`; a model saved without one is served as it was, through the
    identity)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, name: str, market: str = "points") -> Path:
        return self.root / name if market == "points" else self.root / market / name

    def names(self, market: str = "points") -> list[str]:
        base = self.root if market == "points" else self.root / market
        if not base.is_dir():
            return []
        return sorted(p.parent.name for p in base.glob("*/metadata.json"))

    def save(self, model: CatBoostRegressor, meta: ModelMeta) -> Path:
        folder = self.folder(meta.name, meta.market)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_model(str(folder / "model.cbm"))
        model.save_model(str(folder / "model.json"), format="json")
        (folder / "metadata.json").write_text(meta.model_dump_json(indent=2) + "\n")
        return folder

    def load(self, name: str, market: str = "points") -> PointsModel:
        folder = self.folder(name, market)
        if not (folder / "metadata.json").is_file():
            known = ", ".join(self.names(market)) or "none"
            raise ModelNotFoundError(
                f"no {market} model {name!r} in {self.root} (models there: {known}); "
                "train one with `propstream train`"
            )
        meta = ModelMeta.model_validate_json((folder / "metadata.json").read_text())
        if meta.market != market:
            raise SchemaMismatchError(f"model {name!r} in {folder} scores {meta.market}, not {market}")
        if meta.feature_schema_version != FEATURE_SCHEMA_VERSION or meta.feature_names != MODEL_FEATURES:
            raise SchemaMismatchError(
                f"model {name!r} was trained on feature schema {meta.feature_schema_version} "
                f"({len(meta.feature_names)} features) but this code computes schema "
                f"{FEATURE_SCHEMA_VERSION} ({len(MODEL_FEATURES)} features); "
                f"retrain it with `propstream train --name {name}`"
            )
        return PointsModel(meta, TreeEnsemble(json.loads((folder / "model.json").read_text())))

    def save_calibration(self, name: str, calibration: Calibration, market: str = "points") -> Path:
        folder = self.folder(name, market)
        if not (folder / "metadata.json").is_file():
            raise ModelNotFoundError(f"no model {name!r} in {self.root} to save a calibration beside")
        path = folder / "calibration.json"
        path.write_text(calibration.model_dump_json(indent=2) + "\n")
        return path

    def calibration(self, name: str, market: str = "points") -> Calibration:
        """The model's calibration stage; the identity when none was saved (older models)."""
        path = self.folder(name, market) / "calibration.json"
        if not path.is_file():
            return IDENTITY
        calibration = Calibration.model_validate_json(path.read_text())
        if not calibration.is_identity and calibration.inputs != INPUTS:
            raise SchemaMismatchError(
                f"the calibration of model {name!r} reads {calibration.inputs} but this code computes "
                f"{INPUTS}; retrain it with `propstream train`"
            )
        return calibration

    def catboost(self, name: str, market: str = "points") -> CatBoostRegressor:
        """The CatBoost model itself (for checks against its own predict)."""
        model = CatBoostRegressor()
        model.load_model(str(self.folder(name, market) / "model.cbm"))
        return model
