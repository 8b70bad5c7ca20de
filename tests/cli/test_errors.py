"""Every failure a user can meet prints one line on stderr that names the cause and the fix,
exits non-zero, and shows no traceback (unless --debug). Run as users run it: a subprocess
whose stderr is a pipe, so the log is plain lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import REPO, free_port


@pytest.fixture(scope="module")
def unused_port() -> int:
    """A loopback port nothing listens on: a broker or a database that is down."""
    return free_port()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process holds."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=base | env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


# (id, argv, env, words the line must hold: the cause and the fix); {port}: unused, {taken}: held,
# {data}: a one-day data folder, {parquet}: a folder shaped like a Parquet output
CASES = [
    (
        "load-broker-down",
        ["load", "--data", "{data}", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["cannot reach Kafka", "127.0.0.1:{port}", "PROPSTREAM_KAFKA_BOOTSTRAP"],
    ),
    (
        "worker-broker-down",
        ["worker"],
        {"PROPSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:{port}"},
        ["cannot reach Kafka", "127.0.0.1:{port}", "PROPSTREAM_KAFKA_BOOTSTRAP"],
    ),
    (
        "replay-kafka-broker-down",
        ["replay", "--source", "kafka", "--data", "{data}"],
        {"PROPSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:{port}"},
        ["cannot reach Kafka", "127.0.0.1:{port}", "make services"],
    ),
    (
        "db-import-postgres-down",
        ["db", "import", "{parquet}"],
        {"PROPSTREAM_POSTGRES_DSN": "postgresql://propstream:secret-pw@127.0.0.1:{port}/propstream"},
        ["cannot reach PostgreSQL", "127.0.0.1:{port}", "PROPSTREAM_POSTGRES_DSN"],
    ),
    (
        "replay-postgres-down",
        ["replay", "--source", "files", "--postgres", "--data", "{data}"],
        {"PROPSTREAM_POSTGRES_DSN": "postgresql://propstream:secret-pw@127.0.0.1:{port}/propstream"},
        ["cannot reach PostgreSQL", "127.0.0.1:{port}", "PROPSTREAM_POSTGRES_DSN"],
    ),
    (
        "metrics-port-in-use",
        ["replay", "--source", "files", "--data", "{data}", "--metrics-port", "{taken}"],
        {},
        ["127.0.0.1:{taken}", "in use", "--metrics-port", "PROPSTREAM_METRICS_PORT"],
    ),
    (
        "evaluate-from-after-to",
        ["evaluate", "--from", "2025-11-12", "--to", "2025-11-10", "--data", "{data}"],
        {},
        ["--from 2025-11-12 is after --to 2025-11-10", "swap", "propstream evaluate --help"],
    ),
    (
        "bad-env-value",
        ["data", "report", "--data", "{data}"],
        {"PROPSTREAM_PARTITIONS": "zero"},
        ["PROPSTREAM_PARTITIONS", "'zero'", "valid integer", "unset"],
    ),
    (
        "bad-flag-value",
        ["load", "--data", "{data}", "--partitions", "0"],
        {},
        ["--partitions", "greater than or equal to 1"],
    ),
    (
        "replay-from-after-to",
        ["replay", "--source", "files", "--from", "2025-11-12", "--to", "2025-11-10"],
        {},
        ["is after --to", "swap", "propstream replay --help"],
    ),
    (
        "replay-from-not-iso",
        ["replay", "--from", "11/10/2025"],
        {},
        ["--from", "'11/10/2025'", "2025-11-10", "propstream replay --help"],
    ),
    (
        "bad-dsn",
        ["db", "migrate"],
        {"PROPSTREAM_POSTGRES_DSN": "not a dsn"},
        ["PROPSTREAM_POSTGRES_DSN", "postgresql://"],
    ),
]


@pytest.mark.parametrize(("argv", "env", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_failure_is_one_line_naming_cause_and_fix(
    argv: list[str],
    env: dict[str, str],
    words: list[str],
    unused_port: int,
    taken_port: int,
    day_folder: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "parquet" / "predictions").mkdir(parents=True)
    values = {"port": unused_port, "taken": taken_port, "data": day_folder, "parquet": tmp_path / "parquet"}
    result = _run(
        [a.format(**values) for a in argv],
        {k: v.format(**values) for k, v in env.items()} | {"PROPSTREAM_OUTPUT_DIR": str(tmp_path / "out")},
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word.format(**values) in lines[0], lines[0]
    assert "secret-pw" not in result.stderr  # a DSN's password is never printed


def test_debug_shows_the_traceback(unused_port: int) -> None:
    dsn = f"postgresql://propstream:secret-pw@127.0.0.1:{unused_port}/propstream"
    result = _run(["--debug", "db", "migrate"], {"PROPSTREAM_POSTGRES_DSN": dsn})
    assert result.returncode == 1
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" in result.stderr


def test_json_log_is_one_object_a_line(unused_port: int) -> None:
    result = _run(
        ["--log-format", "json", "load", "--bootstrap", f"127.0.0.1:{unused_port}"],
        {},
    )
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stderr.strip().splitlines()]
    assert [r["level"] for r in records] == ["ERROR"]
    assert set(records[0]) == {"time", "level", "logger", "message"}
    assert records[0]["logger"] == "propstream"
    assert "cannot reach Kafka" in records[0]["message"]


def test_librdkafka_logs_at_debug_level_only(unused_port: int, day_folder: Path) -> None:
    argv = ["load", "--data", str(day_folder), "--bootstrap", f"127.0.0.1:{unused_port}"]
    quiet = _run(argv, {})
    assert "rdkafka" not in quiet.stderr  # librdkafka writes nothing to the terminal itself
    loud = _run(["--debug", *argv], {})
    librdkafka = [line for line in loud.stderr.splitlines() if " DEBUG librdkafka: " in line]
    assert librdkafka and all("rdkafka" in line for line in librdkafka)
    assert any("Connection refused" in line for line in librdkafka)
