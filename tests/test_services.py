"""The services the project starts are the real ones, reachable with the settings' addresses."""

from __future__ import annotations

import psycopg
from confluent_kafka.admin import AdminClient

from cli.settings import Settings


def test_kafka_is_a_real_kraft_broker(kafka_bootstrap: str) -> None:
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert len(metadata.brokers) == 1
    assert metadata.cluster_id


def test_postgres_is_real_and_has_the_project_roles(postgres_dsn: str, settings: Settings) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) >= 150000
        conn.execute("CREATE TEMP TABLE probe (x int)")
        conn.execute("INSERT INTO probe VALUES (1)")
        row = conn.execute("SELECT count(*) FROM probe").fetchone()
        assert row == (1,)
    with psycopg.connect(settings.postgres_reader_dsn.get_secret_value()) as reader:
        assert reader.execute("SELECT current_user").fetchone() == ("propstream_reader",)
