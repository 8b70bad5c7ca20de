"""All feature state, applied event by event, and the as-of feature vector for a prop.

The store is the one implementation of the features: training runs history through it, the
dataflow keeps it per key, replays rebuild it. Applying an event returns the (player, game)
pairs whose vectors it changed, so the caller knows what to rescore.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from features.context import GameContext
from features.history import PlayerHistory
from features.market import PropMarket
from features.schema import (
    BOOK_FEATURES,
    CONSENSUS_FEATURES,
    GAME_VECTOR_BOOK,
    MARKET_FEATURES,
    OK,
    PLAYER_FEATURES,
    FeatureVector,
    Target,
    default,
)
from features.team import TeamResults
from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine

__all__ = ["HISTORY_DAYS", "Change", "FeatureStore", "PropKey", "final_version"]

PropKey = tuple[int, str, str]  # (player, game, market): one prop, every book's lines for it

K = TypeVar("K")
HISTORY_DAYS = 400  # box scores and team results older than this (about one season back) expire
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # as_of of a vector built from no event at all
_NO_HISTORY = PlayerHistory()  # read-only stand-in for a player never seen in a box score
_REST = tuple(PLAYER_FEATURES.index(n) for n in ("rest_days", "long_break", "back_to_back"))


def final_version(game: Game) -> tuple[datetime, int, int]:
    """Which of two versions of a final score wins: the newer, then the larger scores."""
    return (game.ts, game.home_points or 0, game.away_points or 0)


class _Game(NamedTuple):
    date: date
    home: str
    away: str


@dataclass(frozen=True, slots=True)
class Change:
    """What an event changed: one book's main quote of a prop, or (`book` None) every book of it."""

    prop: PropKey
    book: str | None = None


@dataclass(frozen=True, slots=True)
class MainQuote:
    """A book's main quote of a prop: what the engine scores."""

    target: Target
    over_price: float
    under_price: float | None


