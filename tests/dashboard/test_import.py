"""`propstream db import`: a run's Parquet output into PostgreSQL gives the tables the run
itself wrote there, and a second import changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.stack import cli_env, database, fetch, run_cli

TABLES = {
    "latest": "SELECT model, player_id, game_key, book, market, prediction_id, line, mean, p_over, "
    "player_name FROM predictions_latest ORDER BY 1, 2, 3, 4, 5",
    "log": "SELECT prediction_id FROM predictions_log ORDER BY 1",
    "grades": "SELECT model, player_id, game_key, book, prediction_id, result, profit FROM grades "
    "ORDER BY 1, 2, 3, 4",
}


def test_importing_a_runs_parquet_gives_the_tables_the_run_wrote(
    slate_run: tuple[str, Path], postgres_dsn: str, kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    written_db, parquet = slate_run
    env = cli_env(kafka_bootstrap, "unused.", models_dir, tmp_path)
    imported_db = database(postgres_dsn, "dashboard_import")
    first = run_cli(env, "db", "import", str(parquet), dsn=imported_db)
    assert "equals the Parquet reader's view" in first.stdout
    for name, query in TABLES.items():
        assert fetch(imported_db, query) == fetch(written_db, query), name
    before = {name: fetch(imported_db, query) for name, query in TABLES.items()}
    run_cli(env, "db", "import", str(parquet), dsn=imported_db)
    assert {name: fetch(imported_db, query) for name, query in TABLES.items()} == before


def test_importing_a_folder_that_is_not_an_output_folder_fails_clearly(
    postgres_dsn: str, kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    env = cli_env(kafka_bootstrap, "unused.", models_dir, tmp_path) | {
        "PROPSTREAM_POSTGRES_DSN": postgres_dsn
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "db", "import", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "holds no predictions/ folder" in result.stderr
