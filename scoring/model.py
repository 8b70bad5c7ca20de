"""Models of a market's stat: a CatBoost model of a player's points (rebounds, ...) read as a
normal, Poisson or negative binomial distribution, and the registry that stores them by
(market, name, version) with their metadata.

A version is one training of a model. It records its training window (the game dates of its
rows) and its activation time, the event time from which it is the version that scores: a
prediction as of t is made by the version active at t, in live and in replay alike, so a
backfill reproduces what live showed across retrains (`scoring.scorer`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict

from features.schema import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, MARKET_FEATURES
from scoring.calibration import IDENTITY, INPUTS, Calibration
from scoring.distribution import Scale
from scoring.exceptions import ModelNotFoundError, SchemaMismatchError
from scoring.trees import TreeEnsemble
from vocabulary.events import US_EASTERN, Market

if TYPE_CHECKING:  # a worker scores with the exported trees: CatBoost (0.4 s to import) only to train
    from catboost import CatBoostRegressor

__all__ = [
    "COUNT_KINDS",
    "MODEL_FEATURES",
    "ModelKind",
    "ModelMeta",
    "PointsModel",
    "Registry",
    "model_columns",
    "start_of_day",
]

# The model sees a player's game, not a book: the book's own line and price are used after it,
# when its distribution is read at that line (scoring.scorer). Nor does it see the other books
# (the consensus): a prediction then depends only on inputs whose every change rescores it,
# which is what makes the final predictions independent of arrival order (docs/model.md).
MODEL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in MARKET_FEATURES)
_COLUMNS = np.asarray([FEATURE_NAMES.index(n) for n in MODEL_FEATURES], dtype=np.intp)

ModelKind = Literal["normal_uncertainty", "normal_constant_sigma", "sqrt_uncertainty", "poisson", "negbin"]
COUNT_KINDS: tuple[ModelKind, ...] = ("poisson", "negbin")


def start_of_day(day: date) -> datetime:
    """The first instant of a US game date (midnight US Eastern): a version trained on games
    before `day` is active from here by default."""
    return datetime.combine(day, time(), US_EASTERN)


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
    active_from: AwareDatetime  # event time from which this version scores

    @property
    def version(self) -> str:
        """The version's name: its activation time in UTC (sorts as it activates)."""
        return self.active_from.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


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
    """A models directory, models kept by (market, name, version): a points model's versions
    in `<name>/versions/<version>/`, another market's in `<market>/<name>/versions/<version>/`.
    Each version folder holds `model.cbm`, `model.json` (the trees, for the fast evaluator),
    `metadata.json` and, once fitted, `calibration.json` (the stage between the model and the
    bettor, `scoring.calibration`; a version saved without one is served through the
    identity). Version names sort in activation order; without one, a method means the
    latest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, name: str, market: str = "points") -> Path:
        return self.root / name if market == "points" else self.root / market / name

    def names(self, market: str = "points") -> list[str]:
        base = self.root if market == "points" else self.root / market
        if not base.is_dir():
            return []
        return sorted({p.parents[2].name for p in base.glob("*/versions/*/metadata.json")})

    def version_names(self, name: str, market: str = "points") -> list[str]:
        return sorted(p.parent.name for p in (self.folder(name, market) / "versions").glob("*/metadata.json"))

    def _version_folder(self, name: str, market: str, version: str | None) -> Path:
        folder = self.folder(name, market)
        versions = self.version_names(name, market)
        if version is None and versions:
            version = versions[-1]
        if version is None or version not in versions:
            known = ", ".join(self.names(market)) or "none"
            if (folder / "metadata.json").is_file():
                raise ModelNotFoundError(
                    f"model {name!r} in {folder} was saved before model versions; "
                    f"retrain it with `propstream train`"
                )
            what = f"version {version} of " if version else ""
            raise ModelNotFoundError(
                f"no {what}{market} model {name!r} in {self.root} (models there: {known}); "
                "train one with `propstream train`"
            )
        return folder / "versions" / version

    def save(self, model: CatBoostRegressor, meta: ModelMeta) -> Path:
        """Save a version; a version of the same activation time is replaced."""
        folder = self.folder(meta.name, meta.market) / "versions" / meta.version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "calibration.json").unlink(missing_ok=True)  # the replaced version's stage
        model.save_model(str(folder / "model.cbm"))
        model.save_model(str(folder / "model.json"), format="json")
        (folder / "metadata.json").write_text(meta.model_dump_json(indent=2) + "\n")
        return folder

    def load(self, name: str, market: str = "points", version: str | None = None) -> PointsModel:
        folder = self._version_folder(name, market, version)
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

    def versions(self, name: str, market: str = "points") -> list[tuple[PointsModel, Calibration]]:
        """Every version of a model with its calibration stage, in activation order."""
        names: list[str | None] = [*self.version_names(name, market)] or [None]  # None: load says why
        return [(self.load(name, market, v), self.calibration(name, market, v)) for v in names]

    def save_calibration(
        self, name: str, calibration: Calibration, market: str = "points", version: str | None = None
    ) -> Path:
        path = self._version_folder(name, market, version) / "calibration.json"
        path.write_text(calibration.model_dump_json(indent=2) + "\n")
        return path

    def calibration(self, name: str, market: str = "points", version: str | None = None) -> Calibration:
        """The version's calibration stage; the identity when none was saved."""
        path = self._version_folder(name, market, version) / "calibration.json"
        if not path.is_file():
            return IDENTITY
        calibration = Calibration.model_validate_json(path.read_text())
        if not calibration.is_identity and calibration.inputs != INPUTS:
            raise SchemaMismatchError(
                f"the calibration of model {name!r} reads {calibration.inputs} but this code computes "
                f"{INPUTS}; retrain it with `propstream train`"
            )
        return calibration

    def catboost(self, name: str, market: str = "points", version: str | None = None) -> CatBoostRegressor:
        """The CatBoost model itself (for checks against its own predict)."""
        from catboost import CatBoostRegressor  # noqa: PLC0415 (training and checks only)

        model = CatBoostRegressor()
        model.load_model(str(self._version_folder(name, market, version) / "model.cbm"))
        return model
