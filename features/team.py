"""One team's results, and its form (points allowed, a pace proxy) before a date."""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import date

__all__ = ["TEAM_WINDOW", "TeamResults"]

TEAM_WINDOW = 10


class TeamResults:
    """Final scores of one team's games by date: (points scored, points allowed)."""

    __slots__ = ("_dates", "_scores")

    def __init__(self) -> None:
        self._dates: list[date] = []
        self._scores: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._dates)

    def add(self, game_date: date, scored: int, allowed: int) -> bool:
        """Record a result; a game re-sent with other scores keeps the larger tuple (order-free)."""
        i = bisect_left(self._dates, game_date)
        if i < len(self._dates) and self._dates[i] == game_date:
            if (scored, allowed) <= self._scores[i]:
                return False
            self._scores[i] = (scored, allowed)
            return True
        self._dates.insert(i, game_date)
        self._scores.insert(i, (scored, allowed))
        return True

    def form(self, before: date) -> tuple[float, float]:
        """Mean points allowed and mean combined points (a pace proxy) over the last
        TEAM_WINDOW games before `before`; NaN when there are none."""
        k = bisect_left(self._dates, before)
        recent = self._scores[max(0, k - TEAM_WINDOW) : k]
        if not recent:
            return math.nan, math.nan
        allowed = sum(a for _, a in recent) / len(recent)
        pace = sum(s + a for s, a in recent) / len(recent)
        return allowed, pace

    def expire(self, before: date) -> int:
        cut = bisect_left(self._dates, before)
        del self._dates[:cut]
        del self._scores[:cut]
        return cut
