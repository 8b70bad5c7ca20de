"""One team's results, and its form (points allowed, a pace proxy) before a date."""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import date, datetime

__all__ = ["TEAM_WINDOW", "TeamResults"]

TEAM_WINDOW = 10


class TeamResults:
    """Final scores of one team's games by date: (points scored, points allowed)."""

    __slots__ = ("_dates", "_scores", "_times", "_versions")

    def __init__(self) -> None:
        self._dates: list[date] = []
        self._scores: list[tuple[int, int]] = []
        self._times: list[datetime] = []
        self._versions: list[tuple[object, ...]] = []

    def __len__(self) -> int:
        return len(self._dates)

    def add(self, game_date: date, scored: int, allowed: int, version: tuple[datetime, int, int]) -> bool:
        """Record a result. A game re-sent keeps its newest version, (event time, home points,
        away points): the same rule for both teams and for the router, so it is order-free."""
        i = bisect_left(self._dates, game_date)
        if i < len(self._dates) and self._dates[i] == game_date:
            if version <= self._versions[i]:
                return False
            self._scores[i], self._times[i], self._versions[i] = (scored, allowed), version[0], version
            return True
        self._dates.insert(i, game_date)
        self._scores.insert(i, (scored, allowed))
        self._times.insert(i, version[0])
        self._versions.insert(i, version)
        return True

    def copy(self) -> TeamResults:
        """An independent copy (its entries are immutable and shared)."""
        clone = TeamResults()
        clone._dates, clone._scores = list(self._dates), list(self._scores)
        clone._times, clone._versions = list(self._times), list(self._versions)
        return clone

    def expires(self, before: date) -> bool:
        """Whether `expire(before)` would drop anything."""
        return bool(self._dates) and self._dates[0] < before

    def form(self, before: date) -> tuple[float, float, datetime | None]:
        """Mean points allowed and mean combined points (a pace proxy) over the last
        TEAM_WINDOW games before `before` (NaN when there are none), and their newest time."""
        k = bisect_left(self._dates, before)
        recent = self._scores[max(0, k - TEAM_WINDOW) : k]
        if not recent:
            return math.nan, math.nan, None
        allowed = sum(a for _, a in recent) / len(recent)
        pace = sum(s + a for s, a in recent) / len(recent)
        return allowed, pace, max(self._times[max(0, k - TEAM_WINDOW) : k])

    def last_date_before(self, before: date) -> date | None:
        """The date of the team's last result before `before`."""
        k = bisect_left(self._dates, before)
        return self._dates[k - 1] if k else None

    def expire(self, before: date) -> int:
        cut = bisect_left(self._dates, before)
        del self._dates[:cut]
        del self._scores[:cut]
        del self._times[:cut]
        del self._versions[:cut]
        return cut
