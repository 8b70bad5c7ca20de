"""PostgreSQL: versioned migrations, and the idempotent, monotonic sink.

A batch is one transaction: per record type, its records are deduplicated, COPYed into a
temporary staging table, then applied by one statement: `INSERT ... ON CONFLICT ... DO UPDATE
... WHERE EXCLUDED.as_of >= t.as_of` (at equal `as_of`, the later `emitted_at` wins), so a
re-delivered or older record never overwrites a newer one; predictions write their log in the
same statement (it keeps corrections; a withdrawn id's rows are deleted before it, in a batch
that has one); dead letters ignore duplicates. When the server goes away the sink reconnects
with backoff for `retry_for_s`, then raises `SinkError` (or, with `wait`, holds the batch until
the server returns); a batch is never half-applied.
"""

from __future__ import annotations

import functools
import logging
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel

from connectors.sinks import Backpressure, Item, Sink, SinkError
from vocabulary.errors import PropstreamError
from vocabulary.events import DeadLetter
from vocabulary.letters import DeadLetters
from vocabulary.records import KEY, Grade, Prediction

__all__ = ["MIGRATIONS", "MigrationError", "PostgresSink", "code_schema_version", "migrate"]

logger = logging.getLogger(__name__)
_NEVER = datetime.min.replace(tzinfo=UTC)
_MIGRATION_LOCK = 7_305_117_001  # an arbitrary, fixed advisory-lock id for schema migrations

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationError(PropstreamError):
    """The database cannot be brought to this code's schema."""


def _migrations() -> list[tuple[int, Path]]:
    return sorted((int(p.name.split("_", 1)[0]), p) for p in MIGRATIONS.glob("[0-9]*_*.sql"))


def code_schema_version() -> int:
    return _migrations()[-1][0]


def migrate(dsn: str, reader_role: str | None = None) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction; returns the
    versions applied (none on a database already current). Refuses a database newer than the
    code. Grants the read-only `reader_role` SELECT on every table and view."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        # several workers may start at once: one migrates, the others wait and find it done
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS propstream_schema ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM propstream_schema").fetchone()
        current = row[0] if row else 0
        if current > code_schema_version():
            raise MigrationError(
                f"the database is at schema version {current}, newer than this code's "
                f"{code_schema_version()}: upgrade propstream before using this database"
            )
        applied = []
        for version, path in _migrations():
            if version <= current:
                continue
            with conn.transaction():
                conn.execute(path.read_text())  # type: ignore[arg-type]
                conn.execute(
                    "INSERT INTO propstream_schema (version, name) VALUES (%s, %s)", (version, path.name)
                )
            applied.append(version)
            logger.info("applied migration %s", path.name)
        if reader_role:
            role = sql.Identifier(reader_role)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
        return applied


@dataclass(frozen=True)
class _Table:
    """How one record type lands: its table, columns, conflict key and whether newer wins."""

    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    monotonic: bool
    log_table: str | None = None  # also appended here, keyed by prediction_id

    @property
    def _array_columns(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c in ("reasons", "defaulted"))

    @property
    def _position_columns(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c in ("partition", "offset"))

    def rows(self, records: Iterable[BaseModel]) -> list[list[Any]]:
        """Values in column order (a frozen model's fields are read as they are, in C: a third
        of the time of a comprehension); as `copy_rows`."""
        return self.copy_rows(map(operator.itemgetter(*self.columns), (r.__dict__ for r in records)))

    def copy_rows(self, values: Iterable[Sequence[Any]]) -> list[list[Any]]:
        """Rows of values in column order as COPY takes them: tuples become arrays, a missing
        partition or offset (file sources) becomes -1."""
        arrays, positions = self._array_columns, self._position_columns
        out = []
        for value in values:
            row = list(value)
            for i in arrays:
                row[i] = list(row[i])
            for i in positions:
                if row[i] is None:
                    row[i] = -1
            out.append(row)
        return out


_PREDICTIONS = _Table("predictions_latest", tuple(Prediction.model_fields), KEY, True, "predictions_log")
_GRADES = _Table("grades", tuple(Grade.model_fields), KEY, True)
_DEAD = _Table(
    "dead_letters",
    ("source", "partition", "offset", "rows", "reason", "detail", "original", "preview", "size", "sha256"),
    ("source", "partition", "offset"),
    False,
)
_TABLES: dict[type[BaseModel], _Table] = {Prediction: _PREDICTIONS, Grade: _GRADES}


def _letter_rows(letters: DeadLetters) -> list[list[Any]]:
    """Dead letters' rows, straight from their columns: one per key, the last (as `_dedupe`
    keeps; a re-delivered input's letter is the same letter)."""
    columns = letters.columns
    key = operator.itemgetter(*range(len(_DEAD.key)))  # the key's columns come first
    latest = {key(values): values for values in zip(*(columns[c] for c in _DEAD.columns), strict=True)}
    return _DEAD.copy_rows(latest.values())


_Write = tuple[_Table, list[list[Any]], bool]  # a table, its rows, whether any withdraws


