"""Shared fixtures. Services are real and required: a missing service fails the run, never skips."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from hypothesis import settings as hypothesis_settings

from cli.logs import HANDLER_NAME
from cli.settings import SHIPPED_DATA, Settings
from connectors.adapters import Record, read_records
from connectors.files import DataLayout
from connectors.postgres import migrate
from features.identity import PlayerDirectory
from scoring.evaluate import make_model
from scoring.model import Registry
from scoring.scorer import Scorer
from scoring.training import TrainingSet, build_training_set
from tests.data_folders import make_day_folder
from tests.stack import cli_env
from vocabulary.events import BoxScore

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, its level and propstream's handler restored after each test: a
    command run in-process installs its handler on the stream pytest captured for that test,
    closed once the test ends (a later test's log line would print "Logging error ... I/O
    operation on closed file"). pytest's own handlers are left to pytest."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in [h for h in logger.handlers if h.get_name() == HANDLER_NAME and h not in handlers]:
        logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> str:
    try:
        metadata = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(timeout=15)
    except KafkaException as exc:
        pytest.fail(
            f"Kafka is not reachable at {settings.kafka_bootstrap} ({exc}). Start it with `make services` "
            f"(log: {REPO}/.services/kafka/kafka.log) or run `make test`.",
            pytrace=False,
        )
    assert metadata.brokers, "Kafka answered without brokers"
    return settings.kafka_bootstrap


@pytest.fixture(scope="session")
def postgres_dsn(settings: Settings) -> str:
    dsn = settings.postgres_dsn.get_secret_value()
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable ({exc}). Start it with `make services` or run `make test`.",
            pytrace=False,
        )
    return dsn


@pytest.fixture
def topic_prefix() -> str:
    """Fresh topic names for each test."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="session")
def shipped_records() -> list[Record]:
    return read_records(DataLayout.discover(SHIPPED_DATA))


@pytest.fixture
def day_folder(tmp_path: Path) -> Path:
    """One day of the shipped data (2025-11-01) in a folder laid out like data/."""
    return make_day_folder(tmp_path / "data")


@pytest.fixture
def salted_folder(tmp_path: Path) -> Path:
    """The same day with bad rows appended (see `tests.data_folders`)."""
    return make_day_folder(tmp_path / "salted", salt=True)


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[Message]:
    """Every message of `topic` from the beginning, once `expected` have arrived (or fail)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                if message.error():
                    raise KafkaException(message.error())
                messages.append(message)
        # anything beyond `expected` would be a bug: give it a moment to show up
        messages.extend(m for m in consumer.consume(num_messages=1000, timeout=0.5) if not m.error())
    finally:
        consumer.close()
    return messages


# Shared machines are noisy: no per-example deadline; more examples in CI.
hypothesis_settings.register_profile("default", deadline=None)
hypothesis_settings.register_profile("ci", deadline=None, max_examples=300)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def fresh_db(postgres_dsn: str, settings: Settings) -> Iterator[str]:
    """A new, migrated database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    reader = psycopg.conninfo.conninfo_to_dict(settings.postgres_reader_dsn.get_secret_value())["user"]
    migrate(dsn, reader_role=str(reader))
    yield dsn
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def history(shipped_records: list[Record]):  # type: ignore[no-untyped-def]
    """The shipped history through the feature store: (training set, final store, directory)."""
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, store = build_training_set(events, directory)
    return data, store, directory


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, history: tuple) -> Path:  # type: ignore[type-arg]
    """Small champion and shadow models in a registry (fast to train, real all the same)."""
    data: TrainingSet = history[0]
    root = tmp_path_factory.mktemp("models")
    for name, kind in (("champion", "sqrt_uncertainty"), ("shadow", "normal_uncertainty")):
        model, catboost_model = make_model(name, kind, data, {"iterations": 40})
        Registry(root).save(catboost_model, model.meta)
    return root


@pytest.fixture(scope="session")
def scorers(models_dir: Path) -> list[Scorer]:
    registry = Registry(models_dir)
    return [Scorer(registry.load("champion")), Scorer(registry.load("shadow"))]


@pytest.fixture
def stack(
    kafka_bootstrap: str, topic_prefix: str, postgres_dsn: str, models_dir: Path, tmp_path: Path
) -> dict[str, str]:
    """Environment for CLI subprocesses: fresh topics, the test models, an output folder."""
    return cli_env(kafka_bootstrap, topic_prefix, models_dir, tmp_path / "out")
