"""Routing game-level events to the players they concern (pure state; the dataflow keeps one).

Player state is keyed by player, but game lines and final scores are keyed by game. The router
learns which players have props in which game (membership) and forwards:

- a game line of G to every member of G;
- a final score of G to the members of G (for VOID grading) and to the members of every later
  game of either team (their opponent/team form);
- to a new member (P, G): G's stored lines and final, and the last TEAM_WINDOW finals of
  both of G's teams before G.

Every player thus ends up holding every game-level event its features can use, whatever the
arrival order, so the per-player feature state converges (features.store is order-free).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from features.store import final_version
from features.team import TEAM_WINDOW
from vocabulary.events import Game, GameLine

__all__ = ["GameRouter", "Membership"]

GameEvent = GameLine | Game
Routed = tuple[int, GameEvent | tuple[GameEvent, ...]]  # (player, what that player is sent)


@dataclass(frozen=True, slots=True)
class Membership:
    """Player P has a prop in game G (sent for every prop; the router keeps the first)."""

    player_id: int
    game_key: str
    game_date: date
    home_team: str
    away_team: str


@dataclass
class GameRouter:
    members: dict[str, set[int]] = field(default_factory=dict)
    games: dict[str, Membership] = field(default_factory=dict)  # game key -> its teams and date
    lines: dict[str, list[GameLine]] = field(default_factory=dict)
    finals: dict[str, Game] = field(default_factory=dict)
    team_games: dict[str, set[str]] = field(default_factory=dict)  # team -> game keys with members

    def route(self, item: Membership | GameEvent) -> list[Routed]:
        if isinstance(item, Membership):
            return self._join(item)
        if isinstance(item, GameLine):
            self.lines.setdefault(item.game_key, []).append(item)
            return [(p, item) for p in sorted(self.members.get(item.game_key, ()))]
        return self._final(item)

    def _join(self, m: Membership) -> list[Routed]:
        players = self.members.setdefault(m.game_key, set())
        if m.player_id in players:
            return []
        players.add(m.player_id)
        self.games.setdefault(m.game_key, m)
        for team in (m.home_team, m.away_team):
            self.team_games.setdefault(team, set()).add(m.game_key)
        events: list[GameEvent] = list(self.lines.get(m.game_key, ()))
        if m.game_key in self.finals:
            events.append(self.finals[m.game_key])
        for team in (m.home_team, m.away_team):
            earlier = sorted(
                (
                    g
                    for g in self.finals.values()
                    if team in (g.home_team, g.away_team) and g.game_date < m.game_date
                ),
                key=lambda g: g.game_date,
            )
            events += earlier[-TEAM_WINDOW:]
        # one batch: the player's engine applies them all, then rescores once
        return [(m.player_id, tuple(events))] if events else []

    def _final(self, game: Game) -> list[Routed]:
        if game.status != "final":
            return []
        held = self.finals.get(game.game_key)
        if held is not None and final_version(held) >= final_version(game):
            return []  # a re-send, or an older version: the newest wins whatever the order
        self.finals[game.game_key] = game
        targets = set(self.members.get(game.game_key, ()))
        for team in (game.home_team, game.away_team):
            for key in self.team_games.get(team, ()):
                if self.games[key].game_date > game.game_date:
                    targets |= self.members.get(key, set())
        return [(p, game) for p in sorted(targets)]
