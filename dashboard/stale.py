"""The slate's stale flag: each book's quote marked by the health report's rule
(`monitoring.coverage.is_stale`: its game not yet tipped off, the quote older than the
configured age) at the moment the slate shows: now, or the as-of moment. Tip-offs come from the
games topic's newest message per game: a game's tip-off is known whatever moment is shown
(the shipped schedule, like a box-score feed, says it once, when the game is final)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from monitoring.coverage import Schedule, is_stale
from monitoring.report import games_schedule

__all__ = ["StaleQuotes"]

_SCHEDULE_TTL_S = 30.0


class StaleQuotes:
    """Reads a day's schedule at most once in `_SCHEDULE_TTL_S`: a slate load must not read the
    games topic each time, nor wait each time for a broker that does not answer (then nothing
    is stale: the tip-offs are unknown)."""

    def __init__(self, bootstrap: str | None, games_topic: str, stale_after: timedelta) -> None:
        self.bootstrap, self.games_topic, self.stale_after = bootstrap, games_topic, stale_after
        self._schedules: dict[date, tuple[float, Schedule]] = {}

    def _schedule(self, day: date) -> Schedule:
        at = time.monotonic()
        for key in [k for k, (read, _) in self._schedules.items() if at - read > _SCHEDULE_TTL_S]:
            del self._schedules[key]
        if day not in self._schedules:
            self._schedules[day] = (at, games_schedule(self.bootstrap, self.games_topic, day) or {})
        return self._schedules[day][1]

    def mark(self, rows: list[dict[str, Any]], day: date, moment: datetime | None) -> None:
        """Set `stale` on each row (a prediction of `day`) as at `moment` (default: now)."""
        games = self._schedule(day)
        now = moment or datetime.now(UTC)
        for row in rows:
            tipoff = games.get(row["game_key"], (None, ""))[0]
            row["stale"] = is_stale(row["as_of"], tipoff, now, self.stale_after)
