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
import pickle
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition

from cli.settings import Settings
from connectors.kafka import Publisher
from connectors.parquet import read_dead_letters, read_grades, read_latest, read_predictions_log
from tests.stack import (
    REPO,
    PrivateServices,
    caught_up,
    database,
    events_in,
    fetch,
    free_port,
    load,
    run_cli,
    spawn,
    stop_worker,
)
from vocabulary.topics import INPUT_TOPICS

__all__ = ["DAYS", "SCENARIOS", "Matrix", "messages", "metric", "prepare", "run_all"]

DAYS = ("2025-11-08", "2025-11-10")  # players learn their ids from the first day's box scores
TABLES = {
    "predictions_latest": "SELECT model, player_id, game_key, book, market, prediction_id, as_of, line, "
    "mean, p_over, recommendation FROM predictions_latest ORDER BY 1, 2, 3, 4, 5",
    "predictions_log": "SELECT prediction_id, model, player_id, game_key, book, market, as_of, line, "
    "over_price, under_price, mean, sigma, p_over, edge, recommendation, reasons, defaulted, withdrawn "
    "FROM predictions_log ORDER BY 1",
    "grades": "SELECT model, player_id, game_key, book, market, prediction_id, actual, result, profit "
    "FROM grades ORDER BY 1, 2, 3, 4, 5",
    "dead_letters": 'SELECT source, partition, "offset", reason, original FROM dead_letters ORDER BY 1, 2, 3',
}
OUTAGE_S = 6.0  # how long the broker or the database stays away (beyond the sink's 1 s retry window)


@dataclass(frozen=True)
class Matrix:
    """The private services with the input loaded, and the clean run to compare with."""

    services: PrivateServices
    env: dict[str, str]
    clean_db: str
    clean_parquet: Path
    work: Path

    def db(self, name: str) -> str:
        return database(self.services.admin_dsn, name)

    @property
    def events(self) -> int:
        """The input topics' messages now: what a run over them all must account for."""
        prefix = self.env["PROPSTREAM_TOPIC_PREFIX"]
        return messages(
            self.services.kafka_bootstrap, [Settings(topic_prefix=prefix).topic(t) for t in INPUT_TOPICS]
        )


def messages(bootstrap: str, topics: list[str]) -> int:
    """Messages in the topics (their high watermarks: nothing is deleted from them)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "matrix-count"})
    try:
        metadata = consumer.list_topics(timeout=30)
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for topic in topics
            for p in metadata.topics[topic].partitions
        )
    finally:
        consumer.close()


def prepare(services: PrivateServices, models_dir: Path, work: Path) -> Matrix:
    """Load `DAYS` of the shipped data into the private broker and replay it cleanly."""
    env = services.env("matrix.", models_dir, work / "out")
    load(env, "--max-speed", days=DAYS)
    clean, lake = database(services.admin_dsn, "clean"), work / "clean"
    matrix = Matrix(services, env, clean, lake, work)
    out = run_cli(env, "replay", "--source", "kafka", "--parquet", str(lake), dsn=clean).stdout
    assert events_in(out) == matrix.events
    return matrix


def compare(m: Matrix, db: str) -> None:
    """The scenario's tables equal the clean run's, table by table."""
    for name, query in TABLES.items():
        got, want = fetch(db, query), fetch(m.clean_db, query)
        assert got == want, f"{name}: {len(got)} rows against the clean run's {len(want)}"


def _rows(db: str) -> int:
    try:
        return int(fetch(db, "SELECT count(*) FROM predictions_log")[0][0])
    except psycopg.Error:  # not migrated yet, or the database is away
        return -1


def _mid_catch_up(m: Matrix, db: str, worker: subprocess.Popen[str]) -> int:
    """Wait until the worker has written more than 100 of the clean run's log rows, but not all
    of them; returns the rows then."""
    total, deadline = _rows(m.clean_db), time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        rows = _rows(db)
        if rows > 100:
            assert rows < total, f"the worker wrote all {total} log rows before the fault: nothing to break"
            return rows
        time.sleep(0.05)
    raise AssertionError(f"the worker wrote nothing within 120 s (exit code {worker.poll()})")


def _resumable(recovery: Path) -> bool:
    """Whether a restart would resume past the first input rather than start over: Bytewax
    0.21's SQLite store holds a snapshot (our (layout, positions, engine state) pickle inside its own)
    that has read input, of an epoch the worker's frontier has passed."""
    for path in recovery.glob("*.sqlite3"):
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db,
        ):
            frontier = db.execute("SELECT coalesce(max(worker_frontier), 0) FROM fronts").fetchone()[0]
            query = "SELECT ser_change FROM snaps WHERE ser_change IS NOT NULL AND snap_epoch < ?"
            for (blob,) in db.execute(query, (frontier,)):
                _, positions, _ = pickle.loads(pickle.loads(blob))
                if sum(positions.values()) > 0:
                    return True
    return False


