"""The commands over PostgreSQL: `db migrate`, `db import` (a Parquet output folder through
the Postgres sink), `health` (the slate report printed as tables or JSON) and `dashboard`
(the web page on the read-only role)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import commands, health
from cli.errors import UsageError
from cli.settings import Settings
from connectors.parquet import log_files, read_latest, read_log
from connectors.postgres import MigrationError, PostgresSink, code_schema_version
from monitoring.coverage import SlateHealth, newest_day
from monitoring.report import slate_report
from vocabulary.errors import PropstreamError

__all__ = ["import_parquet", "migrate", "serve_dashboard", "slate_health"]

logger = logging.getLogger("propstream")


def migrate(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    try:
        applied = commands.migrate_database(settings)
    except psycopg.OperationalError as exc:
        raise MigrationError(f"cannot reach PostgreSQL ({exc}); is it running (make services)?") from exc
    if applied:
        console.print(f"applied migrations {applied}; schema version {code_schema_version()}")
    else:
        console.print(f"database already at schema version {code_schema_version()}: nothing to do")
    return 0


_NUMERIC = ("props", "predicted", "actionable", "graded", "games")


def _print_health(console: Console, report: SlateHealth) -> None:
    for title, headers, rows in health.tables(report):
        table = Table(title=title)
        for header in headers:
            table.add_column(header, justify="right" if header in _NUMERIC else "left")
        for row in rows:
            table.add_row(*row)
        if rows:
            console.print(table)
    if report.newest_event_by_topic:
        table = Table(title="Newest event by input topic (Kafka)")
        table.add_column("topic")
        table.add_column("newest event UTC")
        for topic, stamp in report.newest_event_by_topic.items():
            table.add_row(topic, (stamp or "empty")[:19].replace("T", " "))
        console.print(table)
    gaps = [g.game for g in report.games if g.grading_gap]
    uncovered = report.without_any_prediction
    console.print(
        f"{len(report.games)} games, {sum(g.props for g in report.games):,} props, "
        f"{sum(g.predicted for g in report.games):,} predicted by every model, "
        f"{sum(g.actionable for g in report.games):,} actionable; "
        f"games with props but no prediction: {', '.join(uncovered) or 'none'}; "
        f"games past the grading delay with ungraded props: {', '.join(gaps) or 'none'}"
    )
    if report.unattributed_dead_letters:
        console.print(
            "props dead letters naming no game: "
            + ", ".join(f"{r} {n}" for r, n in sorted(report.unattributed_dead_letters.items()))
        )


def _given(flag: float | None, setting: float) -> float:
    return setting if flag is None else flag


def slate_health(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    dsn = settings.postgres_dsn.get_secret_value()
    if args.day:
        try:
            day = date.fromisoformat(args.day)
        except ValueError:
            raise UsageError(f"--date {args.day!r} is not a date: give YYYY-MM-DD") from None
    else:
        newest = newest_day(dsn)
        if newest is None:
            console.print("no predictions in the database yet: nothing to report")
            return 1
        day = newest
    config = replace(
        health.config(settings),
        stale_after=timedelta(minutes=_given(args.stale_after_min, settings.stale_after_min)),
        grading_delay=timedelta(hours=_given(args.grading_delay_h, settings.grading_delay_h)),
    )
    report = slate_report(dsn, day, config, settings.kafka_bootstrap)
    if args.as_json:
        sys.stdout.write(report.as_json() + "\n")
        return 0
    _print_health(console, report)
    return 0


def serve_dashboard(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415  (the web stack loads only for this command)

    from dashboard.app import DashboardConfig, create_app  # noqa: PLC0415

    config = DashboardConfig(
        reader_dsn=settings.postgres_reader_dsn,
        kafka_bootstrap=None if args.no_live else settings.kafka_bootstrap,
        predictions_topic=settings.topic("predictions"),
        grades_topic=settings.topic("grades"),
        default_model=settings.champion,
        health=health.config(settings),
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("the dashboard is listening on %s: anyone who can reach it can read it", args.host)
    console.print(f"dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=3,
    )
    return 0


def import_parquet(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    root: Path = args.parquet
    if not (root / "predictions").is_dir():
        raise PropstreamError(f"{root} holds no predictions/ folder: is it a Parquet output folder?")
    commands.migrate_database(settings)
    sink = PostgresSink(settings.postgres_dsn.get_secret_value(), retry_for_s=settings.postgres_retry_s)
    sink.setup()
    written: dict[str, int] = {}
    files = len(log_files(root))
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task("files", total=files)
        for _, records in read_log(root):
            sink.write_batch(records)
            for record in records:
                written[type(record).__name__] = written.get(type(record).__name__, 0) + 1
            progress.advance(task)
    sink.close()
    with psycopg.connect(settings.postgres_dsn.get_secret_value()) as conn:
        ids = {row[0] for row in conn.execute("SELECT prediction_id FROM predictions_latest")}
    expected = set(read_latest(root)["prediction_id"].to_list())
    console.print(
        f"wrote {written.get('Prediction', 0):,} predictions, {written.get('Grade', 0):,} grades and "
        f"{written.get('DeadLetter', 0):,} dead letters from {files:,} files; predictions_latest holds "
        f"{len(ids):,} rows"
    )
    if ids != expected:
        logger.error("predictions_latest differs from the Parquet reader's %s rows", f"{len(expected):,}")
        return 1
    console.print("predictions_latest equals the Parquet reader's view: open it with `propstream dashboard`")
    return 0
