"""`--from`/`--to`: one meaning in every command."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from vocabulary.window import Window, WindowError


def test_a_date_is_the_whole_us_eastern_day_and_both_ends_are_inclusive() -> None:
    window = Window.parse("2025-11-10", "2025-11-12")
    assert window.start == datetime(2025, 11, 10, 5, tzinfo=UTC)  # midnight EST
    assert datetime(2025, 11, 13, 4, 59, 59, tzinfo=UTC) in window  # 23:59:59 EST on the 12th
    assert datetime(2025, 11, 13, 5, tzinfo=UTC) not in window
    assert datetime(2025, 11, 10, 4, 59, tzinfo=UTC) not in window
    assert window.covers_day(date(2025, 11, 12)) and not window.covers_day(date(2025, 11, 13))


def test_an_explicit_time_is_itself_and_needs_a_zone() -> None:
    window = Window.parse("2025-11-10T17:00:00Z", "2025-11-10T18:00:00-05:00")
    assert datetime(2025, 11, 10, 17, tzinfo=UTC) in window
    assert datetime(2025, 11, 10, 23, tzinfo=UTC) in window  # 18:00 at -05:00, inclusive
    with pytest.raises(WindowError, match="no time zone"):
        Window.parse("2025-11-10T17:00:00", None)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-11-12", "2025-11-10", "--from 2025-11-12 is after --to 2025-11-10: swap them"),
        ("11/10/2025", None, "is neither a date"),
    ],
)
def test_bad_windows_are_one_line_errors(start: str, end: str | None, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        Window.parse(start, end)
