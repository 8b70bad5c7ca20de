"""One player's box-score history and the features it gives as of a target game.

History is kept sorted by game date with prefix sums per statistic, so a box score that
arrives late (an earlier game) is inserted in place and every window "before game G" is
read in O(1) per statistic. A game of G's date or later is never read for G: the as-of rule
is a bisect on dates, whatever order box scores came in.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime

from features.schema import OK, PLAYER_FEATURES, STATS, default
from vocabulary.events import BoxScore

__all__ = ["EWM_ALPHA", "REST_CAP_DAYS", "GameLog", "PlayerHistory", "season_of"]

REST_CAP_DAYS = 10  # rest beyond this is reported as REST_CAP_DAYS with long_break = 1
EWM_ALPHA = 0.3  # weights (1 - alpha)^j over the last 10 games, j = 0 for the latest
EWM_GAMES = 10
WINDOWS_OR_SEASON = (3, 5, 10, 0)  # last n games; 0 stands for season to date
_EWM_WEIGHTS = tuple((1 - EWM_ALPHA) ** j for j in range(EWM_GAMES))
_NAN = math.nan
PTS, MIN = STATS.index("pts"), STATS.index("min")
if len(PLAYER_FEATURES) != len(STATS) * len(WINDOWS_OR_SEASON) + 8:
    raise RuntimeError("PlayerHistory.features is out of step with PLAYER_FEATURES")


def season_of(day: date) -> int:
    """The NBA season a date belongs to, by its starting year (2025-11-01 -> 2025)."""
    return day.year if day.month >= 8 else day.year - 1


def usage(box: BoxScore) -> float:
    """A usage proxy: possessions a player ends, FGA + 0.44 FTA + TOV."""
    return box.fga + 0.44 * box.fta + box.turnovers


def _compact(x: float) -> float | int:
    return int(x) if x.is_integer() else x


@dataclass(frozen=True, slots=True)
class GameLog:
    game_date: date
    team: str
    ts: datetime
    stats: tuple[float, ...]  # in STATS order

    @classmethod
    def of(cls, box: BoxScore) -> GameLog:
        stats = (
            float(box.points),
            box.minutes,
            float(box.fga),
            float(box.fta),
            float(box.fg3a),
            usage(box),
            float(box.rebounds),
            float(box.assists),
            float(box.fg3m),
            float(box.blocks),
            float(box.steals),
        )
        return cls(box.game_date, box.team, box.ts, stats)

    def sort_key(self) -> tuple[datetime, str, tuple[float, ...]]:
        return (self.ts, self.team, self.stats)


class PlayerHistory:
    """Games a player played (minutes > 0), by date. Bounded: `expire` drops old games."""

    __slots__ = ("_cache", "_dates", "_logs", "_prefix")

    def __init__(self) -> None:
        self._logs: list[GameLog] = []
        self._dates: list[date] = []
        self._prefix: list[tuple[float, ...]] = [(0.0,) * len(STATS)]
        self._cache: dict[tuple[date, str, str], tuple[list[float], list[str], int, datetime | None]] = {}

    def __len__(self) -> int:
        return len(self._logs)

    def __getstate__(self) -> tuple[tuple[int, str, float, tuple[float | int, ...]], ...]:
        """Only the games are state, as plain tuples (pickling 25k slotted records took 0.66 s
        a snapshot, plain tuples a tenth of it); dates, prefix sums and the cache are derived.
        Whole-number stats (counts: most of them) are pickled as ints, a third of a float's bytes."""
        return tuple(
            (g.game_date.toordinal(), g.team, g.ts.timestamp(), tuple(_compact(x) for x in g.stats))
            for g in self._logs
        )

    def __setstate__(self, state: tuple[tuple[int, str, float, tuple[float | int, ...]], ...]) -> None:
        logs = [
            GameLog(date.fromordinal(day), team, datetime.fromtimestamp(ts, UTC), tuple(map(float, stats)))
            for day, team, ts, stats in state
        ]
        self._logs = logs
        self._dates = [log.game_date for log in logs]
        self._prefix = [(0.0,) * len(STATS)] + [()] * len(logs)
        self._cache = {}
        self._refresh_prefix(0)

    def copy(self) -> PlayerHistory:
        """An independent copy (the game records themselves are immutable and shared)."""
        clone = PlayerHistory.__new__(PlayerHistory)
        clone._logs, clone._dates, clone._prefix = list(self._logs), list(self._dates), list(self._prefix)
        clone._cache = {}
        return clone

    def expires(self, before: date) -> bool:
        """Whether `expire(before)` would drop anything."""
        return bool(self._dates) and self._dates[0] < before

    def add(self, box: BoxScore) -> bool:
        """Record a box score; True if the history changed. A re-sent game keeps the version
        with the later event time (ties broken by content), so the result is order-free."""
        if box.minutes <= 0:
            return False
        log = GameLog.of(box)
        i = bisect_left(self._dates, log.game_date)
        if i < len(self._dates) and self._dates[i] == log.game_date:
            if log.sort_key() <= self._logs[i].sort_key():
                return False
            self._logs[i] = log
        else:
            self._logs.insert(i, log)
            self._dates.insert(i, log.game_date)
            self._prefix.append(self._prefix[-1])
        self._refresh_prefix(i)
        self._cache.clear()
        return True

    def _refresh_prefix(self, start: int) -> None:
        prefix = self._prefix
        for j in range(start, len(self._logs)):
            prev, stats = prefix[j], self._logs[j].stats
            prefix[j + 1] = tuple(a + b for a, b in zip(prev, stats, strict=True))

    def expire(self, before: date) -> int:
        """Drop games before `before`; returns how many. Prefix sums restart from zero."""
        cut = bisect_left(self._dates, before)
        if cut:
            del self._logs[:cut]
            del self._dates[:cut]
            self._prefix = [(0.0,) * len(STATS)] + [()] * len(self._logs)
            self._refresh_prefix(0)
            self._cache.clear()
        return cut

    def features(
        self, game_date: date, home_team: str, away_team: str
    ) -> tuple[list[float], list[str], int, datetime | None]:
        """Values and provenance in PLAYER_FEATURES order, the games before `game_date`, and the
        newest event time among their box scores (None without any)."""
        key = (game_date, home_team, away_team)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._compute(game_date, home_team, away_team)
        values, provenance, games, as_of = cached
        return list(values), list(provenance), games, as_of

    def _compute(
        self, game_date: date, home_team: str, away_team: str
    ) -> tuple[list[float], list[str], int, datetime | None]:
        k = bisect_left(self._dates, game_date)
        season_start = bisect_left(self._dates, date(season_of(game_date), 8, 1), 0, k)
        values: list[float] = []
        provenance: list[str] = []
        self._window_means(k, season_start, values, provenance)
        self._recent_form(k, values, provenance)
        values.append(float(k - season_start))
        provenance.append(OK)
        self._rest_and_side(k, (game_date, home_team, away_team), values, provenance)
        return values, provenance, k, max((log.ts for log in self._logs[:k]), default=None)

    def _window_means(self, k: int, season_start: int, values: list[float], provenance: list[str]) -> None:
        prefix = self._prefix
        for s in range(len(STATS)):
            for n in WINDOWS_OR_SEASON:
                first = season_start if n == 0 else max(0, k - n)
                count = k - first
                if count:
                    values.append((prefix[k][s] - prefix[first][s]) / count)
                    provenance.append(OK)
                else:
                    values.append(_NAN)
                    provenance.append(default("no_history" if k == 0 else "no_season_games"))

    def _recent_form(self, k: int, values: list[float], provenance: list[str]) -> None:
        """Points spread and exponentially weighted points and minutes over the last games."""
        recent = self._logs[max(0, k - EWM_GAMES) : k]
        points = [log.stats[PTS] for log in recent]
        if len(points) >= 2:
            mean = sum(points) / len(points)
            values.append(math.sqrt(sum((p - mean) ** 2 for p in points) / (len(points) - 1)))
            provenance.append(OK)
        else:
            values.append(_NAN)
            provenance.append(default("no_history" if k == 0 else "short_history"))
        weights = _EWM_WEIGHTS[: len(recent)]
        for s in (PTS, MIN):
            if recent:
                latest_first = [log.stats[s] for log in reversed(recent)]
                values.append(sum(w * x for w, x in zip(weights, latest_first, strict=True)) / sum(weights))
                provenance.append(OK)
            else:
                values.append(_NAN)
                provenance.append(default("no_history"))

    def _rest_and_side(
        self, k: int, game: tuple[date, str, str], values: list[float], provenance: list[str]
    ) -> None:
        """Rest days (capped, with a long-break flag), back-to-back, and home or away."""
        if not k:
            values += [_NAN] * 4
            provenance += [default("no_history")] * 4
            return
        game_date, home_team, away_team = game
        last = self._logs[k - 1]
        rest = (game_date - last.game_date).days
        values += [float(min(rest, REST_CAP_DAYS)), float(rest > REST_CAP_DAYS), float(rest == 1)]
        provenance += [OK, OK, OK]
        if last.team in (home_team, away_team):
            values.append(float(last.team == home_team))
            provenance.append(OK)
        else:
            values.append(_NAN)
            provenance.append(default("team_not_in_game"))

    def last_date_before(self, game_date: date) -> date | None:
        """The date of the player's last game before `game_date`."""
        k = bisect_left(self._dates, game_date)
        return self._dates[k - 1] if k else None

    def team_before(self, game_date: date) -> str | None:
        """The player's team in his last game before `game_date`."""
        k = bisect_left(self._dates, game_date)
        return self._logs[k - 1].team if k else None
