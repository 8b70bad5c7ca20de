"""`--from` / `--to`: one meaning in every command.

A bound is a US game date (`2025-11-10`: the whole day in US Eastern time, as nba.com and
the box scores date games) or an explicit ISO time with a zone (`2025-11-10T17:00:00Z`).
Both ends are inclusive: `--from 2025-11-10 --to 2025-11-12` is every event time from
2025-11-10 00:00 to 2025-11-12 24:00 US Eastern. A window selects by event time (`ts` of an
input, `as_of` of a prediction or grade); a window replay still reads everything before
`--from` to build its state, and writes only what falls inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vocabulary.events import US_EASTERN

__all__ = ["WINDOW_HELP", "Window", "WindowError", "parse_bound"]

_TICK = timedelta(microseconds=1)
WINDOW_HELP = (
    "--from/--to take a US game date (YYYY-MM-DD: the whole day in US Eastern time) or an ISO time "
    "with a zone (2025-11-10T17:00:00Z); both ends are inclusive."
)


class WindowError(ValueError):
    """A bound that is not a date or a zoned time, or a window that ends before it starts."""


def parse_bound(text: str, *, end: bool) -> datetime:
    """A bound as a UTC instant: a date's start (or, for `end`, its last microsecond) in US
    Eastern time, or the explicit time itself."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        midnight = datetime.combine(day + timedelta(days=1) if end else day, time(), US_EASTERN)
        return (midnight - _TICK if end else midnight).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(
            f"{text!r} is neither a date (YYYY-MM-DD, a US game date) nor an ISO time with a zone "
            "(2025-11-10T17:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise WindowError(f"{text!r} has no time zone: add Z (UTC) or an offset such as -05:00")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """Event times from `start` to `end`, both inclusive; None is unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise WindowError(
                f"--from {self.start.isoformat()} is after --to {self.end.isoformat()}: swap them"
            )

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window:
        first = parse_bound(start, end=False) if start else None
        last = parse_bound(end, end=True) if end else None
        if first is not None and last is not None and first > last:
            raise WindowError(f"--from {start} is after --to {end}: swap them")
        return cls(first, last)

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment <= self.end)

    def covers_day(self, day: date) -> bool:
        """Whether any moment of the US game date `day` falls in the window (for rows that
        only have a date)."""
        start = parse_bound(day.isoformat(), end=False)
        end = parse_bound(day.isoformat(), end=True)
        return (self.start is None or end >= self.start) and (self.end is None or start <= self.end)

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "the end"
        return f"{start} to {end}"
