"""The fault matrix (issue 14): the product run as an operator runs it, against a Kafka and a
PostgreSQL of its own (`tests.stack.private_services`), while something breaks: the broker
stops and starts again, the worker gets SIGTERM or SIGKILL and is restarted, PostgreSQL stops
and starts again, the Parquet folder's disk fills up. Each scenario ends with tables that are
compared with a clean run of the same input (`replay --source kafka`): `predictions_latest`,
`predictions_log`, `grades` and `dead_letters` must be identical (nothing lost, doubled or
different; emit times aside), every run's counts reconcile (in = applied + dead-lettered), and
the process exits or recovers as docs/operations.md says.

Shared by the suite (tests/flows/test_fault_matrix.py, one test per scenario) and the bench
(bench/fault_bench.py counts the scenarios that pass), so both run the same code.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from connectors.kafka import Publisher
from connectors.parquet import read_dead_letters, read_grades, read_latest, read_predictions_log
from tests.matrix_harness import (
    OUTAGE_S,
    Matrix,
    compare,
    gauge,
    killed_on_error,
    metric,
    mid_catch_up,
    resumable,
    start_worker,
    topic_records,
)
from tests.stack import REPO, caught_up, events_in, fetch, free_port, log_rows, run_until, stop_worker

__all__ = ["SCENARIOS", "run_all"]


def _send_again(m: Matrix) -> None:
    """Publish the last message of a game-lines partition once more, as a retrying producer
    would: the same line again is applied and changes no table, so it shows that the consumer
    reads on, and nothing else."""
    topic = f"{m.env['PROPSTREAM_TOPIC_PREFIX']}odds.games"
    consumer = Consumer({"bootstrap.servers": m.services.kafka_bootstrap, "group.id": "matrix-peek"})
    try:
        high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1]
        consumer.assign([TopicPartition(topic, 0, high - 1)])
        message = consumer.poll(30)
        assert message is not None and message.error() is None, message and message.error()
    finally:
        consumer.close()
    with Publisher(m.services.kafka_bootstrap) as publisher:
        publisher.publish(topic, message.key() or b"", message.value() or b"", message.timestamp()[1])


def broker_stop_start(m: Matrix) -> str:
    """The broker stops while the worker catches up, and starts again: the worker stays up
    (its reads and its output producer wait for the broker), goes on where it was, and reads
    what is published after the broker came back."""
    db, port, total = m.db("broker"), free_port(), m.events
    worker = start_worker(m, db, "broker", "--metrics-port", str(port))
    with killed_on_error(worker):
        before = mid_catch_up(m, db, worker)
        m.services.run("kafka-stop")
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, "the worker exited while the broker was away"
        m.services.run("kafka-start")
        caught_up(db, m.clean_db)
        _send_again(m)
        deadline = time.monotonic() + 60
        while metric(port, "propstream_events_in_total") <= total and time.monotonic() < deadline:
            time.sleep(0.2)
    out = stop_worker(worker, signal.SIGTERM)
    assert events_in(out) == total + 1 == m.events, "the message published after the outage was not read"
    compare(m, db)
    return (
        f"worker up through a {OUTAGE_S:.0f} s broker stop at {before} log rows, reading on after it; equal"
    )


def sigterm_restart(m: Matrix) -> str:
    """SIGTERM while catching up: the batch in flight is written, a snapshot taken, exit 0
    with the counts; the restart reads on from there (nothing read twice, nothing skipped)."""
    db = m.db("sigterm")
    first = start_worker(m, db, "sigterm")
    with killed_on_error(first):
        before = mid_catch_up(m, db, first, frozen=True)
    first_in = events_in(stop_worker(first, signal.SIGTERM, frozen=True))
    second = start_worker(m, db, "sigterm")
    with killed_on_error(second):
        caught_up(db, m.clean_db)
    second_out = stop_worker(second, signal.SIGTERM)
    assert "resuming from the recovery store" in second_out
    assert 0 < first_in < m.events and first_in + events_in(second_out) == m.events
    compare(m, db)
    return (
        f"SIGTERM at {before} log rows: exit 0, {first_in:,} + {m.events - first_in:,} events; tables equal"
    )


def kill_9_restart(m: Matrix) -> str:
    """SIGKILL while catching up, as soon as a restart can resume (two snapshots past the first
    input): the restart resumes from the last snapshot (input positions and engine state
    together) and redoes what came after it; the sinks absorb the repeat."""
    db = m.db("kill9")
    often = {"PROPSTREAM_SNAPSHOT_INTERVAL_S": "0.05"}  # the catch-up takes a second or less
    first = start_worker(m, db, "kill9", **often)
    with killed_on_error(first):
        # killed at the first moment a restart can resume, however fast the catch-up
        run_until(first, lambda: resumable(m.work / "kill9" / "recovery"), "a restart could resume")
        before = max(0, log_rows(db))  # stopped: nothing moves
        assert before < log_rows(m.clean_db), "the worker caught up before it could be killed mid-way"
    first.kill()
    first.communicate(timeout=30)
    second = start_worker(m, db, "kill9", **often)
    with killed_on_error(second):
        caught_up(db, m.clean_db)
    second_out = stop_worker(second, signal.SIGTERM)
    assert "resuming from the recovery store" in second_out
    assert events_in(second_out) < m.events  # resumed, not started over
    compare(m, db)
    redone = events_in(second_out)
    return f"SIGKILL at {before} log rows; the restart resumed ({redone:,} events read again or new); equal"


def _until(condition: Callable[[], bool], limit_s: float, failure: str) -> float:
    """Wait until `condition` holds; returns how long that took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit_s, f"{failure} within {limit_s:.0f} s"
        time.sleep(0.1)
    return time.monotonic() - started


