"""The commands over a data folder: `demo` (validation and identity first, then the flow
demo of cli/commands.py), `data report` and `load` (publish its rows to the input topics).
Each reads the folder through `read_data`, which `train` and `evaluate` share."""

from __future__ import annotations

import argparse
import logging

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli import commands, report
from cli.settings import Settings
from connectors.adapters import Record, read_records
from connectors.files import DataLayout
from connectors.kafka import Publisher, ensure_topics
from connectors.loader import Loader, Pacer
from vocabulary.topics import INPUT_TOPICS
from vocabulary.window import Window

__all__ = ["data_report", "demo", "load", "read_data"]

logger = logging.getLogger("propstream")


def read_data(console: Console, settings: Settings) -> list[Record]:
    """The data folder's rows as records, each an event or a dead letter with its reason."""
    layout = DataLayout.discover(settings.data_dir)
    with console.status(f"reading {settings.data_dir}"):
        records = read_records(layout)
    logger.info("read %s records from %s", f"{len(records):,}", settings.data_dir)
    return records


def demo(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = read_data(console, settings)
    report.print_validation(console, records)
    report.print_identity(console, report.build_identity_report(records))
    return commands.demo(console, settings, records)


def data_report(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = read_data(console, settings)
    identity = report.build_identity_report(records)
    report.print_identity(console, identity, top=100)
    if args.json:
        report.write_json(args.json, identity)
        console.print(f"wrote {args.json}")
    return 0


def load(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    records = read_data(console, settings)
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
