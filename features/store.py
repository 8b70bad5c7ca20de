"""All feature state, applied event by event, and the as-of feature vector for a prop.

The store is the one implementation of the features: training runs history through it, the
dataflow keeps it per key, replays rebuild it. Applying an event returns the (player, game)
pairs whose vectors it changed, so the caller knows what to rescore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from features.context import GameContext
from features.history import PlayerHistory
from features.market import PropMarket
from features.schema import (
    BOOK_FEATURES,
    CONSENSUS_FEATURES,
    GAME_VECTOR_BOOK,
    MARKET_FEATURES,
    OK,
    FeatureVector,
    Target,
    default,
)
from features.team import TeamResults
from vocabulary.events import BoxScore, Game, GameLine, PropLine

__all__ = ["HISTORY_DAYS", "MARKET_IDLE_DAYS", "FeatureStore", "PlayerGame", "final_version"]

PlayerGame = tuple[int, str]

HISTORY_DAYS = 400  # box scores and team results older than this (about one season back) expire
MARKET_IDLE_DAYS = 3  # a game's markets and context expire this long after its date
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # as_of of a vector built from no event at all
_NO_HISTORY = PlayerHistory()  # read-only stand-in for a player never seen in a box score


def final_version(game: Game) -> tuple[datetime, int, int]:
    """Which of two versions of a final score wins: the newer, then the larger scores."""
    return (game.ts, game.home_points or 0, game.away_points or 0)


class _Game(NamedTuple):
    date: date
    home: str
    away: str


@dataclass
class FeatureStore:
    players: dict[int, PlayerHistory] = field(default_factory=dict)
    teams: dict[str, TeamResults] = field(default_factory=dict)
    games: dict[str, GameContext] = field(default_factory=dict)
    markets: dict[PlayerGame, PropMarket] = field(default_factory=dict)
    _by_player: dict[int, set[str]] = field(default_factory=dict)
    _by_game: dict[str, set[int]] = field(default_factory=dict)
    _by_team: dict[str, set[PlayerGame]] = field(default_factory=dict)

    # ------------------------------------------------------------------ events
    def apply_box_score(self, box: BoxScore) -> list[PlayerGame]:
        """A late box score of an earlier game changes the player's later open games."""
        history = self.players.get(box.player_id)
        if history is None:
            history = self.players[box.player_id] = PlayerHistory()
        if not history.add(box):
            return []
        return sorted(
            (box.player_id, key)
            for key in self._by_player.get(box.player_id, ())
            if self.markets[(box.player_id, key)].game_date > box.game_date
        )

    def apply_prop(self, player_id: int, prop: PropLine) -> bool:
        """True when the book's main line or its prices changed: rescore (player, game, book)."""
        key = (player_id, prop.game_key)
        market = self.markets.get(key)
        if market is None:
            market = self.markets[key] = PropMarket.of(prop)
            self._by_player.setdefault(player_id, set()).add(prop.game_key)
            self._by_game.setdefault(prop.game_key, set()).add(player_id)
            for team in (prop.home_team, prop.away_team):
                self._by_team.setdefault(team, set()).add(key)
        return market.apply(prop)

    def apply_game_line(self, line: GameLine) -> list[PlayerGame]:
        context = self.games.get(line.game_key)
        if context is None:
            context = self.games[line.game_key] = GameContext()
        if not context.apply(line):
            return []
        return sorted((player, line.game_key) for player in self._by_game.get(line.game_key, ()))

    def apply_game(self, game: Game) -> list[PlayerGame]:
        """A final score changes both teams' form, so every later open game involving them."""
        if game.status != "final" or game.home_points is None or game.away_points is None:
            return []
        version = final_version(game)
        changed = self._team(game.home_team).add(game.game_date, game.home_points, game.away_points, version)
        changed |= self._team(game.away_team).add(game.game_date, game.away_points, game.home_points, version)
        if not changed:
            return []
        affected = self._by_team.get(game.home_team, set()) | self._by_team.get(game.away_team, set())
        return sorted(pg for pg in affected if self.markets[pg].game_date > game.game_date)

    def _team(self, team: str) -> TeamResults:
        results = self.teams.get(team)
        if results is None:
            results = self.teams[team] = TeamResults()
        return results

    # ------------------------------------------------------------------ vectors
    def open_books(self, player_id: int, game_key: str) -> list[tuple[str, float]]:
        """(book, main line) of every book with a main line for the player's game."""
        market = self.markets.get((player_id, game_key))
        if market is None:
            return []
        return sorted((book, ladder.main.line) for book, ladder in market.books.items() if ladder.main)

    def vector(self, target: Target) -> FeatureVector:
        """The as-of vector for a quote the store holds (KeyError if it holds none)."""
        market = self.markets[(target.player_id, target.game_key)]
        ladder = market.books.get(target.book)
        if ladder is None or target.line not in ladder.quotes:
            raise KeyError(f"no quote for {target}")
        quote_ts = ladder.quotes[target.line][0]
        return self._vector(
            target, _Game(market.game_date, market.home_team, market.away_team), market, quote_ts
        )

    def game_vector(self, player_id: int, game_key: str, game: tuple[date, str, str]) -> FeatureVector:
        """The vector for a player's game with no particular book (training rows): book-specific
        market features default to `no_book`, consensus ones to `no_market` without props."""
        market = self.markets.get((player_id, game_key))
        return self._vector(
            Target(player_id, game_key, GAME_VECTOR_BOOK, math.nan), _Game(*game), market, None
        )

    def _vector(
        self, target: Target, game: _Game, market: PropMarket | None, quote_ts: datetime | None
    ) -> FeatureVector:
        history = self.players.get(target.player_id, _NO_HISTORY)
        values, provenance, games, history_ts = history.features(game.date, game.home, game.away)
        team = history.team_before(game.date)
        if team not in (game.home, game.away):
            team = None  # no history, or traded since his last game: his side is unknown
        times = [quote_ts, history_ts, *self._team_features(values, provenance, game, team)]
        if market is None:
            values += [math.nan] * len(MARKET_FEATURES)
            provenance += [default("no_book")] * len(BOOK_FEATURES)
            provenance += [default("no_market")] * len(CONSENSUS_FEATURES)
        elif target.book == GAME_VECTOR_BOOK:
            consensus_values, consensus_provenance = market.consensus()
            values += [math.nan] * len(BOOK_FEATURES) + consensus_values
            provenance += [default("no_book")] * len(BOOK_FEATURES) + consensus_provenance
        else:
            market_values, market_provenance = market.features(target.book, target.line)
            values += market_values
            provenance += market_provenance
        context = self.games.get(target.game_key)
        if context is not None:
            game_values, game_provenance = context.features(game.home, team)
            times.append(context.as_of)
        else:
            game_values, game_provenance = [math.nan] * 3, [default("no_game_lines")] * 3
        values += game_values
        provenance += game_provenance
        as_of = max((t for t in times if t is not None), default=_NEVER)
        return FeatureVector(target, tuple(values), tuple(provenance), games, as_of)

    def _team_features(
        self, values: list[float], provenance: list[str], game: _Game, team: str | None
    ) -> tuple[datetime | None, datetime | None]:
        """Appends the team features; returns the newest times of the results they used."""
        if team is None:
            values += [math.nan] * 3
            provenance += [default("team_unknown")] * 3
            return None, None
        opponent = game.away if team == game.home else game.home
        no_results = default("no_team_results")
        opp, own = self.teams.get(opponent), self.teams.get(team)
        allowed, opp_pace, opp_ts = opp.form(game.date) if opp else (math.nan, math.nan, None)
        _, team_pace, own_ts = own.form(game.date) if own else (math.nan, math.nan, None)
        for value in (allowed, opp_pace, team_pace):
            values.append(value)
            provenance.append(no_results if math.isnan(value) else OK)
        return opp_ts, own_ts

    # ------------------------------------------------------------------ lifetime
    def expire(self, today: date) -> int:
        """Drop what can no longer matter: markets and game contexts of games more than
        MARKET_IDLE_DAYS old, box scores and team results older than HISTORY_DAYS, and players
        and teams left empty. Returns the number of entries dropped."""
        dropped = 0
        market_cut = today - timedelta(days=MARKET_IDLE_DAYS)
        for key in [k for k, m in self.markets.items() if m.game_date < market_cut]:
            market = self.markets.pop(key)
            self._by_player[key[0]].discard(key[1])
            self._by_game[key[1]].discard(key[0])
            for team in (market.home_team, market.away_team):
                self._by_team[team].discard(key)
            dropped += 1
        for game_key in [g for g in self.games if date.fromisoformat(g[:8]) < market_cut]:
            del self.games[game_key]
            dropped += 1
        history_cut = today - timedelta(days=HISTORY_DAYS)
        for player_id in list(self.players):
            dropped += self.players[player_id].expire(history_cut)
            if not self.players[player_id]:
                del self.players[player_id]
        for team in list(self.teams):
            dropped += self.teams[team].expire(history_cut)
        for index in (self._by_player, self._by_game, self._by_team):
            _drop_empty(index)
        return dropped


def _drop_empty(index: dict[Any, set[Any]]) -> None:
    for key in [k for k, v in index.items() if not v]:
        del index[key]
