"""`propstream <command>`: the entry points. Settings come from PROPSTREAM_* env vars, then flags."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pydantic import ValidationError
from pydantic_settings import SettingsError as PydanticSettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import commands, evaluation_figures, evaluation_page, evaluation_tables, health, report
from cli.errors import UsageError, explain, preflight, settings_error
from cli.logs import configure
from cli.parser import build_parser
from cli.settings import Settings
from connectors.adapters import Record, read_records
from connectors.exceptions import DataLayoutError
from connectors.files import DataLayout
from connectors.kafka import Publisher, ensure_topics
from connectors.loader import Loader, Pacer
from connectors.parquet import log_files, read_latest, read_log
from connectors.postgres import MigrationError, PostgresSink, code_schema_version
from features.identity import PlayerDirectory
from features.store import FeatureStore
from monitoring.coverage import SlateHealth, newest_day
from monitoring.report import slate_report
from scoring.evaluate import fit_stages, make_model, walk_forward
from scoring.model import Registry, start_of_day
from scoring.training import TrainingSet, build_training_set
from vocabulary.errors import PropstreamError
from vocabulary.events import BoxScore, InputEvent, us_game_date
from vocabulary.topics import INPUT_TOPICS
from vocabulary.window import Window, WindowError, parse_bound

__all__ = ["main"]

logger = logging.getLogger("propstream")


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each destination's flag (`kafka_bootstrap` → `--bootstrap`), over every subcommand."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings:
            flags.setdefault(action.dest, max(action.option_strings, key=len))
        for sub in (action.choices or {}).values() if isinstance(action.choices, dict) else ():
            for dest, flag in _flags(sub).items():
                flags.setdefault(dest, flag)
    return flags


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    fields = set(Settings.model_fields)
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    try:
        return Settings(**overrides)
    except (ValidationError, PydanticSettingsError) as exc:
        flags = _flags(parser)
        raise settings_error(exc, {k: flags.get(k, k) for k in overrides}) from exc


def _window_problem(start: object, end: object) -> str | None:
    if isinstance(start, str | None) and isinstance(end, str | None):  # a Window (replay)
        for flag, bound, is_end in (("--from", start, False), ("--to", end, True)):
            try:
                if bound:
                    parse_bound(bound, end=is_end)
            except WindowError as exc:
                return f"argument {flag}: {exc}"
        try:
            Window.parse(start, end)
        except WindowError as exc:
            return str(exc)
    elif isinstance(start, date) and isinstance(end, date) and start > end:  # game dates
        return f"--from {start} is after --to {end}: swap them"
    return None


def _check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A --from/--to that is not a window (not a date or zoned time, or --from after --to) is
    a usage error of one line, before anything starts."""
    problem = _window_problem(getattr(args, "start", None), getattr(args, "end", None))
    if problem:
        prog = f"{parser.prog} {args.command}"
        parser.exit(2, f"{prog}: error: {problem} (see {prog} --help)\n")


def _read(console: Console, settings: Settings) -> list[Record]:
    layout = DataLayout.discover(settings.data_dir)
    with console.status(f"reading {settings.data_dir}"):
        records = read_records(layout)
    logger.info("read %s records from %s", f"{len(records):,}", settings.data_dir)
    return records


