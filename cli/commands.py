"""The dataflow commands: `replay` (files or Kafka), `worker` and the `demo`."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time as time_module
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from prometheus_client import start_http_server
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import evaluation_tables, health
from cli.settings import Settings
from cli.wiring import scorers, sink_factories
from connectors.adapters import Record, read_records
from connectors.files import DataLayout
from connectors.inputs import FileReader
from connectors.kafka import ensure_topics
from connectors.kafka_input import KafkaReader, Start, shard_partitions
from connectors.parquet import read_grades, read_latest
from connectors.postgres import migrate
from features.identity import PlayerDirectory
from flows import stopping
from flows.dataflow import OpenReader, ShardSource, build_flow
from flows.run import Cluster, Flow, RunCounts, counts, execute
from scoring.engine import Engine
from scoring.evaluate import make_model
from scoring.grading import performance
from scoring.model import Registry
from scoring.training import build_training_set
from vocabulary.events import BoxScore
from vocabulary.markets import MARKETS
from vocabulary.records import Grade
from vocabulary.topics import INPUT_TOPICS, OUTPUT_TOPICS
from vocabulary.window import WINDOW_HELP, Window

__all__ = ["add_flow_commands", "demo", "replay", "worker"]

logger = logging.getLogger("propstream")
DEMO_START = date(2025, 10, 21)


def add_flow_commands(commands: argparse._SubParsersAction, add_data: object) -> None:  # type: ignore[type-arg]
    def cluster_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-w", "--workers", type=int, default=1, metavar="N", help="worker threads per process")
        p.add_argument("-i", "--process-id", type=int, default=0, metavar="I", help="this process's index")
        p.add_argument(
            "-n",
            "--processes",
            type=int,
            default=1,
            metavar="N",
            help="the number of processes dividing the work (each started with its own -i); they "
            "share nothing and may run on other machines",
        )
        p.add_argument("--recovery-dir", type=Path, metavar="DIR", help="Bytewax recovery store (snapshots)")
        p.add_argument(
            "--metrics-port", type=int, metavar="PORT", help="Prometheus metrics on 127.0.0.1:PORT"
        )

    replay_p = commands.add_parser(
        "replay",
        help="run the dataflow over history: the input topics (backfill) or the data files",
        description="Replay history through the same dataflow the worker runs. --source kafka reads the "
        "input topics from their beginning to their end when the run started, every partition merged "
        "into timestamp order as a live worker received them, and writes Postgres and Parquet "
        "(--no-postgres: Parquet alone); --source files feeds the data folder's rows with no broker "
        "and writes Parquet (add --postgres for the database too). --from/--to select what is "
        "written: exactly the rows a run over all history writes with as_of in the window "
        "(predictions, the log and grades); everything before --from is read first to build the "
        "state, and nothing stamped outside the window is written. " + WINDOW_HELP,
    )
    replay_p.add_argument("--source", choices=["kafka", "files"], default="kafka")
    add_window_flags(replay_p)
    replay_p.add_argument("--parquet", type=Path, metavar="DIR", help="Parquet output (default out/replay)")
    replay_p.add_argument(
        "--postgres",
        action=argparse.BooleanOptionalAction,
        help="also write Postgres (the default for --source kafka; --no-postgres: Parquet alone)",
    )
    add_data(replay_p)  # type: ignore[operator]
    cluster_flags(replay_p)

    worker_p = commands.add_parser(
        "worker",
        help="the always-on stream worker (Kafka in, Postgres + Kafka out)",
        description="Consume the input topics forever, writing predictions, grades and dead letters to "
        "Postgres and the output topics. Every input partition is read through one consumer in "
        "timestamp order (a backlog is caught up in event-time order); the player directory is learned "
        "from the box-score topic, so no data folder is read. Offsets live in the recovery "
        "store (--recovery-dir, default out/recovery): a restart resumes there; a first start "
        "begins at PROPSTREAM_START_AT (earliest or latest).",
    )
    worker_p.add_argument("--start-at", choices=["earliest", "latest"], help="first start only")
    cluster_flags(worker_p)


def add_window_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="start", metavar="WHEN", help="a US game date or an ISO time with zone"
    )
    parser.add_argument("--to", dest="end", metavar="WHEN", help="inclusive: a US game date or an ISO time")


def window_of(args: argparse.Namespace) -> Window:
    """The run's window from --from/--to (`WindowError`, one line, when they are not valid)."""
    return Window.parse(args.start, args.end)


