"""What every scenario of the fault matrix (tests/fault_matrix.py) stands on: the input loaded
into a Kafka and a PostgreSQL of the matrix's own and a clean run of it to compare with
(`prepare`, `compare`), workers started and watched as an operator does (`start_worker`,
`mid_catch_up`, `metric`, `gauge`), and what the output topics hold (`topic_records`).
"""

from __future__ import annotations

import contextlib
import json
import pickle
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from cli.settings import Settings
from tests.stack import PrivateServices, database, events_in, fetch, load, log_rows, run_cli, run_until, spawn
from vocabulary.topics import INPUT_TOPICS

__all__ = [
    "DAYS",
    "OUTAGE_S",
    "TABLES",
    "Matrix",
    "compare",
    "gauge",
    "killed_on_error",
    "messages",
    "metric",
    "mid_catch_up",
    "prepare",
    "resumable",
    "start_worker",
    "topic_records",
]

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


def mid_catch_up(m: Matrix, db: str, worker: subprocess.Popen[str], *, frozen: bool = False) -> int:
    """Wait until the worker has written more than 100 of the clean run's log rows, but not all
    of them (looking while it is stopped: `run_until`); returns the rows then. The worker goes
    on, or, `frozen`, stays stopped for the caller to signal (`stop_worker(..., frozen=True)`)."""
    total = log_rows(m.clean_db)
    run_until(worker, lambda: log_rows(db) > 100, "writing 100 log rows")
    rows = log_rows(db)  # stopped: nothing moves
    if not frozen:
        worker.send_signal(signal.SIGCONT)
    assert rows < total, f"the worker wrote all {total} log rows before the fault: nothing to break"
    return rows


def resumable(recovery: Path) -> bool:
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


def start_worker(m: Matrix, db: str, name: str, *extra: str, **env: str) -> subprocess.Popen[str]:
    recovery = ("--recovery-dir", str(m.work / name / "recovery"))
    group = {"PROPSTREAM_CONSUMER_GROUP": f"matrix-{name}"}
    return spawn(m.env | group | env, "worker", *recovery, *extra, dsn=db)


@contextlib.contextmanager
def killed_on_error(worker: subprocess.Popen[str]) -> Iterator[None]:
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


def gauge(port: int, sink: str) -> float:
    return metric(port, f'propstream_sink_waiting{{sink="{sink}"}}')


def topic_records(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of an output topic, as the JSON objects the worker published."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "matrix-outputs"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions]
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while len(out) < sum(ends) and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1):
                assert message.error() is None, message.error()
                out.append(json.loads(message.value() or b"null"))
        assert len(out) == sum(ends), f"{topic}: read {len(out)} of {sum(ends)}"
        return out
    finally:
        consumer.close()