def _writes(records: Sequence[Item]) -> list[_Write]:
    """What a batch writes, table by table: records one per identity (`_dedupe`), dead letters
    straight from their columns (`_letter_rows`)."""
    by_type: dict[type[BaseModel], list[BaseModel]] = {}
    letters: list[DeadLetter | DeadLetters] = []
    for record in records:
        if isinstance(record, DeadLetter | DeadLetters):
            letters.append(record)
        elif type(record) in _TABLES:
            by_type.setdefault(type(record), []).append(record)
        else:
            raise SinkError(f"PostgresSink cannot write {type(record).__name__}")
    writes: list[_Write] = []
    for kind, items in by_type.items():
        spec = _TABLES[kind]
        kept = _dedupe(spec, items)
        withdraws = bool(spec.log_table) and any(getattr(r, "withdrawn", False) for r in kept)
        writes.append((spec, spec.rows(kept), withdraws))
    if letters:
        writes.append((_DEAD, _letter_rows(DeadLetters.gather(letters)), False))
    return writes


def _updates(spec: _Table, key: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in spec.columns if c not in key
    )


def _newer_content(spec: _Table) -> sql.Composable:
    """The staged row says something new (any column but the emit time differs) and was
    emitted no earlier: a re-delivered older batch never undoes a correction, and writing the
    same rows again (a window replay over a worker's database) changes nothing."""
    content = [sql.Identifier(c) for c in spec.columns if c != "emitted_at"]
    return sql.SQL(
        "({old}) IS DISTINCT FROM ({new}) "
        "AND coalesce(EXCLUDED.emitted_at, '-infinity') >= coalesce(t.emitted_at, '-infinity')"
    ).format(
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in content),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in content),
    )


def _version(record: BaseModel) -> tuple[datetime, datetime]:
    """Newer wins: later `as_of`; at the same `as_of` (a correction by an older, late event)
    the later emission, which within a run always holds the more complete state."""
    emitted = getattr(record, "emitted_at", None) or _NEVER
    return (record.as_of, emitted)  # type: ignore[attr-defined]


def _dedupe(spec: _Table, records: Iterable[BaseModel]) -> list[BaseModel]:
    """One record per identity: predictions by id (the log keeps each), others by key with
    the newest `as_of` (ties: the last)."""
    identity = operator.itemgetter(*(("prediction_id",) if spec.log_table else spec.key))
    latest: dict[Any, BaseModel] = {}
    for record in records:
        k = identity(record.__dict__)  # a frozen record's fields, read in C
        held = latest.get(k)
        if held is None or not spec.monotonic or _version(record) >= _version(held):
            latest[k] = record
    return list(latest.values())


@functools.cache
def _statements(spec: _Table) -> tuple[sql.Identifier, sql.Composed, sql.Composed]:
    """A table's staging table, its COPY and its upsert, composed once (not for every batch)."""
    stage = sql.Identifier(f"stage_{spec.table}")
    columns = sql.SQL(", ").join(map(sql.Identifier, spec.columns))
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, columns)
    return stage, copy, _upsert(spec, stage, columns)


def _upsert(spec: _Table, stage: sql.Composable, columns: sql.Composable) -> sql.Composed:
    """The one statement that applies a staged batch. Monotonic tables keep the newest row
    per key; dead letters keep the first. Predictions write the log in the same statement
    (a data-modifying CTE): the log keeps one row per prediction id, a correction (same id,
    new content, a later emission) replaces it, and the same content written again changes
    nothing."""
    key = sql.SQL(", ").join(map(sql.Identifier, spec.key))
    table = sql.Identifier(spec.table)
    if not spec.monotonic:
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING").format(
            table, columns, columns, stage, key
        )
    log: sql.Composable = sql.SQL("")
    if spec.log_table:
        log = sql.SQL(
            "WITH logged AS (INSERT INTO {log} AS t ({columns}) SELECT {columns} FROM {stage} "
            "ON CONFLICT (prediction_id) DO UPDATE SET {updates} WHERE {newer}) "
        ).format(
            log=sql.Identifier(spec.log_table),
            columns=columns,
            stage=stage,
            updates=_updates(spec, ("prediction_id",)),
            newer=_newer_content(spec),
        )
    return sql.SQL(
        "{log}INSERT INTO {table} AS t ({columns}) "
        "SELECT DISTINCT ON ({key}) {columns} FROM {stage} {current} "
        "ORDER BY {key}, as_of DESC, emitted_at DESC NULLS LAST, prediction_id DESC "
        "ON CONFLICT ({key}) DO UPDATE SET {updates} "
        "WHERE EXCLUDED.as_of > t.as_of OR (EXCLUDED.as_of = t.as_of AND {newer})"
    ).format(
        log=log,
        table=table,
        columns=columns,
        key=key,
        stage=stage,
        current=sql.SQL("WHERE NOT withdrawn" if spec.log_table else ""),
        updates=_updates(spec, spec.key),
        newer=_newer_content(spec),
    )


