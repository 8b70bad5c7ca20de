"""Running the CLI as users do, against the real services: fresh databases, subprocesses,
and waiting for a worker to settle. Shared by the flow and dashboard tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from cli.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DAY_FROM, DAY_TO = "2025-11-05", "2025-11-11"  # a week: players learn their ids from box scores


def cli_env(kafka_bootstrap: str, topic_prefix: str, models_dir: Path, output_dir: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: the given topics, models and output folder, and no
    PROPSTREAM_* setting leaking in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    return env | {
        "PROPSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PROPSTREAM_TOPIC_PREFIX": topic_prefix,
        "PROPSTREAM_MODELS_DIR": str(models_dir),
        "PROPSTREAM_MARKETS": '["points"]',  # the test registry (models_dir) holds points models
        "PROPSTREAM_OUTPUT_DIR": str(output_dir),
        "PROPSTREAM_SNAPSHOT_INTERVAL_S": "1",
        "PROPSTREAM_POSTGRES_READER_DSN": Settings().postgres_reader_dsn.get_secret_value(),
    }


def database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)


def run_cli(
    env: dict[str, str], *args: str, dsn: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    run_env = env | ({"PROPSTREAM_POSTGRES_DSN": dsn} if dsn else {})
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=run_env,
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def spawn(env: dict[str, str], *args: str, dsn: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=env | {"PROPSTREAM_POSTGRES_DSN": dsn},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def fetch(dsn: str, query: str, params: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchall()  # type: ignore[arg-type]


def wait_until_stable(dsn: str, seconds: float = 6, limit: float = 240) -> int:
    """Wait until the prediction log stops growing: the worker has caught up."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            count = fetch(dsn, "SELECT count(*) FROM predictions_log")[0][0]
        except psycopg.errors.UndefinedTable:
            count = -1
        if count != last:
            last, since = count, time.monotonic()
        elif count > 0 and time.monotonic() - since > seconds:
            return count
        time.sleep(0.5)
    raise AssertionError(f"the worker did not settle within {limit}s (log rows: {last})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load(env: dict[str, str], *extra: str, days: tuple[str, str] = (DAY_FROM, DAY_TO)) -> None:
    run_cli(env, "load", "--from", days[0], "--to", days[1], "--partitions", "3", *extra)


def reader_dsn(dsn: str) -> str:
    """The read-only role's DSN for the database `dsn` names."""
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    return psycopg.conninfo.make_conninfo(Settings().postgres_reader_dsn.get_secret_value(), dbname=name)