def _worker(m: Matrix, db: str, name: str, *extra: str, **env: str) -> subprocess.Popen[str]:
    recovery = ("--recovery-dir", str(m.work / name / "recovery"))
    group = {"PROPSTREAM_CONSUMER_GROUP": f"matrix-{name}"}
    return spawn(m.env | group | env, "worker", *recovery, *extra, dsn=db)


@contextlib.contextmanager
def _killed_on_error(worker: subprocess.Popen[str]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        worker.kill()
        worker.communicate(timeout=30)
        raise


def metric(port: int, prefix: str) -> float:
    """The sum of a metric's samples whose line starts with `prefix` (name and labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith(prefix))


def _gauge(port: int, sink: str) -> float:
    return metric(port, f'propstream_sink_waiting{{sink="{sink}"}}')


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
    worker = _worker(m, db, "broker", "--metrics-port", str(port))
    with _killed_on_error(worker):
        before = _mid_catch_up(m, db, worker)
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
    first = _worker(m, db, "sigterm")
    with _killed_on_error(first):
        before = _mid_catch_up(m, db, first)
    first_in = events_in(stop_worker(first, signal.SIGTERM))
    second = _worker(m, db, "sigterm")
    with _killed_on_error(second):
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
    often = {"PROPSTREAM_SNAPSHOT_INTERVAL_S": "0.2"}  # the catch-up takes a few seconds at most
    first = _worker(m, db, "kill9", **often)
    with _killed_on_error(first):
        # run it in slices of 0.1 s (SIGSTOP/SIGCONT), looking between them: killed at the first
        # moment a restart can resume, however fast the catch-up is on this machine
        deadline = time.monotonic() + 120
        while True:
            first.send_signal(signal.SIGSTOP)
            if _resumable(m.work / "kill9" / "recovery"):
                break
            assert first.poll() is None and time.monotonic() < deadline, "the worker exited or stalled"
            first.send_signal(signal.SIGCONT)
            time.sleep(0.1)
        before = max(0, _rows(db))  # stopped: nothing moves
        assert before < _rows(m.clean_db), "the worker caught up before it could be killed mid-way"
    first.kill()
    first.communicate(timeout=30)
    second = _worker(m, db, "kill9", **often)
    with _killed_on_error(second):
        caught_up(db, m.clean_db)
    second_out = stop_worker(second, signal.SIGTERM)
    assert "resuming from the recovery store" in second_out
    assert events_in(second_out) < m.events  # resumed, not started over
    compare(m, db)
    redone = events_in(second_out)
    return f"SIGKILL at {before} log rows; the restart resumed ({redone:,} events read again or new); equal"


def postgres_stop_start(m: Matrix) -> str:
    """PostgreSQL stops while the worker catches up, longer than the sink's retry window: the
    sink holds its batch and so the input (gauge `propstream_sink_waiting{sink="postgres"}` 1),
    and writes on once the server is back; the worker never exits."""
    db = m.db("pg_outage")
    port = free_port()
    worker = _worker(m, db, "postgres", "--metrics-port", str(port), PROPSTREAM_POSTGRES_RETRY_S="1")
    with _killed_on_error(worker):
        before = _mid_catch_up(m, db, worker)
        m.services.run("postgres-stop")
        time.sleep(OUTAGE_S)
        held = _gauge(port, "postgres")
        assert worker.poll() is None, "the worker exited while PostgreSQL was away"
        m.services.run("postgres-start")
        caught_up(db, m.clean_db)
        after = _gauge(port, "postgres")
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
            held = _gauge(port, "parquet")
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
