"""The engine: input events in event-time order in, predictions and grades out (pure; the
dataflow keeps one per shard, and the same code runs in tests without Bytewax).

Every input, whichever topic it came by, is applied to one feature store in the order it is
given; events that share an event time are applied together and rescored once (`flush`), so
in an in-order run each prediction id is emitted with one content (DESIGN §3). A late event
(stamped before what was already applied) is applied where it belongs and re-emits the
predictions it changes under the same ids, corrected.

Rescoring rules (docs/operations.md):
- a prop whose book's main line or prices changed: one prediction per model of its market for
  that (player, game, market, book), and no others; an unchanged re-send or an alternate line:
  nothing;
- a box score of an earlier game, a game line, or a final score of a team's earlier game:
  every open book of the affected props;
- a rescoring that yields exactly the prediction last emitted for its key emits nothing;
- the player's box score for G (or G going final without one: VOID) grades, per (model, book,
  market), the latest prediction made before tip-off; a prediction made before tip-off that is
  emitted after G is done (a late input) is graded at once.

A `flush` that raises (a model that fails on one player's vector, a bug) leaves the state as it
was before the call, its pending work included; `flush_each` then does that work one unit at
a time (each changed prop, then each grading) and returns the units that failed beside the
records of the others, so the caller can dead-letter the input that asked for a failed unit.

State is bounded: the watermark is the newest event time applied; games dated more than
`retention_days` before it are expired with everything kept for them, and an event about such
a game is refused (`BeyondRetentionError`), never applied to missing state.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from features.identity import PlayerDirectory
from features.store import Change, FeatureStore
from scoring.grading import grade
from scoring.scorer import Request, Scorer, Stamp
from vocabulary.errors import BeyondRetentionError, UnsupportedMarketError
from vocabulary.events import BoxScore, Game, InputEvent, PropLine, us_game_date
from vocabulary.records import Grade, Prediction

__all__ = ["RETENTION_DAYS", "Engine", "EngineState", "FlushFailure", "GameState"]

Output = Prediction | Grade
RETENTION_DAYS = 3  # games dated this many days before the watermark's date are expired
_STAMPED = frozenset({"emitted_at", "player_name"})  # beside identity and content, not in them
_Slot = tuple[str, str, str]  # (model, book, market): one graded prediction per player and game
_ABSENT = object()  # in a flush's undo log: the key was not there before
_Undo = list[tuple[dict[Any, Any], Any, Any]]  # (table, key, value before) per write of a flush


@dataclass(frozen=True, slots=True)
class FlushFailure:
    """A unit of pending work whose flush raised: the rescoring of a changed prop (`index` in
    the order the pending events asked for them) or a grading (`index` likewise)."""

    kind: Literal["rescore", "grade"]
    index: int
    unit: str
    error: Exception


@dataclass
class GameState:
    """What the engine keeps for one game, besides its features: tip-off, who played, the
    predictions to grade and the last emission per key (expired with the game)."""

    game_date: date
    tipoff: datetime | None = None
    final: bool = False
    boxes: dict[int, BoxScore] = field(default_factory=dict)
    before_tipoff: dict[int, dict[_Slot, Prediction]] = field(default_factory=dict)
    emitted: dict[tuple[str, int, str, str], int] = field(default_factory=dict)

    def done_for(self, player_id: int) -> bool:
        return self.final or player_id in self.boxes


@dataclass
class EngineState:
    """Everything an engine keeps (picklable, no models): the shard's recovery snapshot."""

    store: FeatureStore = field(default_factory=FeatureStore)
    directory: PlayerDirectory = field(default_factory=PlayerDirectory)
    games: dict[str, GameState] = field(default_factory=dict)
    watermark: datetime | None = None
    expired_before: date | None = None
    pending_ts: datetime | None = None
    pending: dict[Change, None] = field(default_factory=dict)
    pending_grades: dict[tuple[int, str], None] = field(default_factory=dict)

    def size_bytes(self) -> tuple[int, int]:
        """(the largest single player's or game's state, the whole state) pickled, in bytes."""
        parts = [*self.store.players.values(), *self.games.values()]
        largest = max((len(pickle.dumps(p, pickle.HIGHEST_PROTOCOL)) for p in parts), default=0)
        return largest, len(pickle.dumps(self, pickle.HIGHEST_PROTOCOL))


