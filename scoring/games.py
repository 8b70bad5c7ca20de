"""What the engine keeps per game beside its features: tip-off, who played, the predictions to
grade and the last emission per key; and the writes to it that a failed flush undoes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from vocabulary.events import BoxScore, Game, InputEvent, PropLine
from vocabulary.records import Prediction

__all__ = ["GameState", "Undo", "game_of", "last_emitted", "remember", "undo"]

Slot = tuple[str, str, str]  # (model, book, market): one graded prediction per player and game
Key = tuple[str, int, str, str]  # (model, player, book, market) within a game
_ABSENT = object()  # in an undo log: the key was not there before
Undo = list[tuple[dict[Any, Any], Any, Any]]  # (table, key, value before) per write


@dataclass
class GameState:
    """What the engine keeps for one game, besides its features: tip-off, who played, the
    predictions to grade and the last emission per key with its content's signature (expired
    with the game)."""

    game_date: date
    tipoff: datetime | None = None
    final: bool = False
    boxes: dict[int, BoxScore] = field(default_factory=dict)
    before_tipoff: dict[int, dict[Slot, Prediction]] = field(default_factory=dict)
    emitted: dict[Key, tuple[int, Prediction]] = field(default_factory=dict)

    def copy(self) -> GameState:
        """Its own dictionaries over the same (immutable) box scores and predictions."""
        return GameState(
            self.game_date,
            self.tipoff,
            self.final,
            dict(self.boxes),
            {player: dict(slots) for player, slots in self.before_tipoff.items()},
            dict(self.emitted),
        )


def game_of(games: dict[str, GameState], event: InputEvent) -> GameState:
    """The event's game, created when new; its tip-off from the first event that carries one."""
    game = games.get(event.game_key)
    if game is None:
        game = games[event.game_key] = GameState(event.game_date)
    if game.tipoff is None and isinstance(event, PropLine | Game):
        game.tipoff = event.tipoff
    return game


def remember(games: dict[str, GameState], signature: int, p: Prediction, log: Undo | None = None) -> bool:
    """Note `p` as the last emission for its key and, made before tip-off, as the one to grade
    (each write logged in `log` when given); returns whether it was kept to grade."""
    game = games[p.game_key]
    _put(game.emitted, (p.model, p.player_id, p.book, p.market), (signature, p), log)
    if game.tipoff is None or p.as_of >= game.tipoff:
        return False
    slots = game.before_tipoff.get(p.player_id)
    if slots is None:
        slots = {}
        _put(game.before_tipoff, p.player_id, slots, log)
    _put(slots, (p.model, p.book, p.market), p, log)
    return True


def undo(log: Undo) -> None:
    """Put back what the logged writes replaced, newest first."""
    for table, key, before in reversed(log):
        if before is _ABSENT:
            del table[key]
        else:
            table[key] = before
    log.clear()


def last_emitted(games: dict[str, GameState], p: Prediction) -> Prediction | None:
    """The prediction last emitted for `p`'s key (model, player, game, book, market)."""
    game = games.get(p.game_key)
    held = game.emitted.get((p.model, p.player_id, p.book, p.market)) if game is not None else None
    return held[1] if held is not None else None


def _put(table: dict[Any, Any], key: Any, value: Any, log: Undo | None) -> None:
    if log is not None:
        log.append((table, key, table.get(key, _ABSENT)))
    table[key] = value
