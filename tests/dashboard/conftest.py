"""A database filled by a replay of one shipped day, and the dashboard app over it; the live
stack and the browser (tests/dashboard/browser.py). The dashboard's models: a champion trained
on the games before the day (what it grades is out-of-sample) and a shadow trained on every
shipped game (in-sample), so the pages show both kinds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from dashboard.app import DashboardConfig, create_app
from scoring.evaluate import make_model
from scoring.model import Registry
from scoring.training import TrainingSet
from tests.dashboard import DAY, NO_KAFKA_HEALTH
from tests.dashboard.browser import browser, live, props
from tests.stack import cli_env, database, reader_dsn, run_cli

__all__ = ["browser", "live", "props"]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, history: tuple) -> Path:  # type: ignore[type-arg]
    data: TrainingSet = history[0]
    root = tmp_path_factory.mktemp("dashboard-models")
    for name, kind, rows in (
        ("champion", "sqrt_uncertainty", data.before(date.fromisoformat(DAY))),
        ("shadow", "normal_uncertainty", data),
    ):
        model, catboost_model = make_model(name, kind, rows, {"iterations": 40})
        Registry(root).save(catboost_model, model.meta)
    return root


@pytest.fixture(scope="session")
def slate_run(
    postgres_dsn: str, kafka_bootstrap: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """`propstream replay --source files` of the shipped 2025-11-10 into a fresh database and
    a Parquet folder: (dsn, parquet folder)."""
    out = tmp_path_factory.mktemp("slate")
    env = cli_env(kafka_bootstrap, "unused.", models_dir, out)
    dsn = database(postgres_dsn, "dashboard_slate")
    parquet = out / "parquet"
    run_cli(
        env,
        "replay",
        "--source",
        "files",
        "--from",
        DAY,
        "--to",
        DAY,
        "--postgres",
        "--parquet",
        str(parquet),
        dsn=dsn,
    )
    return dsn, parquet


@pytest.fixture(scope="session")
def slate_db(slate_run: tuple[str, Path]) -> str:
    return slate_run[0]


@pytest.fixture(scope="session")
def client(slate_db: str) -> Iterator[TestClient]:
    config = DashboardConfig(
        reader_dsn=SecretStr(reader_dsn(slate_db)),
        kafka_bootstrap=None,
        predictions_topic="unused",
        grades_topic="unused",
        default_model="champion",
        health=NO_KAFKA_HEALTH,
    )
    with TestClient(create_app(config)) as test_client:
        yield test_client