class PostgresSink(Sink):
    """Writes predictions (latest and log), grades and dead letters; one transaction a batch."""

    accepts = (Prediction, Grade, DeadLetter, DeadLetters)
    pacing = "thread"  # a commit waits on the server's disk: the flow goes on meanwhile

    def __init__(
        self,
        dsn: str,
        retry_for_s: float = 60.0,
        max_backoff_s: float = 2.0,
        *,
        wait: bool = False,
        stop: Callable[[], bool] | None = None,
        commit_every_s: float = 0.0,
    ) -> None:
        """`wait`: beyond `retry_for_s` keep retrying (the flow stops reading: backpressure),
        with a log line and the `propstream_sink_waiting` gauge, instead of raising. `stop` is
        asked between retries: once it says yes, `SinkStopped`. `commit_every_s`: the least
        time between two transactions' starts when the flow drives the sink on its thread (a
        live worker committed a transaction every few line moves: docs/operations.md)."""
        if retry_for_s < 0:
            raise ValueError(f"retry_for_s must be >= 0, got {retry_for_s}")
        if commit_every_s < 0:
            raise ValueError(f"commit_every_s must be >= 0, got {commit_every_s}")
        self.write_every_s = commit_every_s
        self._dsn = dsn
        self._retry_for_s = retry_for_s
        self._max_backoff_s = max_backoff_s
        self._conn: psycopg.Connection[Any] | None = None
        self._types: dict[str, list[str]] = {}
        # a table's COPY and upsert rendered for the connection: psycopg renders a composed
        # statement at every execute (6% of a core in a live worker's writer thread)
        self._rendered: dict[str, tuple[bytes, bytes]] = {}
        self.batches = 0
        self.retries = 0
        self._wait = wait
        self._backpressure = Backpressure("postgres", logger, stop)

    def setup(self) -> None:
        self._connection()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, connect_timeout=5, application_name="propstream-sink")
            for spec in (*_TABLES.values(), _DEAD):
                self._conn.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) "
                        "ON COMMIT DELETE ROWS"
                    ).format(sql.Identifier(f"stage_{spec.table}"), sql.Identifier(spec.table))
                )
                self._types[spec.table] = self._column_types(self._conn, spec)
                _, copy, upsert = _statements(spec)
                self._rendered[spec.table] = (copy.as_bytes(self._conn), upsert.as_bytes(self._conn))
            self._conn.commit()
        return self._conn

    @staticmethod
    def _column_types(conn: psycopg.Connection[Any], spec: _Table) -> list[str]:
        """Postgres type names of the columns, for binary COPY."""
        query = (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        )
        types = dict(conn.execute(query, (spec.table,)).fetchall())
        return [types[c] for c in spec.columns]

    def write_batch(self, records: Sequence[Item]) -> None:
        writes = _writes(records)  # each table's rows, once: a retry writes the same
        n = sum(len(rows) for _, rows, _ in writes)
        deadline = time.monotonic() + self._retry_for_s
        delay = 0.1
        while True:
            try:
                conn = self._connection()
                with conn.transaction():
                    for spec, rows, withdraws in writes:
                        self._write(conn, spec, rows, withdraws=withdraws)
                self.batches += 1
                self._back()
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.close()
                if time.monotonic() + delay > deadline:
                    self._beyond_retry(exc, n)  # raises, or waits on (backpressure)
                self._backpressure.check_stop(n, f"PostgreSQL unreachable: {exc}")
                self.retries += 1
                logger.warning("PostgreSQL write failed (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)

    def _beyond_retry(self, exc: Exception, n: int) -> None:
        """The server has been away longer than the retry window: fail the batch, or (`wait`)
        hold it and so the input, saying so once a minute and in the gauge."""
        if not self._wait:
            raise SinkError(
                f"PostgreSQL unreachable for {self._retry_for_s:.0f}s ({exc}); the batch of "
                f"{n} records was not written"
            ) from exc
        self._backpressure.hold(
            f"PostgreSQL unreachable beyond the {self._retry_for_s:.0f}s retry window ({exc}): holding "
            f"{n} records and the input (backpressure) until it returns"
        )

    def _back(self) -> None:
        self._backpressure.released("PostgreSQL is back")

    def _write(
        self, conn: psycopg.Connection[Any], spec: _Table, rows: list[list[Any]], *, withdraws: bool
    ) -> None:
        copy_statement, upsert = self._rendered[spec.table]
        with conn.cursor() as cur, cur.copy(copy_statement) as copy:
            copy.set_types(self._types[spec.table])
            for row in rows:
                copy.write_row(row)
        if withdraws:
            self._withdraw(conn, _statements(spec)[0])  # before the upsert: one statement cannot see it
        conn.execute(upsert)

    @staticmethod
    def _withdraw(conn: psycopg.Connection[Any], stage: sql.Identifier) -> None:
        """A withdrawn prediction leaves the latest table and the grades (its log row stays,
        marked); the prediction it had displaced comes next in the same batch."""
        for table in ("predictions_latest", "grades"):
            conn.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE prediction_id IN (SELECT prediction_id FROM {} WHERE withdrawn)"
                ).format(sql.Identifier(table), stage)
            )

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