class Engine:
    def __init__(
        self,
        scorers: Sequence[Scorer],
        retention_days: int = RETENTION_DAYS,
        state: EngineState | None = None,
    ) -> None:
        if not scorers:
            raise ValueError("the engine needs at least one model")
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.scorers = list(scorers)
        self.markets = tuple(sorted({s.model.market for s in self.scorers}))
        self.retention = timedelta(days=retention_days)
        self.state = state or EngineState()

    # ------------------------------------------------------------------ input
    def apply(self, event: InputEvent, emitted_at: datetime | None = None) -> list[Output]:
        """Apply one event; returns what the events of the previous event time produced (they
        are complete once time moves on), stamped `emitted_at`. Raises an `EventError` for an
        event it refuses."""
        state = self.state
        player_id = self._admit(event)
        changed = state.pending_ts is not None and event.ts != state.pending_ts
        out = self.flush(emitted_at) if changed else []
        self._advance(event.ts)
        game = self._game(event)
        if isinstance(event, BoxScore):
            state.directory.learn(event)
            held = game.boxes.get(event.player_id)
            if held is None or (event.ts, event.model_dump_json()) > (held.ts, held.model_dump_json()):
                game.boxes[event.player_id] = event
            state.pending_grades[(event.player_id, event.game_key)] = None
        elif isinstance(event, Game) and event.status == "final":
            game.final = True
            state.pending_grades.update(dict.fromkeys((p, event.game_key) for p in game.before_tipoff))
        state.pending.update(dict.fromkeys(state.store.apply(event, player_id)))
        state.pending_ts = event.ts
        return out

    def _admit(self, event: InputEvent) -> int | None:
        """Refuse what cannot be applied (before anything changes); a prop's player id."""
        state = self.state
        if state.watermark is not None:
            cut = us_game_date(state.watermark) - self.retention
            if event.game_date < cut:
                raise BeyondRetentionError(
                    f"game of {event.game_date} is older than the retention ({self.retention.days} days "
                    f"before the watermark {state.watermark.isoformat()}); its state has expired"
                )
        if not isinstance(event, PropLine):
            return None
        if event.market not in self.markets:
            raise UnsupportedMarketError(event.market, self.markets)
        return state.directory.resolve(event.player_name, at=event.ts)

    def _advance(self, ts: datetime) -> None:
        """Move the watermark; expire what fell out of the retention."""
        state = self.state
        if state.watermark is not None and ts <= state.watermark:
            return
        state.watermark = ts
        cut = us_game_date(ts) - self.retention
        if state.expired_before is None or cut > state.expired_before:
            state.store.expire(cut)
            for key in [k for k, g in state.games.items() if g.game_date < cut]:
                del state.games[key]
            state.expired_before = cut

    def _game(self, event: InputEvent) -> GameState:
        game = self.state.games.get(event.game_key)
        if game is None:
            game = self.state.games[event.game_key] = GameState(event.game_date)
        if game.tipoff is None and isinstance(event, PropLine | Game):
            game.tipoff = event.tipoff
        return game

    # ------------------------------------------------------------------ output
    def flush(self, emitted_at: datetime | None = None) -> list[Output]:
        """Rescore what the pending events changed and grade what they finished; the records
        are stamped `emitted_at` (the caller's clock: the engine reads none) and the player's
        name. All or nothing: if it raises, the state is as it was before the call."""
        state = self.state
        held = state.pending, state.pending_grades, state.pending_ts
        undo: _Undo = []
        try:
            return self._flush(emitted_at, undo)
        except BaseException:
            for table, key, before in reversed(undo):
                if before is _ABSENT:
                    del table[key]
                else:
                    table[key] = before
            state.pending, state.pending_grades, state.pending_ts = held
            raise

    def flush_each(self, emitted_at: datetime | None = None) -> tuple[list[Output], list[FlushFailure]]:
        """What a failed `flush` falls back to: the same pending work one unit at a time, each
        changed prop's rescoring then each grading (so grades see every prediction of the
        group, as in `flush`); a unit that raises is left out, undone, and returned with its
        error. The records are those `flush` would give, but the failed units' own."""
        state = self.state
        changes, to_grade, ts = list(state.pending), list(state.pending_grades), state.pending_ts
        units: list[tuple[Literal["rescore", "grade"], int, dict[Any, None], dict[Any, None]]] = [
            ("rescore", i, {change: None}, {}) for i, change in enumerate(changes)
        ]
        units += [("grade", i, {}, {key: None}) for i, key in enumerate(to_grade)]
        out: list[Output] = []
        failed: list[FlushFailure] = []
        for kind, index, pending, pending_grades in units:
            state.pending, state.pending_grades, state.pending_ts = pending, pending_grades, ts
            try:
                out += self.flush(emitted_at)
            except Exception as exc:
                failed.append(FlushFailure(kind, index, repr(next(iter(pending or pending_grades))), exc))
        state.pending, state.pending_grades, state.pending_ts = {}, {}, None
        return out, failed

    def _flush(self, emitted_at: datetime | None, undo: _Undo) -> list[Output]:
        state = self.state
        changes, to_grade = list(state.pending), list(state.pending_grades)
        state.pending, state.pending_grades, state.pending_ts = {}, {}, None
        stamp = Stamp(emitted_at, state.directory.name)
        predictions = self._new(self._predict(changes, stamp), undo)
        out: list[Output] = list(predictions)
        for p in predictions:
            game = state.games[p.game_key]
            if game.tipoff is None or p.as_of >= game.tipoff:
                continue
            slots = game.before_tipoff.get(p.player_id)
            if slots is None:
                slots = game.before_tipoff[p.player_id] = {}
                undo.append((game.before_tipoff, p.player_id, _ABSENT))
            slot = (p.model, p.book, p.market)
            undo.append((slots, slot, slots.get(slot, _ABSENT)))
            slots[slot] = p
            if game.done_for(p.player_id) and (p.player_id, p.game_key) not in state.pending_grades:
                out.append(
                    grade(p, game.boxes.get(p.player_id), emitted_at)
                )  # made before tip-off, learnt late
        for player_id, game_key in to_grade:
            game = state.games[game_key]
            box = game.boxes.get(player_id)
            out += [grade(p, box, emitted_at) for p in game.before_tipoff.get(player_id, {}).values()]
        return out

    def _predict(self, changes: Iterable[Change], stamp: Stamp) -> list[Prediction]:
        store = self.state.store
        books: dict[tuple[object, ...], Request] = {}
        for change in changes:
            for quote in store.main_quotes(change):
                t = quote.target
                books[(t.player_id, t.game_key, t.market, t.book)] = Request(
                    store.vector(t), quote.over_price, quote.under_price
                )
        requests = list(books.values())
        return [
            p
            for scorer in self.scorers
            for p in scorer.score(
                [r for r in requests if r.vector.target.market == scorer.model.market], stamp
            )
        ]

    def _new(self, predictions: Iterable[Prediction], undo: _Undo) -> list[Prediction]:
        """Leave out a prediction identical to the last one emitted for its (model, player,
        game, book, market): news the model does not use (a game line, another team's final)
        rescores to the same prediction, and saying it again only costs every sink a write.
        Signatures are Python hashes, so after a restart in a new process one identical
        prediction may be said again, which the idempotent sinks absorb."""
        out = []
        for p in predictions:
            emitted = self.state.games[p.game_key].emitted
            key = (p.model, p.player_id, p.book, p.market)
            signature = hash(tuple(v for k, v in p.__dict__.items() if k not in _STAMPED))
            before = emitted.get(key, _ABSENT)
            if before != signature:
                undo.append((emitted, key, before))
                emitted[key] = signature
                out.append(p)
        return out