def _own_outputs(name: str) -> dict[str, str]:
    """Output topics of the scenario's own (under the matrix's prefix), to read back whole."""
    return {f"PROPSTREAM_TOPIC_{t.upper()}": f"{name}.{t}" for t in ("predictions", "grades", "dlq")}


def _published_all(m: Matrix, name: str) -> str:
    """The scenario's output topics hold every prediction id of the clean run's log, every key
    of its grades and every dead letter, and nothing else (at least once each: the output
    topics are at-least-once)."""

    def read(topic: str) -> list[dict[str, Any]]:
        return topic_records(m.services.kafka_bootstrap, f"{m.env['PROPSTREAM_TOPIC_PREFIX']}{name}.{topic}")

    predictions, grades, dead = read("predictions"), read("grades"), read("dlq")
    ids = {row[0] for row in fetch(m.clean_db, "SELECT prediction_id FROM predictions_log")}
    assert {p["prediction_id"] for p in predictions} == ids, "predictions topic"
    keys = set(fetch(m.clean_db, "SELECT model, player_id, game_key, book, market FROM grades"))
    assert {(g["model"], g["player_id"], g["game_key"], g["book"], g["market"]) for g in grades} == keys
    letters = set(fetch(m.clean_db, 'SELECT source, partition, "offset" FROM dead_letters'))
    assert {(d["source"], d["partition"], d["offset"]) for d in dead} == letters, "dead-letter topic"
    return (
        f"the topics hold all {len(ids):,} prediction ids, {len(keys):,} grades and "
        f"{len(letters):,} dead letters"
    )


def _broker_gone_under_output(m: Matrix, worker: subprocess.Popen[str], port: int) -> int:
    """Stop the broker while the worker still has input to apply, so that outputs meet it gone
    (a worker that had applied and sent everything would have nothing in flight): frozen
    (SIGSTOP) as soon as it has read its first input, the broker stopped, then thawed. Returns
    the messages it had read then."""

    def read() -> float:
        with contextlib.suppress(OSError):  # its metrics are served once it has started
            return metric(port, "propstream_events_in_total")
        return 0.0

    _until(lambda: read() > 0 or worker.poll() is not None, 120, "the worker read nothing")
    read_then = read()
    worker.send_signal(signal.SIGSTOP)
    try:
        assert 0 < read_then < m.events, f"the worker read {read_then:,.0f} of {m.events:,}: nothing left"
        m.services.run("kafka-stop")
    finally:
        worker.send_signal(signal.SIGCONT)
    return int(read_then)


