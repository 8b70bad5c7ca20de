"""Sink benchmarks: 100k prediction records into PostgreSQL through the sink (COPY + monotonic
upsert + log), beside a plain COPY into an unindexed table (the floor), and into Parquet; and
a plain COPY into the indexed log alone, which bounds what any sink writing the schema's two
tables can reach against the floor."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from bench.scratch import scratch_database
from connectors.parquet import ParquetSink
from connectors.postgres import PostgresSink
from vocabulary.records import Prediction

__all__ = ["run"]

ROWS = 100_000
BATCH = 5_000


def _records(seed: Sequence[Prediction]) -> list[Prediction]:
    """ROWS distinct props made from real predictions (player ids shifted per copy)."""
    out = []
    copy = 0
    while len(out) < ROWS:
        for p in seed:
            out.append(
                p.model_copy(
                    update={
                        "player_id": p.player_id + copy * 10_000_000,
                        "prediction_id": f"{p.prediction_id[:24]}{copy:08d}",
                    }
                )
            )
            if len(out) == ROWS:
                break
        copy += 1
    return out


def _upsert(dsn: str, records: Sequence[Prediction]) -> float:
    with PostgresSink(dsn) as sink:
        t0 = time.perf_counter()
        for i in range(0, ROWS, BATCH):
            sink.write_batch(records[i : i + BATCH])
        return time.perf_counter() - t0


def _copy(dsn: str, records: Sequence[Prediction], table: str) -> float:
    """The same rows by binary COPY straight into `table`, a commit a batch: into `floor`, an
    unindexed copy of `predictions_latest` (the floor); into `predictions_log` (its primary key
    and indexes, no staging, no upsert), the cheapest of the two writes the schema asks for."""
    columns = list(Prediction.model_fields)
    with psycopg.connect(dsn) as conn:
        if table == "floor":
            conn.execute("CREATE TABLE floor (LIKE predictions_latest)")
            conn.commit()
        types = [
            t
            for c in columns
            for (t,) in conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attname = %s",
                (table, c),
            ).fetchall()
        ]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        t0 = time.perf_counter()
        for i in range(0, ROWS, BATCH):
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.set_types(types)
                for record in records[i : i + BATCH]:
                    copy.write_row([list(v) if isinstance(v, tuple) else v for v in record.__dict__.values()])
            conn.commit()
        return time.perf_counter() - t0


def run(admin_dsn: str, seed: Sequence[Prediction], rounds: int = 3) -> dict[str, float]:
    """Each round uses fresh databases and runs the floor, the sink and the log-only COPY side
    by side, their order rotating between rounds (whatever runs later meets the earlier ones'
    checkpoints and autovacuum); the figures are the medians over rounds."""
    records = _records(seed)
    writes: dict[str, Callable[[str], float]] = {
        "floor": lambda dsn: _copy(dsn, records, "floor"),
        "upsert": lambda dsn: _upsert(dsn, records),
        "log": lambda dsn: _copy(dsn, records, "predictions_log"),
    }
    times: dict[str, list[float]] = {name: [] for name in writes}
    for round_ in range(rounds):
        names = list(writes)[round_ % len(writes) :] + list(writes)[: round_ % len(writes)]
        for name in names:
            with scratch_database(admin_dsn) as dsn:
                times[name].append(writes[name](dsn))
    with tempfile.TemporaryDirectory() as tmp, ParquetSink(Path(tmp)) as lake:
        t0 = time.perf_counter()
        for i in range(0, ROWS, BATCH):
            lake.write_batch(records[i : i + BATCH])
        parquet_s = time.perf_counter() - t0
    floors, upserts, logs = times["floor"], times["upsert"], times["log"]
    return {
        "postgres_sink_rows_per_s": ROWS / statistics.median(upserts),
        "postgres_copy_floor_rows_per_s": ROWS / statistics.median(floors),
        "postgres_upsert_vs_floor": statistics.median(f / u for f, u in zip(floors, upserts, strict=True)),
        # the bound: one COPY into the indexed log alone, no upsert and no latest table
        "postgres_copy_log_only_rows_per_s": ROWS / statistics.median(logs),
        "postgres_copy_log_only_vs_floor": statistics.median(
            f / g for f, g in zip(floors, logs, strict=True)
        ),
        "parquet_rows_per_s": ROWS / parquet_s,
    }
