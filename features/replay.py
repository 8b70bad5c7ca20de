"""Running a stream of input events through the feature store: the one way history becomes
features, for training, tests and benchmarks alike (the dataflow does the same per key)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from features.identity import PlayerDirectory
from features.store import FeatureStore, PlayerGame
from vocabulary.errors import UnknownPlayerError
from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine

__all__ = ["Applied", "apply", "resolve_props"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What one event did: the vectors it changed. For a prop, `changed_book` is its book when
    its main line or prices changed (the rescoring rule); a history or context change lists
    the affected (player, game) pairs in `affected`."""

    event: InputEvent
    player_id: int | None
    affected: tuple[PlayerGame, ...] = ()
    changed_book: str | None = None


def resolve_props(events: Iterable[InputEvent], directory: PlayerDirectory) -> Iterator[tuple[int, PropLine]]:
    """Props whose player resolves, with the nba.com id; unresolved ones are left out here
    (the dataflow dead-letters them, `propstream data report` counts them)."""
    for event in events:
        if isinstance(event, PropLine):
            try:
                yield directory.resolve(event.player_name), event
            except UnknownPlayerError:
                continue


def apply(store: FeatureStore, event: InputEvent, player_id: int | None = None) -> Applied:
    """Apply one event. A prop needs its resolved `player_id`."""
    if isinstance(event, BoxScore):
        return Applied(event, event.player_id, tuple(store.apply_box_score(event)))
    if isinstance(event, GameLine):
        return Applied(event, None, tuple(store.apply_game_line(event)))
    if isinstance(event, Game):
        return Applied(event, None, tuple(store.apply_game(event)))
    if player_id is None:
        raise ValueError(f"a prop needs a resolved player id: {event.player_name!r}")
    changed = store.apply_prop(player_id, event)
    return Applied(event, player_id, changed_book=event.book if changed else None)