@dataclass
class FeatureStore:
    """Every player's history, every team's results, every game's lines and every prop's
    quotes. Two questions make its interface: `apply(event)` says which props changed, and
    `main_quotes` / `vector` give what to score for them."""

    players: dict[int, PlayerHistory] = field(default_factory=dict)
    teams: dict[str, TeamResults] = field(default_factory=dict)
    games: dict[str, GameContext] = field(default_factory=dict)
    markets: dict[PropKey, PropMarket] = field(default_factory=dict)
    _by_player: dict[int, set[PropKey]] = field(default_factory=dict)
    _by_team: dict[str, set[PropKey]] = field(default_factory=dict)
    _by_game: dict[str, set[PropKey]] = field(default_factory=dict)
    _shared: dict[str, set[Any]] = field(default_factory=dict)  # per table: entries a fork holds too

    # ------------------------------------------------------------------ events
    def apply(self, event: InputEvent, player_id: int | None = None) -> list[Change]:
        """Apply one event (a prop needs its resolved `player_id`); returns what it changed."""
        if isinstance(event, PropLine):
            if player_id is None:
                raise ValueError(f"a prop needs a resolved player id: {event.player_name!r}")
            return self._apply_prop(player_id, event)
        if isinstance(event, BoxScore):
            return self._apply_box_score(event)
        if isinstance(event, GameLine):
            return self._apply_game_line(event)
        return self._apply_game(event)

    def _apply_box_score(self, box: BoxScore) -> list[Change]:
        """A box score changes the player's later props (a late one: every later open prop)."""
        history = self._own_history(box.player_id)
        if not history.add(box):
            return []
        later = self._by_player.get(box.player_id, ())
        return [Change(k) for k in sorted(later) if self.markets[k].game_date > box.game_date]

    def _apply_prop(self, player_id: int, prop: PropLine) -> list[Change]:
        """The prop's book, when its main line or prices changed (the rescoring rule)."""
        key = (player_id, prop.game_key, prop.market)
        if key not in self.markets:
            self.markets[key] = PropMarket.of(prop)
            self._by_player.setdefault(player_id, set()).add(key)
            self._by_game.setdefault(prop.game_key, set()).add(key)
            for team in (prop.home_team, prop.away_team):
                self._by_team.setdefault(team, set()).add(key)
        market: PropMarket = self._owned("markets", key)
        return [Change(key, prop.book)] if market.apply(prop) else []

    def _apply_game_line(self, line: GameLine) -> list[Change]:
        if line.game_key not in self.games:
            self.games[line.game_key] = GameContext()
        if not self._owned("games", line.game_key).apply(line):
            return []
        return [Change(k) for k in sorted(self._by_game.get(line.game_key, ()))]

    def _apply_game(self, game: Game) -> list[Change]:
        """A final score changes both teams' form, so every later prop of their players."""
        if game.status != "final" or game.home_points is None or game.away_points is None:
            return []
        version = final_version(game)
        changed = self._team(game.home_team).add(game.game_date, game.home_points, game.away_points, version)
        changed |= self._team(game.away_team).add(game.game_date, game.away_points, game.home_points, version)
        if not changed:
            return []
        affected = self._by_team.get(game.home_team, set()) | self._by_team.get(game.away_team, set())
        return [Change(k) for k in sorted(affected) if self.markets[k].game_date > game.game_date]

    def _own_history(self, player_id: int) -> PlayerHistory:
        """The player's history, this store's own to change (a new one for a new player)."""
        if player_id not in self.players:
            self.players[player_id] = PlayerHistory()
        return self._owned("players", player_id)  # type: ignore[no-any-return]

    def _owned(self, table: str, key: Any) -> Any:
        """The entry of `table` at `key`, this store's own to change: copied first when a fork
        still shares it."""
        entries = self.__dict__[table]
        shared = self._shared.get(table)
        if shared and key in shared:
            entries[key] = _COPY[table](entries[key])
            shared.discard(key)
        return entries[key]

    def fork(self) -> FeatureStore:
        """A copy that shares every entry (a player's history, a team's results, a game's
        lines, a prop's market) with this store until one side changes it: each side copies
        an entry before its first change. What a rewind starts from, in about a millisecond
        where a pickled copy took 0.14 s (2026-11-27, the whole history then live moves)."""
        clone = FeatureStore(
            dict(self.players),
            dict(self.teams),
            dict(self.games),
            dict(self.markets),
            _copy_index(self._by_player),
            _copy_index(self._by_team),
            _copy_index(self._by_game),
        )
        for store in (self, clone):
            store._shared = {table: set(self.__dict__[table]) for table in _COPY}
        return clone

    def _team(self, team: str) -> TeamResults:
        if team not in self.teams:
            self.teams[team] = TeamResults()
        return self._owned("teams", team)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ vectors
    def main_quotes(self, change: Change) -> list[MainQuote]:
        """The main quote of the changed book, or of every book of the prop that has one."""
        player_id, game_key, market_name = change.prop
        market = self.markets[change.prop]
        books = sorted(market.books) if change.book is None else [change.book]
        out = []
        for book in books:
            main = market.books[book].main
            if main is not None:  # a withdrawn main line: nothing to score until it returns
                target = Target(player_id, game_key, book, main.line, market_name)
                out.append(MainQuote(target, main.over_price, main.under_price))
        return out

    def vector(self, target: Target) -> FeatureVector:
        """The as-of vector for a quote the store holds (KeyError if it holds none)."""
        market = self.markets[(target.player_id, target.game_key, target.market)]
        ladder = market.books.get(target.book)
        if ladder is None or target.line not in ladder.quotes:
            raise KeyError(f"no quote for {target}")
        quote_ts = ladder.quotes[target.line][0]
        return self._vector(
            target, _Game(market.game_date, market.home_team, market.away_team), market, quote_ts
        )

    def game_vector(
        self, player_id: int, game_key: str, game: tuple[date, str, str], market_name: str = "points"
    ) -> FeatureVector:
        """The vector for a player's game with no particular book (training rows): book-specific
        market features default to `no_book`, consensus ones to `no_market` without props."""
        market = self.markets.get((player_id, game_key, market_name))
        return self._vector(
            Target(player_id, game_key, GAME_VECTOR_BOOK, math.nan, market_name), _Game(*game), market, None
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
        if team is not None and self._missed_games(history, team, game.date):
            for i in _REST:
                values[i], provenance[i] = math.nan, default("missing_box_scores")
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

    def _missed_games(self, history: PlayerHistory, team: str, game_date: date) -> bool:
        """Whether the player's team has played since his last box score: a gap in the feed
        (or games he sat out) is not rest, so rest is defaulted rather than measured."""
        results = self.teams.get(team)
        last_team_game = results.last_date_before(game_date) if results else None
        last_game = history.last_date_before(game_date)
        return last_team_game is not None and last_game is not None and last_team_game > last_game

    # ------------------------------------------------------------------ lifetime
    def expire(self, games_before: date) -> int:
        """Drop what can no longer matter: props and game lines of games dated before
        `games_before`, box scores and team results more than HISTORY_DAYS older than that,
        and players and teams left empty. Returns the number of entries dropped."""
        dropped = 0
        for key in [k for k, m in self.markets.items() if m.game_date < games_before]:
            market = self.markets.pop(key)
            self._by_player[key[0]].discard(key)
            self._by_game[key[1]].discard(key)
            for team in (market.home_team, market.away_team):
                self._by_team[team].discard(key)
            dropped += 1
        for game_key in [g for g in self.games if date.fromisoformat(g[:8]) < games_before]:
            del self.games[game_key]
            dropped += 1
        history_cut = games_before - timedelta(days=HISTORY_DAYS)
        for player_id in list(self.players):
            if self.players[player_id].expires(history_cut):
                dropped += self._own_history(player_id).expire(history_cut)
            if not self.players[player_id]:
                del self.players[player_id]
        for team in list(self.teams):
            if self.teams[team].expires(history_cut):
                dropped += self._team(team).expire(history_cut)
            if not self.teams[team]:
                del self.teams[team]
        for index in (self._by_player, self._by_game, self._by_team):
            _drop_empty(index)
        return dropped


_COPY: dict[str, Callable[[Any], Any]] = {
    "players": PlayerHistory.copy,
    "teams": TeamResults.copy,
    "games": GameContext.copy,
    "markets": PropMarket.copy,
}


def _copy_index(index: dict[K, set[PropKey]]) -> dict[K, set[PropKey]]:
    return {key: set(props) for key, props in index.items()}


def _drop_empty(index: dict[Any, set[Any]]) -> None:
    for key in [k for k, v in index.items() if not v]:
        del index[key]
