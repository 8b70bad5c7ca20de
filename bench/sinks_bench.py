"""Sink benchmarks: 100k prediction records into PostgreSQL through the sink (COPY + monotonic
upsert + log), beside a plain COPY into an unindexed table (the floor), and into Parquet."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

from connectors.parquet import ParquetSink
from connectors.postgres import PostgresSink, migrate
from connectors.records import Prediction

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


def _floor(dsn: str, records: Sequence[Prediction]) -> float:
    """The same rows by binary COPY into an unindexed copy of the table, a commit a batch."""
    columns = list(Prediction.model_fields)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE floor (LIKE predictions_latest)")
        conn.commit()
        types = [
            t
            for c in columns
            for (t,) in conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'floor'::regclass AND attname = %s",
                (c,),
            ).fetchall()
        ]
        statement = f"COPY floor ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        t0 = time.perf_counter()
        for i in range(0, ROWS, BATCH):
            with conn.cursor() as cur, cur.copy(statement) as copy:  # type: ignore[arg-type]
                copy.set_types(types)
                for record in records[i : i + BATCH]:
                    copy.write_row([list(v) if isinstance(v, tuple) else v for v in record.__dict__.values()])
            conn.commit()
        return time.perf_counter() - t0


def _fresh_db(admin_dsn: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    migrate(dsn)
    return dsn


def _drop(admin_dsn: str, dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run(admin_dsn: str, seed: Sequence[Prediction], rounds: int = 3) -> dict[str, float]:
    """Each round uses a fresh database and runs the floor and the sink side by side, their
    order alternating between rounds (whatever runs second meets the first one's checkpoint
    and autovacuum); the figures are the medians over rounds."""
    records = _records(seed)
    upserts, floors = [], []
    for round_ in range(rounds):
        dsn = _fresh_db(admin_dsn)
        try:
            if round_ % 2:
                upserts.append(_upsert(dsn, records))
                floors.append(_floor(dsn, records))
            else:
                floors.append(_floor(dsn, records))
                upserts.append(_upsert(dsn, records))
        finally:
            _drop(admin_dsn, dsn)
    with tempfile.TemporaryDirectory() as tmp, ParquetSink(Path(tmp)) as lake:
        t0 = time.perf_counter()
        for i in range(0, ROWS, BATCH):
            lake.write_batch(records[i : i + BATCH])
        parquet_s = time.perf_counter() - t0
    return {
        "postgres_upsert_rows_per_s": ROWS / statistics.median(upserts),
        "postgres_copy_floor_rows_per_s": ROWS / statistics.median(floors),
        "postgres_upsert_vs_floor": statistics.median(f / u for f, u in zip(floors, upserts, strict=True)),
        "parquet_rows_per_s": ROWS / parquet_s,
    }
