"""A prop's event timeline, read back from its prediction log: when each book opened, every line
move, every rescoring by other news, and the grade.

The log holds what the model emitted, so the timeline is what the system saw and did, in event
time. A rescoring that touched several books at one moment (a box score, a game line) is one
entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["TimelineEntry", "timeline"]

Kind = Literal["opened", "line_move", "rescored", "graded"]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime | None  # event time; None for a grade (its event time is not recorded)
    kind: Kind
    books: tuple[str, ...]
    detail: str


def _quote(row: Mapping[str, Any]) -> tuple[float, float, float | None]:
    return (row["line"], row["over_price"], row["under_price"])


def _prices(row: Mapping[str, Any]) -> str:
    under = "—" if row["under_price"] is None else f"{row['under_price']:+.0f}"
    return f"o {row['over_price']:+.0f} / u {under}"


def timeline(
    history: Sequence[Mapping[str, Any]], grades: Iterable[Mapping[str, Any]]
) -> list[TimelineEntry]:
    """`history`: one model's log rows for a (player, game, market), ordered by as_of."""
    entries: list[TimelineEntry] = []
    last: dict[str, tuple[float, float, float | None]] = {}
    rescored: dict[datetime, list[Mapping[str, Any]]] = {}
    for row in history:
        book, quote = row["book"], _quote(row)
        held = last.get(book)
        last[book] = quote
        if held is None:
            entries.append(
                TimelineEntry(row["as_of"], "opened", (book,), f"line {row['line']:g} ({_prices(row)})")
            )
        elif held != quote:
            move = (
                f"line {held[0]:g} → {row['line']:g}" if held[0] != row["line"] else f"line {row['line']:g}"
            )
            entries.append(TimelineEntry(row["as_of"], "line_move", (book,), f"{move} ({_prices(row)})"))
        else:
            rescored.setdefault(row["as_of"], []).append(row)
    for at, rows in rescored.items():
        books = tuple(sorted({r["book"] for r in rows}))
        entries.append(
            TimelineEntry(at, "rescored", books, f"mean {rows[0]['mean']:.2f} (sigma {rows[0]['sigma']:.2f})")
        )
    entries.sort(key=lambda e: (e.at, e.kind, e.books))
    for g in sorted(grades, key=lambda g: g["book"]):
        actual = "no box score" if g["actual"] is None else f"actual {g['actual']:g}"
        detail = f"{g['result']} · {actual} vs line {g['line']:g} · {g['recommendation']}"
        entries.append(TimelineEntry(None, "graded", (g["book"],), f"{detail} · profit {g['profit']:+.2f}"))
    return entries
