"""The prop timeline read back from a prediction log: opens, moves, rescorings, grades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dashboard.timeline import timeline

T0 = datetime(2025, 11, 10, 17, tzinfo=UTC)


def _row(book: str, minute: int, line: float, over: float = -110.0, mean: float = 20.0) -> dict[str, object]:
    return {
        "book": book,
        "as_of": T0 + timedelta(minutes=minute),
        "line": line,
        "over_price": over,
        "under_price": -110.0,
        "mean": mean,
        "sigma": 5.0,
    }


def test_a_log_reads_back_as_opens_moves_rescorings_and_grades() -> None:
    history = [
        _row("fanduel", 0, 24.5),
        _row("draftkings", 0, 24.5),
        _row("fanduel", 10, 24.5, mean=21.0),  # a box score rescored both books at minute 10
        _row("draftkings", 10, 24.5, mean=21.0),
        _row("fanduel", 20, 25.5, over=-120.0),  # the line moved
        _row("draftkings", 30, 24.5, over=-125.0),  # the price alone moved
    ]
    grades = [
        {
            "book": "fanduel",
            "line": 25.5,
            "actual": 27.0,
            "result": "WIN",
            "recommendation": "OVER",
            "profit": 0.83,
        }
    ]
    entries = timeline(history, grades)
    assert [(e.kind, e.books) for e in entries] == [
        ("opened", ("draftkings",)),
        ("opened", ("fanduel",)),
        ("rescored", ("draftkings", "fanduel")),
        ("line_move", ("fanduel",)),
        ("line_move", ("draftkings",)),
        ("graded", ("fanduel",)),
    ]
    assert entries[3].detail == "line 24.5 → 25.5 (o -120 / u -110)"
    assert entries[4].detail == "line 24.5 (o -125 / u -110)"
    assert entries[2].detail.startswith("mean 21.00")
    assert entries[5].at is None and entries[5].detail.startswith("WIN · actual 27 vs line 25.5")


quotes = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.sampled_from([24.5, 25.5]), st.sampled_from([-110.0, -120.0])
    ),
    max_size=30,
)


@given(quotes)
def test_every_logged_row_is_accounted_for_once_in_time_order(
    sequence: list[tuple[str, float, float]],
) -> None:
    history = [_row(book, minute, line, over) for minute, (book, line, over) in enumerate(sequence)]
    entries = timeline(history, [])
    last: dict[str, tuple[float, float]] = {}
    opens = moves = unchanged = 0
    for book, line, over in sequence:
        held = last.get(book)
        opens += held is None
        moves += held is not None and held != (line, over)
        unchanged += held == (line, over)
        last[book] = (line, over)
    kinds = [e.kind for e in entries]
    assert kinds.count("opened") == opens == len(last)
    assert kinds.count("line_move") == moves
    assert sum(len(e.books) for e in entries if e.kind == "rescored") == unchanged  # one row a minute here
    times = [e.at for e in entries]
    assert times == sorted(times)  # type: ignore[type-var]