def run_flow(flow: Flow, settings: Settings, cluster: Cluster) -> None:
    """Serve the metrics if asked, then run the flow with the settings' recovery store."""
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
        logger.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    execute(flow, cluster, recovery_dir=settings.recovery_dir, epoch_s=settings.snapshot_interval_s)


def _cluster(args: argparse.Namespace) -> Cluster:
    return Cluster(workers=args.workers, process=args.process_id, processes=args.processes)


def _of_process(settings: Settings, cluster: Cluster) -> Settings:
    """The settings with this process's own recovery store (`Cluster.store`)."""
    return settings.model_copy(update={"recovery_dir": cluster.store(settings.recovery_dir)})


def _source(
    settings: Settings,
    cluster: Cluster,
    open_reader: OpenReader,
    window: Window,
    progress: Callable[[int], None] | None,
) -> ShardSource:
    """The shards of the run: one per worker of the cluster, each with its engine."""
    models = scorers(settings)
    return ShardSource(
        open_reader,
        lambda: Engine(models, settings.retention_days),
        shards=cluster.shards,
        local=cluster.local_shards,
        window=window,
        checkpoints=settings.recovery_dir,
        progress=progress,
        future_tolerance_s=settings.future_tolerance_s,
        progress_every_s=settings.progress_interval_s,
    )


def _kafka_reader(
    settings: Settings, *, tail: bool, start: Start = "earliest", group: str | None = None
) -> OpenReader:
    """Readers of the input topics; with `group` (the worker's), they commit their offsets there."""
    topics = {t: settings.topic(t) for t in INPUT_TOPICS}
    bootstrap = settings.kafka_bootstrap

    def open_reader(shard: int, shards: int, positions: Any) -> KafkaReader:
        parts = shard_partitions(bootstrap, topics, shard, shards)
        return KafkaReader(bootstrap, topics, parts, start=start, tail=tail, positions=positions, group=group)

    shard_partitions(bootstrap, topics, 0, 1)  # a missing topic fails here, with a clear message
    return open_reader


def _print_counts(console: Console, run: RunCounts) -> None:
    table = Table(title="Events")
    table.add_column("")
    table.add_column("count", justify="right")
    for topic, n in sorted(run.events_in.items()):
        table.add_row(f"in: {topic}", f"{n:,}")
    table.add_row("applied", f"{sum(run.applied.values()):,}")
    for reason, n in sorted(run.dead_letters.items()):
        table.add_row(f"dead-lettered: {reason}", f"{n:,}")
    table.add_row("predictions out", f"{run.predictions:,}")
    table.add_row("grades out", f"{run.grades:,}")
    console.print(table)
    verdict = "reconcile" if run.reconciles else "DO NOT reconcile"
    console.print(
        f"events in {sum(run.events_in.values()):,} = applied {sum(run.applied.values()):,} "
        f"+ dead-lettered {sum(run.dead_letters.values()):,}: counts {verdict}"
    )


