"""The engine: input events in event-time order in, predictions and grades out (pure; the
dataflow keeps one per shard, and the same code runs in tests without Bytewax).

Every input, whichever topic it came by, is applied to one feature store in the order it is
given; events that share an event time are applied together and rescored once (`flush`), so
in an in-order run each prediction id is emitted with one content (DESIGN §3).

A late event (stamped before the pending event time, or at or before one already flushed)
is held until the next `flush` (the end of the caller's batch), which rewinds once for all of
them (`scoring.rewind`): the tables then hold exactly what an in-order run of the same events
writes.

Rescoring rules (docs/operations.md):
- a prop whose book's main line or prices changed: one prediction per model of its market for
  that (player, game, market, book), and no others; an unchanged re-send or an alternate line:
  nothing;
- a box score of an earlier game, a game line, or a final score of a team's earlier game:
  every open book of the affected props;
- a rescoring that yields exactly the prediction last emitted for its key emits nothing;
- the player's box score for G (or G going final without one: VOID) grades, per (model, book,
  market), the latest prediction made before tip-off; a prediction made before tip-off that is
  emitted after G is done is graded at once.

A `flush` that raises (a model that fails on one player's vector, a bug) leaves the state as it
was before the call, its pending work included; `flush_each` then does that work one unit at
a time (each changed prop, then each grading) and returns the units that failed beside the
records of the others, so the caller can dead-letter the input that asked for a failed unit.

State is bounded: the watermark is the newest event time applied; games dated more than
`retention_days` before it are expired with everything kept for them, and an event about such
a game, or stamped at or before the base, is refused (`BeyondRetentionError`), never applied
to missing state.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from features.identity import PlayerDirectory
from features.store import Change, FeatureStore
from scoring import units
from scoring.games import GameState, Undo, game_of, last_emitted, remember, undo
from scoring.rewind import (
    Output,
    Step,
    checkpoint,
    content,
    corrections,
    position,
    steps_after,
    take_since,
    thin,
    with_events,
)
from scoring.scorer import Scorer
from scoring.units import FlushFailure, Unit
from vocabulary.errors import BeyondRetentionError, UnsupportedMarketError
from vocabulary.events import BoxScore, Game, InputEvent, PropLine, supersedes, us_game_date
from vocabulary.records import Prediction

__all__ = ["RETENTION_DAYS", "STATE_LAYOUT", "Engine", "EngineState", "Output"]

STATE_LAYOUT = 3  # of `EngineState` in a snapshot: 2 since the base replaced the lagging copy, 3 since
# `GameState` lives in scoring.games
RETENTION_DAYS = 3  # games dated this many days before the watermark's date are expired


@dataclass
class EngineState:
    """Everything an engine keeps (picklable, no models): the shard's recovery snapshot. The
    journal holds the event times flushed since `base`, the state as it stood before them
    (`None`: before any event); a rewind replays one from the other."""

    store: FeatureStore = field(default_factory=FeatureStore)
    directory: PlayerDirectory = field(default_factory=PlayerDirectory)
    games: dict[str, GameState] = field(default_factory=dict)
    watermark: datetime | None = None
    expired_before: date | None = None
    pending_ts: datetime | None = None
    pending: dict[Change, None] = field(default_factory=dict)
    pending_grades: dict[tuple[int, str], None] = field(default_factory=dict)
    pending_events: list[tuple[InputEvent, int | None]] = field(default_factory=list)
    journal: deque[Step] = field(default_factory=deque)
    base: EngineState | None = None
    late: list[tuple[InputEvent, int | None]] = field(default_factory=list)  # rewound at `flush`
    rewinds: int = 0  # how many rewinds the engine has done (an operator's count)
    checkpoints: list[EngineState] = field(default_factory=list)  # forks within the journal

    def take_pending(self) -> tuple[list[Change], list[tuple[int, str]], list[tuple[InputEvent, int | None]]]:
        """What the pending event time changed, finished and held; nothing is pending after."""
        taken = list(self.pending), list(self.pending_grades), self.pending_events
        self.pending, self.pending_grades, self.pending_ts, self.pending_events = {}, {}, None, []
        return taken

    def fork(self) -> EngineState:
        """The flushed state (no pending work, journal, base or checkpoints) as an
        independent copy for a rewind to start from: the store is forked (entries copied on
        write), the games copy their dictionaries over the same immutable records, and the
        directory is shared, since what it knows does not depend on the order it learnt it."""
        if self.pending_ts is not None:
            raise RuntimeError("only a flushed state can be forked")
        return EngineState(
            self.store.fork(),
            self.directory,
            {key: game.copy() for key, game in self.games.items()},
            self.watermark,
            self.expired_before,
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the checkpoints: a cache that rewinds rebuild."""
        return {**self.__dict__, "checkpoints": []}

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
        self._deferred: list[Unit] = []  # flushed event times whose scoring waits for `settle`
        self._ready: list[Output] = []  # records of units settled inside another call
        self._failures: list[FlushFailure] = []  # of units settled inside another call
        self._rewinding = False  # a failure to settle then fails the rewind (all or nothing)

    # ------------------------------------------------------------------ input
    def apply(self, event: InputEvent, emitted_at: datetime | None = None) -> list[Output]:
        """Apply one event; when it moves time on, the previous event time is flushed (its
        scoring waits for `settle`). Returns the records settled meanwhile, if any (a game going
        final settles what waits first). Raises an `EventError` for an event it refuses."""
        state = self.state
        player_id = self._admit(event)
        if (state.pending_ts is not None and event.ts < state.pending_ts) or (
            state.journal and event.ts <= state.journal[-1].ts
        ):
            state.late.append((event, player_id))  # one rewind for every late event of a batch
            if isinstance(event, BoxScore):
                state.directory.learn(event)  # known as of its time already (order-free)
            return self._take_ready()
        if state.pending_ts is not None and event.ts != state.pending_ts:
            self._flush_pending(emitted_at)
        self._apply(state, event, player_id)
        return self._take_ready()

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
        horizon = state.base.watermark if state.base is not None else None
        if horizon is not None and event.ts <= horizon:
            raise BeyondRetentionError(
                f"stamped {event.ts.isoformat()}, more than the retention ({self.retention.days} days) "
                f"before the watermark {state.watermark}: too late to rewind to"
            )
        if not isinstance(event, PropLine):
            return None
        self.check_market(event.market)
        return state.directory.resolve(event.player_name, at=event.ts)

    def check_market(self, market: str) -> None:
        """Refuse a prop of a market no model scores (the flow asks before it decodes one)."""
        if market not in self.markets:
            raise UnsupportedMarketError(market, self.markets)

    def _apply(self, state: EngineState, event: InputEvent, player_id: int | None) -> None:
        """Apply an admitted event to `state` (the live one, or a fork a rewind brings forward)."""
        self._advance(state, event.ts)
        game = game_of(state.games, event)
        if isinstance(event, BoxScore):
            state.directory.learn(event)
            held = game.boxes.get(event.player_id)
            if held is None or supersedes(event, held):
                game.boxes[event.player_id] = event
            state.pending_grades[(event.player_id, event.game_key)] = None
        elif isinstance(event, Game) and event.status == "final":
            self._settle()  # who is to be graded: what waits may keep predictions to grade
            game.final = True
            state.pending_grades.update(dict.fromkeys((p, event.game_key) for p in game.before_tipoff))
        state.pending.update(dict.fromkeys(state.store.apply(event, player_id)))
        state.pending_ts = event.ts
        state.pending_events.append((event, player_id))

    def _advance(self, state: EngineState, ts: datetime) -> None:
        """Move the watermark; expire what fell out of the retention."""
        if state.watermark is not None and ts <= state.watermark:
            return
        state.watermark = ts
        cut = us_game_date(ts) - self.retention
        if state.expired_before is None or cut > state.expired_before:
            self._settle()  # what waits writes to the games about to expire
            state.store.expire(cut)
            for key in [k for k, g in state.games.items() if g.game_date < cut]:
                del state.games[key]
            state.expired_before = cut

    # ------------------------------------------------------------------ output
    def flush(self, emitted_at: datetime | None = None) -> list[Output]:
        """The end of a batch: `flush_time`, `settle`, then `rewind`; raises the first failure
        `settle` isolated (a caller that dead-letters them calls the three itself). The records
        are stamped `emitted_at` (the caller's clock: the engine reads none) and the player's
        name."""
        out = self.flush_time(emitted_at)
        records, failures = self.settle()
        if failures:
            raise failures[0].error
        return out + records + self.rewind(emitted_at)

    def flush_time(self, emitted_at: datetime | None = None) -> list[Output]:
        """Flush the pending event time: what it changed and finished is read from the state as
        of it, to be scored and graded at the next `settle`; the time joins the journal. Returns
        the records settled meanwhile. All or nothing: if it raises, the state is as it was
        before the call, its pending work included (`flush_each` then isolates the failing unit)."""
        self._flush_pending(emitted_at)
        return self._take_ready()

    def settle(self) -> tuple[list[Output], list[FlushFailure]]:
        """Score and grade every flushed event time that waits, together (one tree evaluation
        per model), in event-time order; returns their records and the units that failed (each
        left out, undone, with its event time: `settle` isolates them as `flush_each` does)."""
        self._settle()
        failures, self._failures = self._failures, []
        return self._take_ready(), failures

    def rewind(self, emitted_at: datetime | None = None) -> list[Output]:
        """One rewind for the late events held since the last (`scoring.rewind`), after settling
        what waits. All or nothing: if it raises, the state is as it was, and the late events
        are not applied (the caller dead-letters them)."""
        self._settle()
        late, self.state.late = self.state.late, []
        return self._take_ready() + (self._rewind(late, emitted_at) if late else [])

    def _take_ready(self) -> list[Output]:
        ready, self._ready = self._ready, []
        return ready

    def _flush_pending(self, emitted_at: datetime | None, *, live: bool = True) -> None:
        """Defer the pending event time's scoring to the next settle; the time joins the
        journal (a `live` one may fork a checkpoint: a rewind's replay forks once at its end)."""
        state = self.state
        if state.pending_ts is None:
            return
        ts, events = state.pending_ts, state.pending_events
        held = state.pending, state.pending_grades, state.pending_ts, state.pending_events
        changes, to_grade, _ = state.take_pending()
        try:
            unit = units.build(ts, emitted_at, changes, to_grade, store=state.store, games=state.games)
        except BaseException:
            state.pending, state.pending_grades, state.pending_ts, state.pending_events = held
            raise
        self._deferred.append(unit)
        self._record(ts, events, unit.outputs, live=live)

    def _settle(self) -> None:
        """Settle what waits: all together, or, if that raises (undone), unit by unit; in a
        rewind, which is all or nothing, the failure goes on instead."""
        waiting, self._deferred = self._deferred, []
        if not waiting:
            return
        log: Undo = []
        name = self.state.directory.name
        try:
            ready = []
            for unit, predictions in zip(waiting, units.score(self.scorers, waiting, name), strict=True):
                ready += units.finish(unit, predictions, self.state.games, log)
        except Exception:
            undo(log)
            for unit in waiting:
                unit.outputs.clear()
            if self._rewinding:
                raise
            ready = []
            for unit in waiting:
                records, failures = units.settle_each(self.scorers, unit, name, self.state.games)
                ready += records
                self._failures += failures
        self._ready += ready

    def flush_each(self, emitted_at: datetime | None = None) -> tuple[list[Output], list[FlushFailure]]:
        """What a failed `flush_time` falls back to: what waits is settled, then the pending work
        is done at once, one unit at a time, each changed prop's rescoring then each grading (so
        grades see every prediction of the event time, as in `flush_time`); a unit that raises,
        read or scored, is left out, undone, and returned with its error. The records are those
        `flush_time` and `settle` would give, but the failed units' own; the event time joins the
        journal with all its events (they stay applied)."""
        self._settle()
        state = self.state
        if state.pending_ts is None:
            return self._take_ready(), []
        ts, events = state.pending_ts, state.pending_events
        changes, to_grade, _ = state.take_pending()
        work: list[tuple[Literal["rescore", "grade"], int, list[Change], list[tuple[int, str]]]] = [
            ("rescore", i, [change], []) for i, change in enumerate(changes)
        ]
        work += [("grade", i, [], [key]) for i, key in enumerate(to_grade)]
        parts: list[units.Part] = []
        failed: list[FlushFailure] = []
        for kind, index, changed, graded in work:
            described = repr((changed or graded)[0])
            try:
                unit = units.build(ts, emitted_at, changed, graded, store=state.store, games=state.games)
            except Exception as exc:
                failed.append(FlushFailure(ts, kind, index, described, exc))
            else:
                parts.append((kind, index, described, unit))
        out, failures = units.settle_parts(self.scorers, parts, state.directory.name, state.games)
        self._record(ts, events, out)
        return self._take_ready() + out, failed + failures

    def _record(
        self,
        ts: datetime,
        events: list[tuple[InputEvent, int | None]],
        out: list[Output],
        *,
        live: bool = True,
    ) -> None:
        """The event time joins the journal; a live one may fork a checkpoint and move the base
        (a rewind does both once at its end)."""
        self.state.journal.append(Step(ts, events, out))
        if live:
            checkpoint(self.state, self.retention, self._settle)

    # ------------------------------------------------------------------ late input
    def _retrace(self, state: EngineState, step: Step) -> None:
        """Apply a journal step's events to `state` and remember what it emitted, without
        scoring: the step's outputs are what scoring would give again."""
        for event, player_id in step.events:
            self._apply(state, event, player_id)
        for p in step.outputs:
            if isinstance(p, Prediction):
                remember(state.games, hash(content(p)), p)
        state.take_pending()

    def _rewind(self, late: list[tuple[InputEvent, int | None]], emitted_at: datetime | None) -> list[Output]:
        """Replay the journal with the late events in their places, from the newest state known
        before the first of them (a checkpoint, else the base); emit what differs. The state
        just before the first late event becomes a checkpoint, so that the next rewind, usually
        of an event about as late, starts there instead of up to a retention back."""
        before = self.state
        since = min(e.ts for e, _ in late)
        checkpoints = [c for c in before.checkpoints if position(c) < since]  # later ones lack `late`
        start = checkpoints[-1] if checkpoints else before.base
        journal = before.journal
        tail = take_since(journal, since)
        kept = len(journal)
        after = start.fork() if start is not None else EngineState()
        after.journal, after.base, after.rewinds = journal, before.base, before.rewinds + 1
        self.state, self._rewinding = after, True
        try:
            for step in steps_after(journal, position(after)):  # unchanged: as the journal says
                self._retrace(after, step)
            if start is None or after.watermark != start.watermark:
                checkpoints.append(after.fork())
            for step in with_events(tail, late):
                for e, pid in step.events:
                    self._apply(after, e, pid)
                self._flush_pending(emitted_at, live=False)
            self._settle()  # the replayed times scored together
            replayed = self._take_ready()
        except BaseException:
            while len(journal) > kept:  # a failed rewind changes nothing (the journal included)
                journal.pop()
            journal.extend(tail)
            self.state, self._deferred, self._ready = before, [], []
            raise
        finally:
            self._rewinding = False
        after.checkpoints = thin(checkpoints)
        earlier = islice(reversed(journal), len(journal) - kept, None)
        out = corrections(
            tail,
            earlier,
            replayed,
            since,
            last_emitted=lambda p: last_emitted(after.games, p),
            emitted_at=emitted_at,
        )
        checkpoint(after, self.retention, self._settle)
        return out
