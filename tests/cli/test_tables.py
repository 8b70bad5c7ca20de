"""Every table the CLI prints fits an 80-column terminal (`COLUMNS=80`) with season-sized
figures in it: its natural width is at most 80, so no cell is cut short or wrapped."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, Group
from rich.table import Table

from cli import commands, evaluation_tables, report
from cli.tables import WIDTH
from connectors.adapters import read_records
from connectors.files import DataLayout
from connectors.loader import TopicCounts
from flows.run import RunCounts
from scoring.grading import Performance
from vocabulary.topics import DEFAULT_NAMES, INPUT_TOPICS

PERF = Performance(
    n_graded=156_142,
    n_bets=140_123,
    hit_rate=0.5312,
    hit_rate_low=0.52,
    hit_rate_high=0.54,
    brier_model=0.2467,
    brier_market=0.2471,
    logloss_model=0.6861,
    logloss_market=0.6870,
    mae_model=15.213,
    mae_line=15.302,
    roi=-0.1312,
    profit=-1234.5,
)


class _Capture(Console):
    """An 80-column console that keeps every table it is asked to print."""

    def __init__(self) -> None:
        super().__init__(width=WIDTH, file=io.StringIO(), color_system=None)
        self.tables: list[Table] = []

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for o in objects:
            parts = o.renderables if isinstance(o, Group) else [o]
            self.tables += [p for p in parts if isinstance(p, Table)]
        super().print(*objects, **kwargs)


def _performance(console: Console) -> None:
    rows = [("champion", PERF), ("shadow", PERF), ("2025-11-10", PERF)]
    console.print(evaluation_tables.performance_table("Graded (latest prediction before tip-off)", rows))


def _published(console: Console) -> None:
    counts = {t: TopicCounts(1_234_567, 1_200_000, 1_200_000, 34_567, 0) for t in INPUT_TOPICS}
    report.print_counts(console, counts, {t: DEFAULT_NAMES[t] for t in INPUT_TOPICS})


def _events(console: Console) -> None:
    run = RunCounts(
        events_in={DEFAULT_NAMES[t]: 1_234_567 for t in INPUT_TOPICS},
        applied={DEFAULT_NAMES[t]: 1_200_000 for t in INPUT_TOPICS},
        dead_letters={"away_team:unknown_team": 11, "late:beyond_retention": 34_556},
        predictions=12_345_678,
        grades=1_234_567,
    )
    commands._print_counts(console, run)


def _check(draw: Callable[[Console], None]) -> str:
    console = _Capture()
    draw(console)
    assert console.tables, "printed no table"
    wide = Console(width=200)
    for table in console.tables:
        width = wide.measure(table).maximum
        assert width <= WIDTH, f"{table.title!r} needs {width} columns"
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text, text
    return text


@pytest.mark.parametrize(
    "draw", [_performance, _published, _events], ids=["performance", "published", "events"]
)
def test_table_fits_80_columns(draw: Callable[[Console], None]) -> None:
    _check(draw)


def test_abbreviated_headers_are_explained() -> None:
    text = _check(_performance)
    assert "hit: hit rate, LL: log-loss, mkt: the market's (de-vigged), line: line's MAE" in text


def test_data_tables_fit_80_columns(day_folder: Path) -> None:
    records = read_records(DataLayout.discover(day_folder))

    def draw(console: Console) -> None:
        report.print_validation(console, records)
        report.print_identity(console, report.build_identity_report(records))

    text = _check(draw)
    assert "Identity report" in text and "Validation of the data folder" in text