def _graded_summary(console: Console, parquet: Path) -> None:
    frame = read_grades(parquet)
    if frame.is_empty():
        console.print("no grades yet")
        return
    # only the grades the figures use become records (a replay's every grade was 0.4 CPU-s,
    # paid by each process of a cluster)
    outside = frame.filter(~pl.col("in_sample").fill_null(False)).drop("emitted_at", strict=False)
    grades = [Grade.model_validate(row) for row in outside.iter_rows(named=True)]
    if len(grades) < (every := frame.height):
        console.print(
            f"{every - len(grades):,} of {every:,} grades are in-sample (their game lies inside "
            "the training window of the model version that made them): left out of the figures below"
        )
    markets = [m for m in MARKETS if any(g.market == m for g in grades)]
    rows = [
        (f"{market} {model}" if len(markets) > 1 else model, performance(of_market[model]))
        for market in markets
        for of_market in [_by_model(g for g in grades if g.market == market)]
        for model in sorted(of_market)
    ]
    console.print(
        evaluation_tables.performance_table(
            "Graded (latest prediction before tip-off, per market and model; mkt: the market's own)", rows
        )
    )


def _by_model(grades: Iterable[Grade]) -> dict[str, list[Grade]]:
    out: dict[str, list[Grade]] = {}
    for g in grades:
        out.setdefault(g.model, []).append(g)
    return out


def _run_files(
    console: Console,
    settings: Settings,
    cluster: Cluster,
    window: Window,
    *,
    records: Sequence[Record],
    parquet: Path,
    postgres: bool,
) -> RunCounts:
    topics = {t: settings.topic(t) for t in INPUT_TOPICS}
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    before = counts()
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("replay", total=len(records))

        def open_reader(shard: int, shards: int, position: Any) -> FileReader:
            return FileReader(records, topics, shard=shard, shards=shards, position=position or 0)

        source = _source(settings, cluster, open_reader, window, lambda n: progress.advance(task, n))
        sinks = sink_factories(settings, parquet=parquet, postgres=postgres, kafka=False)
        run_flow(build_flow(source, sinks), settings, cluster)
    return counts(before)


def migrate_database(settings: Settings) -> list[int]:
    """Bring the schema up to date and grant the reader role (the dashboard's) SELECT."""
    reader = psycopg.conninfo.conninfo_to_dict(settings.postgres_reader_dsn.get_secret_value()).get("user")
    return migrate(settings.postgres_dsn.get_secret_value(), reader_role=str(reader) if reader else None)


def replay_writes_postgres(args: argparse.Namespace) -> bool:
    """--postgres/--no-postgres, else the source's default: a backfill from Kafka writes the
    database, a replay of the files does not."""
    return bool(args.source == "kafka" if args.postgres is None else args.postgres)


