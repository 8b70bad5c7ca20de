"""What a rewind needs beside the engine: the journal's steps, where the forks of the state
stand and which of them to keep, and the difference between what was emitted and what a replay
with a late event emits.

The engine keeps the journal of the event times it flushed within the retention and forks of
its state within it (copied on write): a fork every `FORK_EVERY` of event time or `FORK_STEPS`
of the journal's steps, whichever comes first, the oldest of which a retention behind is the
*base* the journal starts after, and one at the first late event of each rewind. A rewind
replays the journal from the newest fork before the late events, with them in their places,
and emits the difference: predictions whose content changed, corrected under the same ids;
ids no in-order run would have made, `withdrawn`, with the prediction each had displaced;
grades that changed.

The difference is exact because a prediction's content is a function of its identity and of
the events stamped at or before its `as_of` (DESIGN §3): ids as of before the late event are
untouched, and every id as of it or after is in the journal (the state it starts from is older).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self, TypeVar

from vocabulary.events import InputEvent
from vocabulary.records import KEY, Grade, Prediction, construct

__all__ = [
    "FORK_EVERY",
    "FORK_STEPS",
    "Output",
    "Step",
    "checkpoint",
    "content",
    "corrections",
    "position",
    "steps_after",
    "take_since",
    "thin",
    "with_events",
]

Output = Prediction | Grade
_STAMPED = frozenset({"emitted_at", "player_name"})  # beside identity and content, not in them
R = TypeVar("R", Prediction, Grade)
FORK_EVERY = timedelta(hours=12)  # of event time between the checkpoints a live engine forks
# A live line move is an event time of its own: at 1,000 moves a second, forks 12 hours apart
# left a rewind retracing thousands of steps (9,073 steps in 233 ms in the latency bench's
# worker, the line-move latency's tail). A fork costs about 1 ms; over the history (2,563
# event times) the engine forked 255 times with this and without it.
FORK_STEPS = 256
RECENT_CHECKPOINTS = 8  # the rewinds' own checkpoints kept near the live edge
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)  # the position of a state that applied nothing


@dataclass
class Step:
    """One event time as the engine applied it: its events (a prop with its player's id) in the
    order they came, and what their flush emitted."""

    ts: datetime
    events: list[tuple[InputEvent, int | None]]
    outputs: list[Output] = field(default_factory=list)


def content(record: Output) -> tuple[object, ...]:
    """A record's identity and content: everything but the stamps of its emission."""
    return tuple(v for k, v in record.__dict__.items() if k not in _STAMPED)


def with_events(journal: Iterable[Step], late: Iterable[tuple[InputEvent, int | None]]) -> list[Step]:
    """The journal's events with late ones in their places (after the events of their time
    already there, in the order they came), as steps to replay; a step the late events do not
    join keeps its outputs (what replaying it gives again)."""
    steps = {s.ts: s for s in journal}
    for event, player_id in late:
        held = steps.get(event.ts)
        events = [*held.events, (event, player_id)] if held is not None else [(event, player_id)]
        steps[event.ts] = Step(event.ts, events)
    return sorted(steps.values(), key=lambda s: s.ts)


def corrections(
    tail: Sequence[Step],
    earlier: Iterable[Step],
    replayed: Iterable[Output],
    since: datetime,
    *,
    last_emitted: Callable[[Prediction], Prediction | None],
    emitted_at: datetime | None,
) -> list[Output]:
    """What to emit so that sinks holding the journal's emissions hold the replay's. `tail` is
    the journal's steps at or after `since` (what the replay replaces), `earlier` the steps
    before it, newest first (read only for the grades a regrade may repeat). Ids as of `since`
    or later no longer made are withdrawn, each followed by the prediction now last for its key
    (`last_emitted`: a latest table must show it again); predictions new or changed; grades
    changed."""
    before = _last_by(
        (r for s in tail for r in s.outputs if isinstance(r, Prediction) and r.as_of >= since),
        lambda p: p.prediction_id,
    )
    after = _last_by(
        (r for r in replayed if isinstance(r, Prediction) and r.as_of >= since), lambda p: p.prediction_id
    )
    changed = [p for i, p in after.items() if i not in before or content(before[i]) != content(p)]
    withdrawn: list[Output] = []
    for i, p in before.items():
        if i in after:
            continue
        withdrawn.append(construct(Prediction, {**p.__dict__, "withdrawn": True, "emitted_at": emitted_at}))
        restored = last_emitted(p)
        if restored is not None and restored.prediction_id not in after:
            withdrawn.append(restored)
    regraded = _last_by((r for r in replayed if isinstance(r, Grade)), _key)
    graded = _graded(tail, earlier, set(regraded))
    grades = [g for k, g in regraded.items() if k not in graded or content(graded[k]) != content(g)]
    return [*withdrawn, *changed, *grades]


def _graded(tail: Sequence[Step], earlier: Iterable[Step], keys: set[Hashable]) -> dict[Hashable, Grade]:
    """The last grade the journal emitted for each of `keys`: from the tail, else the newest
    earlier step that has one (read back only as far as a key is still missing)."""
    graded = {
        k: g
        for k, g in _last_by((r for s in tail for r in s.outputs if isinstance(r, Grade)), _key).items()
        if k in keys
    }
    missing = keys - graded.keys()
    for step in earlier if missing else ():
        for r in reversed(step.outputs):
            if isinstance(r, Grade) and (k := _key(r)) in missing:
                graded[k] = r
                missing.discard(k)
        if not missing:
            break
    return graded


def _key(record: Output) -> tuple[str, ...]:
    return tuple(str(getattr(record, k)) for k in KEY)


def _last_by(records: Iterable[R], key: Callable[[R], Hashable]) -> dict[Hashable, R]:
    return {key(r): r for r in records}


class Journaled(Protocol):
    """What the forks' bookkeeping reads and moves of the engine's state
    (`scoring.engine.EngineState`, which imports this module)."""

    watermark: datetime | None
    journal: deque[Step]
    late: list[tuple[InputEvent, int | None]]
    base: Self | None
    checkpoints: list[Self]

    def fork(self) -> Self: ...


F = TypeVar("F", bound=Journaled)


def checkpoint(state: Journaled, retention: timedelta, settle: Callable[[], None]) -> None:
    """Fork the state every `FORK_EVERY` of event time or `FORK_STEPS` of the journal (not
    while late events wait: it would lack them; what waits to be scored is settled first),
    keeping the forks `thin`; then move the base to the newest checkpoint a retention behind
    the watermark and drop the journal's steps it holds."""
    if state.watermark is None:
        return
    newest = state.checkpoints[-1] if state.checkpoints else state.base
    forked = position(newest) if newest else state.journal[0].ts if state.journal else state.watermark
    journal = state.journal
    # a deque reads an item near its end at once
    many_steps = len(journal) >= FORK_STEPS and journal[-FORK_STEPS].ts > forked
    if not state.late and (many_steps or state.watermark - forked >= FORK_EVERY):
        settle()
        state.checkpoints = thin([*state.checkpoints, state.fork()])
    horizon = state.watermark - retention
    if state.late:  # never past a late event waiting for its rewind
        horizon = min(horizon, *(e.ts for e, _ in state.late))
    while state.checkpoints and position(state.checkpoints[0]) <= horizon:
        state.base = state.checkpoints.pop(0)
    if state.base is not None:
        while state.journal and state.journal[0].ts <= position(state.base):
            state.journal.popleft()


def thin(checkpoints: list[F]) -> list[F]:
    """The newest `RECENT_CHECKPOINTS`, and of the older ones the first of each `FORK_EVERY` of
    event time: recent rewinds start near the live edge, older ones at most that far back."""
    older, recent = checkpoints[:-RECENT_CHECKPOINTS], checkpoints[-RECENT_CHECKPOINTS:]
    kept: list[F] = []
    for c in older:
        if not kept or _period(c) != _period(kept[-1]):
            kept.append(c)
    return kept + recent


def _period(state: Journaled) -> int:
    return (position(state) - _BEFORE_ALL) // FORK_EVERY


def position(state: Journaled) -> datetime:
    """The event time up to which `state` has applied the journal."""
    return state.watermark or _BEFORE_ALL


def take_since(journal: deque[Step], since: datetime) -> list[Step]:
    """Remove and return the journal's steps at or after `since`, in order."""
    tail: list[Step] = []
    while journal and journal[-1].ts >= since:
        tail.append(journal.pop())
    return tail[::-1]


def steps_after(journal: deque[Step], position: datetime) -> list[Step]:
    """The journal's steps after `position`, in order (read from the newest end)."""
    steps: list[Step] = []
    for step in reversed(journal):
        if step.ts <= position:
            break
        steps.append(step)
    return steps[::-1]
