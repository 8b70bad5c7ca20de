"""A worker stops cleanly on SIGTERM and SIGINT: the batch in flight is written, every shard
snapshotted, the run's counts printed, exit 0; a restart resumes where it stopped without
re-reading, and the tables equal an uninterrupted run's."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from tests.flows.test_kafka_flows import GRADES, LATEST
from tests.stack import database, fetch, load, run_cli, spawn, wait_until_stable

_EVENTS_IN = re.compile(r"events in ([\d,]+) = applied ([\d,]+) \+ dead-lettered ([\d,]+): counts reconcile")


def _events_in(output: str) -> int:
    match = _EVENTS_IN.search(output)
    assert match, output[-3000:]
    return int(match.group(1).replace(",", ""))


def _stop(worker: subprocess.Popen[str], sig: signal.Signals) -> str:
    worker.send_signal(sig)
    try:
        output = worker.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        worker.kill()
        raise
    assert worker.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "panicked" not in output, output[-3000:]
    assert f"worker stopped on {sig.name}" in output, output[-3000:]
    return output


def _caught_up(db: str, clean: str, limit: float = 240) -> None:
    """Wait until the worker has written as many latest predictions and grades as the
    uninterrupted run, then until its log stops growing."""
    counts = "SELECT (SELECT count(*) FROM predictions_latest), (SELECT count(*) FROM grades)"
    target, deadline = fetch(clean, counts), time.monotonic() + limit
    while fetch(db, counts) != target and time.monotonic() < deadline:
        time.sleep(1)
    wait_until_stable(db, seconds=3)


def test_sigterm_then_sigint_stop_cleanly_and_resume_exactly(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    load(stack, "--max-speed")
    clean = database(postgres_dsn, f"clean_{tmp_path.name[-12:]}".lower())
    total = _events_in(run_cli(stack, "replay", "--source", "kafka", dsn=clean).stdout)
    stopped = database(postgres_dsn, f"stop_{tmp_path.name[-12:]}".lower())
    recovery = ("--recovery-dir", str(tmp_path / "recovery"))

    first = spawn(stack, "worker", *recovery, dsn=stopped)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # stop it once part of the backlog is written
        time.sleep(0.2)
        try:
            if fetch(stopped, "SELECT count(*) FROM predictions_log")[0][0] > 200:
                break
        except psycopg.errors.UndefinedTable:
            continue
    first_in = _events_in(_stop(first, signal.SIGTERM))
    partial = fetch(stopped, "SELECT count(*) FROM predictions_log")[0][0]

    second = spawn(stack, "worker", *recovery, dsn=stopped)
    try:
        _caught_up(stopped, clean)
    except BaseException:
        second.kill()
        raise
    second_out = _stop(second, signal.SIGINT)
    assert "resuming from the recovery store" in second_out

    assert 0 < partial < fetch(clean, "SELECT count(*) FROM predictions_log")[0][0]
    assert 0 < first_in < total
    assert first_in + _events_in(second_out) == total  # nothing read twice, nothing skipped
    assert fetch(stopped, LATEST) == fetch(clean, LATEST)
    assert fetch(stopped, GRADES) == fetch(clean, GRADES)
    duplicates = fetch(stopped, "SELECT prediction_id FROM predictions_log GROUP BY 1 HAVING count(*) > 1")
    assert duplicates == []