def replay(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    parquet = args.parquet or settings.output_dir / "replay"
    cluster = _cluster(args)
    settings = _of_process(settings, cluster)
    window = window_of(args)
    if window.bounded:
        console.print(f"writing rows with as_of from {window.describe()}; reading all history before it")
    postgres = replay_writes_postgres(args)
    if postgres:
        migrate_database(settings)
    if args.source == "files":
        records = read_records(DataLayout.discover(settings.data_dir))
        run = _run_files(
            console, settings, cluster, window, records=records, parquet=parquet, postgres=postgres
        )
    else:
        source = _source(settings, cluster, _kafka_reader(settings, tail=False), window, None)
        sinks = sink_factories(settings, parquet=parquet, postgres=postgres, kafka=False)
        before, started = counts(), time_module.perf_counter()
        run_flow(build_flow(source, sinks), settings, cluster)
        run, elapsed = counts(before), time_module.perf_counter() - started
        events = sum(run.events_in.values())
        console.print(f"replayed {events:,} events in {elapsed:.2f} s ({events / elapsed:,.0f} events/s)")
    _print_counts(console, run)
    if cluster.processes > 1:
        # the others may still be writing the dataset: its figures would be of a part of it
        console.print(
            f"process {cluster.process} of {cluster.processes} done: the graded figures are "
            f"left out (the other processes may still write {parquet}); replay in one process to see them"
        )
    else:
        _graded_summary(console, parquet)
    return 0 if run.reconciles else 1


def worker(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    if settings.recovery_dir is None:
        settings = settings.model_copy(update={"recovery_dir": settings.output_dir / "recovery"})
    cluster = _cluster(args)
    settings = _of_process(settings, cluster)
    start = args.start_at or settings.start_at
    migrate_database(settings)
    topics = {t: settings.topic(t) for t in INPUT_TOPICS}
    logger.info(
        "worker starting: %s; first start at %s; recovery store %s; offsets committed under "
        "consumer group %s",
        ", ".join(topics.values()),
        start,
        settings.recovery_dir,
        settings.consumer_group,
    )
    outputs = [settings.topic(t) for t in OUTPUT_TOPICS]
    ensure_topics(settings.kafka_bootstrap, dict.fromkeys(outputs, settings.partitions))
    reader = _kafka_reader(settings, tail=True, start=start, group=settings.consumer_group)
    source = _source(settings, cluster, reader, Window(), None)
    sinks = sink_factories(settings, parquet=None, postgres=True, kafka=True)
    before = counts()
    # the coverage gauges the alert rules read (sums over targets): served by process 0 only
    coverage = bool(settings.metrics_port) and cluster.process == 0
    if coverage:
        stop_health = health.keep_publishing(
            settings.postgres_dsn.get_secret_value(),
            health.config(settings),
            settings.kafka_bootstrap,
            settings.health_interval_s,
        )
    run_flow(build_flow(source, sinks), settings, cluster)
    if coverage:
        stop_health.set()
    run = counts(before)
    logger.info(
        "worker stopped%s; its state and input positions are snapshotted in %s",
        f" on {stopping.received()}" if stopping.received() else "",
        settings.recovery_dir,
    )
    _print_counts(console, run)
    return 0 if run.reconciles else 1


def demo(console: Console, settings: Settings, records: Sequence[Record]) -> int:
    """Train every configured market's models on the games before the 2025-26 season (nothing
    they will be graded on), replay the shipped 2025-26 data of every market through the
    dataflow from files, print counts and the graded summary per market and model beside the
    market's own figures."""
    out = settings.output_dir / "demo"
    shutil.rmtree(out, ignore_errors=True)
    models = out / "models"
    settings = settings.model_copy(update={"models_dir": models})
    events = [r.event for r in records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    with console.status("training the models on games before 2025-10-21 through the feature store"):
        data, _ = build_training_set(events, directory)
        history = data.before(DEMO_START)
        for market in settings.markets:
            for name, kind in settings.models_of(market).items():
                model, catboost_model = make_model(
                    name,
                    kind,
                    history.for_market(market),
                    created_at=datetime.combine(DEMO_START, time(), UTC),
                )
                Registry(models).save(catboost_model, model.meta)
    trained = "; ".join(
        f"{market}: " + ", ".join(f"{n} ({k})" for n, k in settings.models_of(market).items())
        for market in settings.markets
    )
    console.print(f"trained on {len(history):,} player-games before {DEMO_START}: {trained}")
    run = _run_files(
        console,
        settings,
        Cluster(),
        Window.parse(DEMO_START.isoformat(), None),
        records=records,
        parquet=out / "parquet",
        postgres=False,
    )
    _print_counts(console, run)
    _graded_summary(console, out / "parquet")
    console.print(f"Parquet output: {out / 'parquet'} (read it with connectors.parquet.read_latest)")
    _dashboard_hint(console, out / "parquet")
    return 0 if run.reconciles else 1


def _dashboard_hint(console: Console, parquet: Path) -> None:
    """How to open the dashboard on what the demo just wrote (it reads PostgreSQL)."""
    latest = read_latest(parquet)
    if latest.is_empty():
        return
    last_day = str(latest["game_date"].max())
    exe = sys.argv[0] if Path(sys.argv[0]).name == "propstream" else "propstream"
    console.print(
        "\n[bold]See this run in the dashboard[/bold] (it reads PostgreSQL; `make services` starts one):\n"
        f"  make services\n  {exe} db import {parquet}\n  {exe} dashboard\n"
        f"  then open http://127.0.0.1:8050/?date={last_day}",
        highlight=False,
    )
