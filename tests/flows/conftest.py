from __future__ import annotations

from pathlib import Path

import pytest

from scoring.evaluate import make_model
from scoring.model import Registry
from scoring.scorer import Scorer
from scoring.training import TrainingSet


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, history: tuple) -> Path:  # type: ignore[type-arg]
    """Small champion and shadow models in a registry (fast to train, real all the same)."""
    data: TrainingSet = history[0]
    root = tmp_path_factory.mktemp("models")
    for name, kind in (("champion", "sqrt_uncertainty"), ("shadow", "normal_uncertainty")):
        model, catboost_model = make_model(name, kind, data, {"iterations": 40})
        Registry(root).save(catboost_model, model.meta)
    return root


@pytest.fixture(scope="session")
def scorers(models_dir: Path) -> list[Scorer]:
    registry = Registry(models_dir)
    return [Scorer(registry.load("champion")), Scorer(registry.load("shadow"))]
