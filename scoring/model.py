"""Points models: a CatBoost model of a player's points read as a normal distribution, and the
registry that stores them with their metadata."""

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

__all__ = ["MODEL_FEATURES", "ModelKind", "ModelMeta", "PointsModel", "Registry", "model_columns"]

# The model sees a player's game, not a book: the book's own line and price are used after it,
# when its distribution is read at that line (scoring.scorer). Nor does it see the other books
# (the consensus): a prediction then depends only on inputs whose every change rescores it,
# which is what makes the final predictions independent of arrival order (docs/model.md).
MODEL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in MARKET_FEATURES)
_COLUMNS = np.asarray([FEATURE_NAMES.index(n) for n in MODEL_FEATURES], dtype=np.intp)

ModelKind = Literal["normal_uncertainty", "normal_constant_sigma", "sqrt_uncertainty"]


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
        return "sqrt" if self.meta.kind == "sqrt_uncertainty" else "points"

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(loc, sigma) on the model's scale for rows of MODEL_FEATURES."""
        raw = self.trees.raw(features)
        if self.meta.kind in ("normal_uncertainty", "sqrt_uncertainty"):
            return raw[:, 0], np.exp(raw[:, 1])
        if self.meta.sigma is None:
            raise SchemaMismatchError(f"model {self.name} of kind {self.meta.kind} has no sigma")
        return raw[:, 0], np.full(len(raw), self.meta.sigma)


class Registry:
    """A models directory: `<name>/model.cbm`, `<name>/model.json` (the trees, for the fast
    evaluator), `<name>/metadata.json` and, once fitted, `<name>/calibration.json` (the stage
    between the model and the bettor, `scoring.calibration`; a model saved without one is
    served as it was, through the identity)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/metadata.json"))

    def save(self, model: CatBoostRegressor, meta: ModelMeta) -> Path:
        folder = self.root / meta.name
        folder.mkdir(parents=True, exist_ok=True)
        model.save_model(str(folder / "model.cbm"))
        model.save_model(str(folder / "model.json"), format="json")
        (folder / "metadata.json").write_text(meta.model_dump_json(indent=2) + "\n")
        return folder

    def load(self, name: str) -> PointsModel:
        folder = self.root / name
        if not (folder / "metadata.json").is_file():
            known = ", ".join(self.names()) or "none"
            raise ModelNotFoundError(
                f"no model {name!r} in {self.root} (models there: {known}); train one with `propstream train`"
            )
        meta = ModelMeta.model_validate_json((folder / "metadata.json").read_text())
        if meta.feature_schema_version != FEATURE_SCHEMA_VERSION or meta.feature_names != MODEL_FEATURES:
            raise SchemaMismatchError(
                f"model {name!r} was trained on feature schema {meta.feature_schema_version} "
                f"({len(meta.feature_names)} features) but this code computes schema "
                f"{FEATURE_SCHEMA_VERSION} ({len(MODEL_FEATURES)} features); "
                f"retrain it with `propstream train --name {name}`"
            )
        return PointsModel(meta, TreeEnsemble(json.loads((folder / "model.json").read_text())))

    def save_calibration(self, name: str, calibration: Calibration) -> Path:
        folder = self.root / name
        if not (folder / "metadata.json").is_file():
            raise ModelNotFoundError(f"no model {name!r} in {self.root} to save a calibration beside")
        path = folder / "calibration.json"
        path.write_text(calibration.model_dump_json(indent=2) + "\n")
        return path

    def calibration(self, name: str) -> Calibration:
        """The model's calibration stage; the identity when none was saved (older models)."""
        path = self.root / name / "calibration.json"
        if not path.is_file():
            return IDENTITY
        calibration = Calibration.model_validate_json(path.read_text())
        if not calibration.is_identity and calibration.inputs != INPUTS:
            raise SchemaMismatchError(
                f"the calibration of model {name!r} reads {calibration.inputs} but this code computes "
                f"{INPUTS}; retrain it with `propstream train`"
            )
        return calibration

    def catboost(self, name: str) -> CatBoostRegressor:
        """The CatBoost model itself (for checks against its own predict)."""
        model = CatBoostRegressor()
        model.load_model(str(self.root / name / "model.cbm"))
        return model