def broker_away_beyond_the_retry_window(m: Matrix) -> str:
    """The broker stops while the worker catches up and stays away longer than the output
    producer's retry window (1 s here; 60 s by default, after which the worker used to end)
    with outputs in flight: the Kafka sink holds the batch and so the input (gauge
    `propstream_sink_waiting{sink="kafka"}` 1, `holding ... (backpressure)`), the worker stays
    up, and once the broker is back the batch is delivered and the worker goes on. Tables
    equal, and the output topics hold every record of the clean run."""
    db, port, name = m.db("kafka_outage"), free_port(), "kafka-outage"
    retry = {"PROPSTREAM_KAFKA_RETRY_S": "1"}
    worker = start_worker(m, db, name, "--metrics-port", str(port), **retry, **_own_outputs(name))
    with killed_on_error(worker):
        away = -time.monotonic()
        try:
            before = _broker_gone_under_output(m, worker, port)
            _until(lambda: gauge(port, "kafka") == 1, 60, "the Kafka sink held no batch")
            time.sleep(OUTAGE_S)
            assert worker.poll() is None, "the worker exited while the broker was away"
        finally:
            m.services.run("kafka-start")
        away += time.monotonic()
        caught_up(db, m.clean_db)
        after = gauge(port, "kafka")
    out = stop_worker(worker, signal.SIGTERM)
    assert after == 0, after
    assert "(backpressure)" in out and "acknowledges again" in out, out[-3000:]
    assert events_in(out) == m.events
    compare(m, db)
    return (
        f"broker away {away:.0f} s from {before:,} messages read, the outputs held (gauge 1, then 0), the "
        f"worker up; tables equal; {_published_all(m, name)}"
    )


def sigterm_while_an_output_waits(m: Matrix) -> str:
    """SIGTERM while the Kafka sink holds its records (the broker away beyond the retry
    window): the wait ends, the worker stops within seconds as any stopped worker does (exit 0,
    the counts, no traceback) with one line saying what it left unwritten, its last snapshot
    naming the newest checkpoint whose outputs were durable; with the broker back, the restart
    resumes from there and writes them: the tables, and the output topics hold every record."""
    db, port, name = m.db("stop_waiting"), free_port(), "stop-waiting"
    outputs = _own_outputs(name)
    first = start_worker(m, db, name, "--metrics-port", str(port), PROPSTREAM_KAFKA_RETRY_S="1", **outputs)
    with killed_on_error(first):
        try:
            before = _broker_gone_under_output(m, first, port)
            _until(lambda: gauge(port, "kafka") == 1, 60, "the Kafka sink held no batch")
            took = -time.monotonic()
            out = stop_worker(first, signal.SIGTERM)  # exit 0, no traceback, the counts
            took += time.monotonic()
        finally:
            m.services.run("kafka-start")
    assert "KafkaRecordSink stopped waiting on SIGTERM" in out and "not written" in out, out[-3000:]
    second = start_worker(m, db, name, **outputs)
    with killed_on_error(second):
        caught_up(db, m.clean_db)
    second_out = stop_worker(second, signal.SIGTERM)
    assert "resuming from the recovery store" in second_out
    compare(m, db)
    return (
        f"SIGTERM while the outputs waited ({before:,} messages read): stopped in {took:.1f} s, exit 0, "
        f"one line of what it left; the restart resumed; tables equal; {_published_all(m, name)}"
    )


def postgres_stop_start(m: Matrix) -> str:
    """PostgreSQL stops while the worker catches up, longer than the sink's retry window: the
    sink holds its batch and so the input (gauge `propstream_sink_waiting{sink="postgres"}` 1),
    and writes on once the server is back; the worker never exits."""
    db = m.db("pg_outage")
    port = free_port()
    worker = start_worker(m, db, "postgres", "--metrics-port", str(port), PROPSTREAM_POSTGRES_RETRY_S="1")
    with killed_on_error(worker):
        before = mid_catch_up(m, db, worker)
        m.services.run("postgres-stop")
        time.sleep(OUTAGE_S)
        held = gauge(port, "postgres")
        assert worker.poll() is None, "the worker exited while PostgreSQL was away"
        m.services.run("postgres-start")
        caught_up(db, m.clean_db)
        after = gauge(port, "postgres")
    out = stop_worker(worker, signal.SIGTERM)
    assert held == 1 and after == 0, (held, after)
    assert "holding" in out and "PostgreSQL is back" in out, out[-3000:]
    assert events_in(out) == m.events
    compare(m, db)
    return f"input held through a {OUTAGE_S:.0f} s stop at {before} log rows (gauge 1, then 0); tables equal"


