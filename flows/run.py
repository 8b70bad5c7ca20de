"""Running the dataflow: the worker, the replays, and the summary a run prints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main
from prometheus_client import REGISTRY, start_http_server
from pydantic import BaseModel

from connectors.events import DeadLetter
from connectors.kafka import KafkaRecordSink
from connectors.parquet import ParquetSink
from connectors.postgres import PostgresSink
from connectors.records import Grade, Prediction
from connectors.sinks import Sink
from flows.settings import Settings
from scoring.model import Registry
from scoring.scorer import Scorer

__all__ = ["Cluster", "RunCounts", "counts", "execute", "scorers", "sink_factories"]

logger = logging.getLogger(__name__)


def scorers(settings: Settings) -> list[Scorer]:
    """The active models, champion first (each refuses a mismatched feature schema)."""
    registry = Registry(settings.models_dir)
    names = [settings.champion, *sorted(n for n in settings.models if n != settings.champion)]
    return [Scorer(registry.load(name)) for name in names]


def sink_factories(
    settings: Settings, *, parquet: Path | None, postgres: bool, kafka: bool
) -> list[Callable[[], Sink]]:
    factories: list[Callable[[], Sink]] = []
    if parquet is not None:
        factories.append(lambda: ParquetSink(parquet))
    if postgres:
        dsn = settings.postgres_dsn.get_secret_value()
        factories.append(lambda: PostgresSink(dsn, retry_for_s=settings.postgres_retry_s))
    if kafka:
        topics: dict[type[BaseModel], str] = {
            Prediction: settings.topic("predictions"),
            Grade: settings.topic("grades"),
            DeadLetter: settings.topic("dlq"),
        }
        factories.append(lambda: KafkaRecordSink(settings.kafka_bootstrap, topics))
    return factories


@dataclass(frozen=True)
class Cluster:
    """`-w` workers per process; with `-a` addresses, this is process `-i` of several."""

    workers: int = 1
    process: int = 0
    addresses: tuple[str, ...] = ()


def execute(flow: object, settings: Settings, cluster: Cluster) -> None:
    recovery = None
    if settings.recovery_dir is not None:
        directory = settings.recovery_dir
        if not any(directory.glob("*.sqlite3")):
            directory.mkdir(parents=True, exist_ok=True)
            partitions = max(1, cluster.workers * max(1, len(cluster.addresses)))
            init_db_dir(directory, partitions)
            logger.info("initialised the recovery store %s with %s partitions", directory, partitions)
        else:
            logger.info("resuming from the recovery store %s", directory)
        recovery = RecoveryConfig(
            str(directory), backup_interval=timedelta(seconds=settings.snapshot_interval_s)
        )
    epoch = timedelta(seconds=settings.snapshot_interval_s)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
        logger.info("metrics on http://127.0.0.1:%s/metrics", settings.metrics_port)
    if cluster.addresses or cluster.workers > 1:
        logger.info(
            "running %s worker(s) in process %s of %s",
            cluster.workers,
            cluster.process,
            max(1, len(cluster.addresses)),
        )
        cluster_main(
            flow,
            list(cluster.addresses),
            cluster.process,
            epoch_interval=epoch,  # type: ignore[arg-type]
            recovery_config=recovery,
            worker_count_per_proc=cluster.workers,
        )
    else:
        run_main(flow, epoch_interval=epoch, recovery_config=recovery)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunCounts:
    """What came in and what went out; `reconciles` is events in = applied + dead-lettered."""

    events_in: dict[str, int]
    applied: dict[str, int]
    dead_letters: dict[str, int]
    predictions: int
    grades: int

    @property
    def reconciles(self) -> bool:
        return sum(self.events_in.values()) == sum(self.applied.values()) + sum(self.dead_letters.values())


def _samples(name: str, label: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_total":
                out[sample.labels.get(label, "")] = out.get(sample.labels.get(label, ""), 0) + int(
                    sample.value
                )
    return out


def counts(before: RunCounts | None = None) -> RunCounts:
    """This process's counters (minus `before`, to count one run of several in a process)."""
    now = RunCounts(
        events_in=_samples("propstream_events_in", "topic"),
        applied=_samples("propstream_events_applied", "topic"),
        dead_letters=_samples("propstream_dead_letters", "reason"),
        predictions=_samples("propstream_records_out", "kind").get("prediction", 0),
        grades=_samples("propstream_records_out", "kind").get("grade", 0),
    )
    if before is None:
        return now

    def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

    return RunCounts(
        minus(now.events_in, before.events_in),
        minus(now.applied, before.applied),
        minus(now.dead_letters, before.dead_letters),
        now.predictions - before.predictions,
        now.grades - before.grades,
    )
