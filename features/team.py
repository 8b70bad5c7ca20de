"""One team's results, and its form (points allowed, a pace proxy) before a date."""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import date, datetime

__all__ = ["TEAM_WINDOW", "TeamResults"]

TEAM_WINDOW = 10


class TeamResults:
    """Final scores of one team's games by date: (points scored, points allowed)."""

    __slots__ = ("_dates", "_scores", "_times")

    def __init__(self) -> None:
        self._dates: list[date] = []
        self._scores: list[tuple[int, int]] = []
        self._times: list[datetime] = []

    def __len__(self) -> int:
        return len(self._dates)

    def add(self, game_date: date, scored: int, allowed: int, ts: datetime) -> bool:
        """Record a result; a game re-sent keeps the larger (scores, time) (order-free)."""
        i = bisect_left(self._dates, game_date)
        if i < len(self._dates) and self._dates[i] == game_date:
            if ((scored, allowed), ts) <= (self._scores[i], self._times[i]):
                return False
            self._scores[i], self._times[i] = (scored, allowed), ts
            return True
        self._dates.insert(i, game_date)
        self._scores.insert(i, (scored, allowed))
        self._times.insert(i, ts)
        return True

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

    def expire(self, before: date) -> int:
        cut = bisect_left(self._dates, before)
        del self._dates[:cut]
        del self._scores[:cut]
        del self._times[:cut]
        return cut