@contextlib.contextmanager
def _small_disk(folder: Path, size_kib: int) -> Iterator[tuple[str, Callable[[int], None]]]:
    """`folder` on a tmpfs of `size_kib` (needs root): (what it is, grow(pid)). Without root,
    the child's own file-size limit (RLIMIT_FSIZE, which `parquet_disk_full` sets in the child)
    stands in: its writes beyond it fail with EFBIG as a full disk's fail with ENOSPC, and
    grow(pid) lifts it."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True, check=False).returncode == 0:

        def more_room(_pid: int) -> None:
            subprocess.run(["mount", "-o", "remount,size=256m", str(folder)], check=True)

        try:
            yield f"a tmpfs of {size_kib} KiB", more_room
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        return

    def no_limit(pid: int) -> None:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    yield f"RLIMIT_FSIZE of {size_kib} KiB (no root for a tmpfs)", no_limit


def parquet_disk_full(m: Matrix) -> str:
    """A replay whose Parquet folder's disk fills up: the sink holds its batch and so the input
    (gauge `propstream_sink_waiting{sink="parquet"}` 1, a log line), nothing is lost, and the
    replay completes once there is room. Its Parquet and Postgres tables equal the clean run's."""
    db, lake, log = m.db("disk"), m.work / "disk" / "lake", m.work / "disk.log"
    port, size_kib = free_port(), 256
    with _small_disk(lake, size_kib) as (disk, grow), log.open("w") as output:
        limit = size_kib * 1024

        def limited() -> None:  # only used without a tmpfs; harmless beside one
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        args = ["replay", "--source", "kafka", "--parquet", str(lake), "--metrics-port", str(port)]
        replay = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=m.env | {"PROPSTREAM_POSTGRES_DSN": db},
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=None if disk.startswith("a tmpfs") else limited,  # noqa: PLW1509 (no threads)
        )
        try:
            deadline = time.monotonic() + 120
            while "is full" not in log.read_text() and time.monotonic() < deadline:
                assert replay.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            time.sleep(2)  # it keeps holding, it does not give up
            assert replay.poll() is None, log.read_text()[-3000:]
            held = gauge(port, "parquet")
            grow(replay.pid)
            replay.wait(timeout=240)
        finally:
            if replay.poll() is None:
                replay.kill()
        text = log.read_text()
        assert replay.returncode == 0 and held == 1, (replay.returncode, held, text[-3000:])
        assert "Traceback" not in text and "panicked" not in text, text[-3000:]
        assert "there is room" in text and events_in(text) == m.events
        compare(m, db)
        for read in (read_latest, read_predictions_log, read_grades, read_dead_letters):
            want = read(m.clean_parquet).drop("emitted_at", strict=False)  # each reader sorts by key
            assert read(lake).select(want.columns).equals(want), read.__name__
    return f"the Parquet sink held its input on {disk} (gauge 1), then completed; Parquet, Postgres equal"


SCENARIOS: dict[str, Callable[[Matrix], str]] = {
    "broker stop/start while the worker tails": broker_stop_start,
    "broker away beyond the output retry window": broker_away_beyond_the_retry_window,
    "SIGTERM while an output waits for the broker": sigterm_while_an_output_waits,
    "SIGTERM of the worker, then a restart": sigterm_restart,
    "kill -9 of the worker, then a restart": kill_9_restart,
    "PostgreSQL stop/start while the worker tails": postgres_stop_start,
    "disk full under the Parquet sink": parquet_disk_full,
}


def run_all(m: Matrix) -> dict[str, tuple[bool, str]]:
    """Every scenario by name: whether it passed, and what it measured or why it failed."""
    results: dict[str, tuple[bool, str]] = {}
    for name, scenario in SCENARIOS.items():
        try:
            results[name] = (True, scenario(m))
        except Exception as exc:
            results[name] = (False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    return results
