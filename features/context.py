"""The betting context of one game: each book's latest game line, and what it says about a team."""

from __future__ import annotations

import math
import statistics
from datetime import datetime

from features.schema import GAME_FEATURES, OK, default
from vocabulary.events import GameLine, supersedes

__all__ = ["GameContext"]


class GameContext:
    """Game lines of one game by book, each the book's latest by event time."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: dict[str, GameLine] = {}

    def copy(self) -> GameContext:
        """An independent copy (the lines themselves are immutable and shared)."""
        clone = GameContext()
        clone.lines = dict(self.lines)
        return clone

    def apply(self, line: GameLine) -> bool:
        current = self.lines.get(line.book)
        if current is not None and not supersedes(line, current):
            return False
        self.lines[line.book] = line
        return True

    @property
    def as_of(self) -> datetime | None:
        return max((line.ts for line in self.lines.values()), default=None)

    def features(self, home_team: str, team: str | None) -> tuple[list[float], list[str]]:
        """Values and provenance in GAME_FEATURES order for a player of `team` (None: unknown).

        Game total and home spread are medians across books; the team's implied total is
        total / 2 - team_spread / 2 (a favourite's spread is negative)."""
        totals = [gl.total for gl in self.lines.values() if gl.total is not None]
        spreads = [gl.spread_home for gl in self.lines.values() if gl.spread_home is not None]
        total = statistics.median(totals) if totals else None
        home_spread = statistics.median(spreads) if spreads else None
        team_spread = None
        if home_spread is not None and team is not None:
            team_spread = home_spread if team == home_team else -home_spread
        implied = total / 2 - team_spread / 2 if total is not None and team_spread is not None else None
        no_lines = default("no_game_lines")
        values = [
            math.nan if total is None else total,
            math.nan if team_spread is None else team_spread,
            math.nan if implied is None else implied,
        ]
        provenance = [
            OK if total is not None else no_lines,
            OK if team_spread is not None else (no_lines if home_spread is None else default("team_unknown")),
            OK
            if implied is not None
            else (no_lines if total is None or home_spread is None else default("team_unknown")),
        ]
        return values, provenance


if len(GAME_FEATURES) != 3:
    raise RuntimeError("GameContext.features is out of step with GAME_FEATURES")
