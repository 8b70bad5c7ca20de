"""Scratch PostgreSQL databases for benchmarks: created migrated, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from connectors.postgres import migrate

__all__ = ["scratch_database"]


@contextmanager
def scratch_database(admin_dsn: str) -> Iterator[str]:
    """A fresh database at the current schema, as a DSN; dropped on leaving, whatever happened."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
        migrate(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
