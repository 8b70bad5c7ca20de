"""What the settings make of a run: the active models and the sinks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from cli.settings import Settings
from connectors.kafka import KafkaRecordSink
from connectors.parquet import ParquetSink
from connectors.postgres import PostgresSink
from connectors.sinks import Sink
from flows import stopping
from scoring.model import Registry
from scoring.scorer import Scorer, Version
from vocabulary.events import DeadLetter
from vocabulary.records import Grade, Prediction

__all__ = ["scorers", "sink_factories"]


def scorers(settings: Settings) -> list[Scorer]:
    """The active models of every configured market, market by market, champion first (each
    refuses a mismatched feature schema or market), each with every version in the registry,
    each version through the calibration stage saved beside it (the identity when there is
    none): a quote is scored by the version active at its as_of."""
    registry = Registry(settings.models_dir)
    out = []
    for market in settings.markets:
        models = settings.models_of(market)
        names = [settings.champion, *sorted(n for n in models if n != settings.champion)]
        out += [
            Scorer.of_versions([Version(m, c) for m, c in registry.versions(name, market)]) for name in names
        ]
    return out


def sink_factories(
    settings: Settings, *, parquet: Path | None, postgres: bool, kafka: bool
) -> list[Callable[[], Sink]]:
    """The run's sinks. Each asks `flows.stopping` between the retries of a write its
    destination refuses: a SIGTERM ends that wait (`SinkStopped`, flows/outputs.py)."""
    factories: list[Callable[[], Sink]] = []
    stop = stopping.requested
    # the output topics first: a worker runs its outputs in this order, one after the other,
    # and live readers (the dashboard) should not wait for the Postgres transaction
    if kafka:
        topics: dict[type[BaseModel], str] = {
            Prediction: settings.topic("predictions"),
            Grade: settings.topic("grades"),
            DeadLetter: settings.topic("dlq"),
        }
        factories.append(
            lambda: KafkaRecordSink(
                settings.kafka_bootstrap,
                topics,
                partitions=settings.partitions,
                retry_for_s=settings.kafka_retry_s,
                wait=settings.kafka_outage == "wait",
                stop=stop,
            )
        )
    if parquet is not None:
        wait_for_room = settings.parquet_disk_full == "wait"
        factories.append(lambda: ParquetSink(parquet, wait=wait_for_room, stop=stop))
    if postgres:
        dsn = settings.postgres_dsn.get_secret_value()
        wait = settings.postgres_outage == "wait"
        factories.append(
            lambda: PostgresSink(
                dsn,
                retry_for_s=settings.postgres_retry_s,
                wait=wait,
                stop=stop,
                commit_every_s=settings.postgres_commit_interval_s,
            )
        )
    return factories
