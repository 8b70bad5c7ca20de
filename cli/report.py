"""What the data commands print: validation counts and the identity report, as rich tables."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from cli.tables import compact_table
from connectors.adapters import Record
from connectors.loader import TopicCounts
from features.identity import IdentityReport, PlayerDirectory, identity_report
from vocabulary.events import BoxScore
from vocabulary.topics import INPUT_TOPICS

__all__ = [
    "build_identity_report",
    "print_counts",
    "print_identity",
    "print_validation",
    "write_json",
]


def build_identity_report(records: Sequence[Record]) -> IdentityReport:
    events = [r.event for r in records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    return identity_report(events, directory)


def print_validation(console: Console, records: Sequence[Record]) -> None:
    rows: Counter[str] = Counter()
    events: Counter[str] = Counter()
    dead: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    for r in records:
        rows[r.topic] += r.rows
        if r.event is not None:
            events[r.topic] += 1
        elif r.dead_letter is not None:
            dead[r.topic] += r.rows
            reasons[(r.topic, r.dead_letter.reason)] += r.rows
    table = compact_table("Validation of the data folder")
    for column in ("source", "rows read", "valid events", "rows dead-lettered"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for topic in INPUT_TOPICS:
        table.add_row(topic, f"{rows[topic]:,}", f"{events[topic]:,}", f"{dead[topic]:,}")
    console.print(table)
    for (topic, reason), n in sorted(reasons.items()):
        console.print(f"  dead-lettered: {n:,} {topic} rows, reason [bold]{reason}[/bold]")


def print_identity(console: Console, report: IdentityReport, top: int = 15) -> None:
    table = compact_table("Identity report")
    table.add_column("join")
    table.add_column("matched", justify="right")
    table.add_column("of", justify="right")
    table.add_column("rate", justify="right")
    for label, part, whole in (
        (
            "prop player-games whose name resolves",
            report.prop_player_games_resolved,
            report.prop_player_games,
        ),
        (
            "prop player-games matched to a box score",
            report.prop_player_games_matched,
            report.prop_player_games,
        ),
        ("odds games matched to the schedule", report.odds_games_in_schedule, report.odds_games),
        (
            "box-score games matched to the schedule",
            report.box_score_games_in_schedule,
            report.box_score_games,
        ),
    ):
        table.add_row(label, f"{part:,}", f"{whole:,}", f"{part / whole:.1%}" if whole else "-")
    console.print(table)
    console.print(
        f"Unresolved sportsbook names: {len(report.unresolved)} "
        f"(top {min(top, len(report.unresolved))}, by games with props):"
    )
    for name, games in report.unresolved[:top]:
        console.print(f"  {games:4d}  {name}")
    if report.unscheduled_games:
        console.print(f"Odds games not in the schedule: {', '.join(report.unscheduled_games)}")


def print_counts(console: Console, counts: Mapping[str, TopicCounts], topics: Mapping[str, str]) -> None:
    table = compact_table("Published")
    table.add_column("topic", overflow="fold")  # a long prefix wraps the name, never cuts it
    for column in ("rows", "events", "event rows", "dead", "skipped", "ok"):
        table.add_column(column, justify="right")
    for logical in INPUT_TOPICS:
        c = counts.get(logical, TopicCounts())
        table.add_row(
            topics[logical],
            f"{c.rows_read:,}",
            f"{c.events_published:,}",
            f"{c.rows_published:,}",
            f"{c.rows_dead_lettered:,}",
            f"{c.rows_outside_window:,}",
            "✓" if c.reconciles else "✗",
        )
    console.print(table)
    console.print("rows = event rows + dead (dead-lettered) + skipped (outside --from/--to)", style="dim")


def write_json(path: Path, report: IdentityReport) -> None:
    payload = asdict(report) | {
        "player_match_rate": report.player_match_rate,
        "player_resolve_rate": report.player_resolve_rate,
        "game_match_rate": report.game_match_rate,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
