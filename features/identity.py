"""Identity: sportsbook and nba.com spellings of players onto canonical keys, and its report.

Players are keyed by their nba.com id. The directory of ids and names comes from box scores
(nba.com's own spelling); a sportsbook name resolves through one normalisation (accents,
punctuation, generational suffixes, case) plus a short alias table for names books spell
differently. There is deliberately no fuzzy matching: on the shipped data every close match
it would add is a different person (Reed Sheppard is not Ben Sheppard).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.errors import UnknownPlayerError
from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine
from vocabulary.keys import canonical_player

__all__ = ["IdentityReport", "PlayerDirectory", "identity_report", "resolve_props"]


class PlayerDirectory:
    """nba.com players by canonical name (`vocabulary.keys.canonical_player`), learned from box
    scores. The dataflow learns it from the stream, and a prop resolves as of its own event
    time: to the players whose first box score is stamped no later than the prop. So the
    answer does not depend on arrival order. Training and the data report build it from a
    whole folder and resolve without a time."""

    __slots__ = ("_first", "_names")

    def __init__(self) -> None:
        self._first: dict[str, dict[int, datetime]] = {}  # name -> id -> first box-score time
        self._names: dict[int, tuple[datetime, str]] = {}  # id -> (time, spelling) of the newest

    @classmethod
    def from_box_scores(cls, box_scores: Iterable[BoxScore]) -> PlayerDirectory:
        directory = cls()
        for box in box_scores:
            directory.learn(box)
        return directory

    def learn(self, box: BoxScore) -> None:
        """Remember the player of a box score (his newest spelling is the one shown)."""
        ids = self._first.setdefault(canonical_player(box.player_name), {})
        ids[box.player_id] = min(ids.get(box.player_id, box.ts), box.ts)
        held = self._names.get(box.player_id)
        if held is None or (box.ts, box.player_name) > held:
            self._names[box.player_id] = (box.ts, box.player_name)

    def resolve(self, name: str, at: datetime | None = None) -> int:
        """The nba.com id for a book's spelling as of `at` (None: whatever is known), or
        `UnknownPlayerError` with the reason."""
        key = canonical_player(name)
        ids = [i for i, first in self._first.get(key, {}).items() if at is None or first <= at]
        if len(ids) != 1:
            raise UnknownPlayerError(name, key, "ambiguous_player" if ids else "unknown_player")
        return ids[0]

    def name(self, player_id: int) -> str | None:
        held = self._names.get(player_id)
        return held[1] if held else None

    def __len__(self) -> int:
        return len(self._names)


def resolve_props(events: Iterable[InputEvent], directory: PlayerDirectory) -> Iterator[tuple[int, PropLine]]:
    """Props whose player resolves, with the nba.com id; unresolved ones are left out here
    (the dataflow dead-letters them, `propstream data report` counts them)."""
    for event in events:
        if isinstance(event, PropLine):
            try:
                yield directory.resolve(event.player_name), event
            except UnknownPlayerError:
                continue


@dataclass(frozen=True)
class IdentityReport:
    """How well the feeds join: the figures `propstream data report` prints.

    `unresolved` is (book spelling, number of games with props for it); `unscheduled_games`
    are odds games with no schedule entry (postponed games, tentatively dated playoff games).
    """

    prop_player_games: int
    prop_player_games_resolved: int
    prop_player_games_matched: int
    odds_games: int
    odds_games_in_schedule: int
    box_score_games: int
    box_score_games_in_schedule: int
    unresolved: list[tuple[str, int]] = field(default_factory=list)
    unscheduled_games: list[str] = field(default_factory=list)

    @property
    def player_match_rate(self) -> float:
        return _rate(self.prop_player_games_matched, self.prop_player_games)

    @property
    def player_resolve_rate(self) -> float:
        return _rate(self.prop_player_games_resolved, self.prop_player_games)

    @property
    def game_match_rate(self) -> float:
        return _rate(self.odds_games_in_schedule, self.odds_games)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def identity_report(events: Iterable[InputEvent], directory: PlayerDirectory) -> IdentityReport:
    """Join props to box scores and odds games to the schedule, counting what does not join.

    A prop player-game is (book spelling, game); it is *matched* when the name resolves and
    that player has a box score for that game.
    """
    prop_player_games: set[tuple[str, str]] = set()
    odds_games: set[str] = set()
    schedule: set[str] = set()
    box_games: set[str] = set()
    played: set[tuple[int, str]] = set()
    unresolved_games: Counter[str] = Counter()
    for event in events:
        if isinstance(event, PropLine):
            prop_player_games.add((event.player_name, event.game_key))
            odds_games.add(event.game_key)
        elif isinstance(event, GameLine):
            odds_games.add(event.game_key)
        elif isinstance(event, Game):
            schedule.add(event.game_key)
        elif isinstance(event, BoxScore):
            box_games.add(event.game_key)
            played.add((event.player_id, event.game_key))

    resolved = matched = 0
    for name, key in prop_player_games:
        try:
            player_id = directory.resolve(name)
        except UnknownPlayerError:
            unresolved_games[name] += 1
            continue
        resolved += 1
        matched += (player_id, key) in played
    return IdentityReport(
        prop_player_games=len(prop_player_games),
        prop_player_games_resolved=resolved,
        prop_player_games_matched=matched,
        odds_games=len(odds_games),
        odds_games_in_schedule=len(odds_games & schedule),
        box_score_games=len(box_games),
        box_score_games_in_schedule=len(box_games & schedule),
        unresolved=sorted(unresolved_games.items(), key=lambda item: (-item[1], item[0])),
        unscheduled_games=sorted(odds_games - schedule),
    )