def _demo(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = _read(console, settings)
    report.print_validation(console, records)
    report.print_identity(console, report.build_identity_report(records))
    return commands.demo(console, settings, records)


def _data_report(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = _read(console, settings)
    identity = report.build_identity_report(records)
    report.print_identity(console, identity, top=100)
    if args.json:
        report.write_json(args.json, identity)
        console.print(f"wrote {args.json}")
    return 0


def _load(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = _read(console, settings)
    topics = {name: settings.topic(name) for name in INPUT_TOPICS}
    ensure_topics(
        settings.kafka_bootstrap,
        {
            **{t: settings.partitions for t in topics.values()},
            settings.topic("dlq"): settings.partitions,
        },
    )
    pacer = Pacer(args.speed) if args.speed else None
    with Publisher(settings.kafka_bootstrap) as publisher:
        loader = Loader(publisher, topics, settings.topic("dlq"), Window.parse(args.start, args.end), pacer)
        columns = (
            TextColumn("publishing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            for record in progress.track(records, total=len(records)):
                loader.send(record)
    report.print_counts(console, loader.counts, topics)
    for reason, rows in sorted(loader.dead_letter_reasons.items()):
        console.print(f"  dead-lettered to {settings.topic('dlq')}: {rows:,} rows, reason {reason}")
    if not all(c.reconciles for c in loader.counts.values()):
        logger.error("counts do not reconcile")
        return 1
    return 0


def _events(console: Console, settings: Settings) -> tuple[list[InputEvent], PlayerDirectory]:
    events = [r.event for r in _read(console, settings) if r.event is not None]
    return events, PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))


def _train(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    events, directory = _events(console, settings)
    if not events:
        raise DataLayoutError(
            f"no events in {settings.data_dir}: nothing to train on; point --data at the data"
        )
    until = args.until or us_game_date(max(e.ts for e in events))
    active_from = args.active_from or start_of_day(until)
    with console.status("building the training set through the feature store"):
        history, store = build_training_set(events, directory)
    registry = Registry(settings.models_dir)
    for market in settings.markets:
        rows = history.for_market(market)
        data = rows.before(until)
        versions = {}
        for name, kind in settings.models_of(market).items():
            with console.status(f"training {market} {name} ({kind}) on {len(data):,} rows"):
                model, catboost_model = make_model(
                    name, kind, data, created_at=datetime.now(UTC), active_from=active_from
                )
            folder = registry.save(catboost_model, model.meta)
            versions[name] = model.meta.version
            logger.info("trained %s %s (%s) on %s rows: %s", market, name, kind, f"{len(data):,}", folder)
        _fit_stages(console, settings, registry, (rows, store, events), day=until, versions=versions)
    window = f"{data.game_dates.min()} → {data.game_dates.max()}"
    why = "--until" if args.until else "the date of the data's newest event; --until DATE to choose"
    console.print(
        f"trained on the games of {window} (before {until}: {why}); version "
        f"{model.meta.version}, active from {active_from.isoformat()}. A game of {window} graded with "
        "it is in-sample: marked in_sample and kept out of the performance figures."
    )
    return 0


def _fit_stages(
    console: Console,
    settings: Settings,
    registry: Registry,
    history: tuple[TrainingSet, FeatureStore, Sequence[InputEvent]],
    *,
    day: date,
    versions: dict[str, str],
) -> None:
    """Each model's calibration stage, fitted on the walk-forward record of the props before
    `day`, saved beside the version just trained (docs/model.md)."""
    data, store, events = history
    boxes = {(e.player_id, e.game_key): e for e in events if isinstance(e, BoxScore)}
    with console.status(f"fitting the {data.market} calibration stages on the graded props before {day}"):
        stages = fit_stages(data, store, boxes, settings.models_of(data.market), day)
    for name, stage in stages.items():
        registry.save_calibration(name, stage, data.market, versions[name])
        weights = ", ".join(f"{n} {w:+.3f}" for n, w in zip(stage.inputs, stage.weights, strict=True))
        logger.info(
            "stage of %s %s: %s graded props of %s days before %s; %s; min edge %s",
            data.market,
            name,
            f"{stage.rows:,}",
            stage.days,
            day,
            weights,
            stage.min_edge if stage.min_edge is not None else "none (no picks)",
        )


def _evaluate(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    events, directory = _events(console, settings)
    markets = list(settings.markets) if args.market == "all" else [args.market]
    command = (
        "propstream evaluate " + " ".join(sys.argv[2:])
        if sys.argv[1:2] == ["evaluate"]
        else "propstream evaluate"
    )
    started = time.monotonic()
    logger.info(
        "evaluate: building the training set through the feature store from %s events", f"{len(events):,}"
    )
    with console.status("building the training set through the feature store"):
        prepared = build_training_set(events, directory)
    logger.info(
        "evaluate: training set built in %.1f s; walk-forward by day follows", time.monotonic() - started
    )
    by_market: dict[str, dict[str, Any]] = {}
    for market in markets:
        kinds = settings.models_of(market)
        with console.status(f"walk-forward {market} {args.start} → {args.end} ({', '.join(kinds)})"):
            result = walk_forward(
                events,
                directory,
                (args.start, args.end),
                kinds,
                retrain_days=args.retrain_days,
                market=market,
                prepared=prepared,
            )
        by_market[market] = evaluation_figures.evaluation_json(result, settings.champion, command)
        console.rule(market)
        evaluation_tables.print_evaluation(console, by_market[market])
    payload = evaluation_figures.markets_json(by_market)
    if args.json:
        evaluation_figures.write_json(args.json, payload)
        console.print(f"wrote {args.json}")
    if args.html:
        evaluation_page.write_html(args.html, payload)
        console.print(f"wrote {args.html}")
    return 0


def _migrate(console: Console, settings: Settings, args: argparse.Namespace) -> int:
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


def _health(console: Console, settings: Settings, args: argparse.Namespace) -> int:
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


def _dashboard(console: Console, settings: Settings, args: argparse.Namespace) -> int:
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


def _import(console: Console, settings: Settings, args: argparse.Namespace) -> int:
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


COMMANDS = {
    "replay": commands.replay,
    "worker": commands.worker,
    "migrate": _migrate,
    "import": _import,
    "demo": _demo,
    "report": _data_report,
    "load": _load,
    "train": _train,
    "evaluate": _evaluate,
    "dashboard": _dashboard,
    "health": _health,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    _check_window(parser, args)
    console = Console(width=None if sys.stdout.isatty() else 150)
    configure(args.log_level or ("DEBUG" if args.debug else "INFO"), args.log_format or "text")
    settings: Settings | None = None
    try:
        settings = _settings(parser, args)
        configure(args.log_level or ("DEBUG" if args.debug else settings.log_level), settings.log_format)
        command: str = {"data": args.__dict__.get("data_command"), "db": args.__dict__.get("db_command")}.get(
            args.command
        ) or args.command
        preflight(command, args, settings)
        return COMMANDS[command](console, settings, args)
    except KeyboardInterrupt:
        logger.warning("interrupted")
        return 130
    except Exception as exc:
        message, code = explain(exc, settings)
        logger.error("%s", message, exc_info=exc if args.debug else None)
        return code


if __name__ == "__main__":
    sys.exit(main())
