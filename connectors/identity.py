"""Identity: sportsbook and nba.com spellings of players onto canonical keys, and its report.

Players are keyed by their nba.com id. The directory of ids and names comes from box scores
(nba.com's own spelling); a sportsbook name resolves through one normalisation (accents,
punctuation, generational suffixes, case) plus a short alias table for names books spell
differently. There is deliberately no fuzzy matching: on the shipped data every close match
it would add is a different person (Reed Sheppard is not Ben Sheppard).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from connectors.events import BoxScore, Game, GameLine, InputEvent, PropLine
from connectors.exceptions import UnknownPlayerError

__all__ = [
    "PLAYER_ALIASES",
    "IdentityReport",
    "PlayerDirectory",
    "identity_report",
    "normalize_name",
]

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v"})
_DROP = re.compile(r"[.'’`]")
_SPLIT = re.compile(r"[\s\-]+")

# Book spelling (normalised) -> nba.com spelling (normalised). Each seen in the shipped props.
PLAYER_ALIASES: Mapping[str, str] = {
    "herb jones": "herbert jones",
    "vincent williams": "vince williams",
    "nicolas claxton": "nic claxton",
}


def normalize_name(name: str) -> str:
    """`"Vincent Williams Jr."` -> `"vincent williams"`: the form both feeds agree on."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    tokens = _SPLIT.split(_DROP.sub("", ascii_name.casefold()).strip())
    return " ".join(t for t in tokens if t and t not in _SUFFIXES)


@dataclass(frozen=True)
class PlayerDirectory:
    """nba.com players by normalised name. Static per run, so resolution never depends on
    the order events arrive in (a directory learnt from the stream would)."""

    ids_by_name: Mapping[str, frozenset[int]]
    names_by_id: Mapping[int, str]

    @classmethod
    def from_box_scores(cls, box_scores: Iterable[BoxScore]) -> PlayerDirectory:
        ids: dict[str, set[int]] = {}
        names: dict[int, str] = {}
        for box in box_scores:
            ids.setdefault(normalize_name(box.player_name), set()).add(box.player_id)
            names[box.player_id] = box.player_name
        return cls({k: frozenset(v) for k, v in ids.items()}, names)

    def resolve(self, name: str) -> int:
        """The nba.com id for a book's spelling, or `UnknownPlayerError` with the reason."""
        normalized = normalize_name(name)
        ids = self.ids_by_name.get(PLAYER_ALIASES.get(normalized, normalized), frozenset())
        if len(ids) != 1:
            error = UnknownPlayerError(name, normalized)
            if ids:
                error.reason = "ambiguous_player"
            raise error
        return next(iter(ids))

    def __len__(self) -> int:
        return len(self.names_by_id)


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
