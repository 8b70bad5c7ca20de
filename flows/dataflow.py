"""The one dataflow every mode runs: worker, replay from Kafka, replay from files.

input → decode + validate (invalid → dead letter with topic, partition, offset, reason) →
identity (unknown player → dead letter) → props and box scores keyed by player; game lines
and finals through the router to the players of their games → the per-player engine
(features, scoring of every active model, grading) → sinks.

Nothing here reads the wall clock except the sink adapter stamping `emitted_at`, which is
never part of a record's identity.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream, StatefulBatchLogic
from prometheus_client import Counter, Histogram
from pydantic import BaseModel

from connectors.serde import decode
from connectors.sinks import Sink
from features.identity import PlayerDirectory
from features.routing import GameRouter, Membership
from flows.outputs import SinkAdapter
from flows.sources import Raw
from scoring.engine import Engine, PlayerState
from scoring.scorer import Scorer
from vocabulary.errors import DecodeError, PropstreamError, UnknownPlayerError
from vocabulary.events import BoxScore, DeadLetter, Game, GameLine, InputEvent, PropLine
from vocabulary.records import Grade, Prediction
from vocabulary.topics import EVENT_TYPES

__all__ = ["EVENTS_IN", "RecoveryError", "build_decode_flow", "build_flow"]

EVENTS_IN = Counter("propstream_events_in", "input messages by topic", ["topic"])
APPLIED = Counter("propstream_events_applied", "valid input events applied, by topic", ["topic"])
DEAD = Counter("propstream_dead_letters", "inputs dead-lettered, by reason", ["reason"])
OUT = Counter("propstream_records_out", "predictions and grades emitted", ["kind", "model"])
LATENCY = Histogram(
    "propstream_rescore_latency_seconds",
    "event time of the newest input to the emission of a prediction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 60, 3600, 86400, float("inf")),
)
_ROUTER_KEY = "router"
_NO_SNAPSHOT = b""


class RecoveryError(PropstreamError):
    """The recovery store cannot resume this flow."""


@functools.cache
def _child(metric: Counter, *labels: str) -> Counter:
    """A labelled counter, looked up once: `labels()` costs ~10 µs a call, on every event."""
    return metric.labels(*labels)


@dataclass(frozen=True, slots=True)
class Valid:
    """A decoded event and, for props, the resolved player."""

    logical: str
    event: InputEvent
    player_id: int | None


def _dead(raw: Raw, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        source=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        original=(raw.value or b"").decode("utf-8", errors="replace"),
        reason=reason,
        detail=detail[:2000],
    )


def decoder(directory: PlayerDirectory) -> Callable[[Raw | DeadLetter], Valid | DeadLetter]:
    def decode_one(item: Raw | DeadLetter) -> Valid | DeadLetter:
        if isinstance(item, DeadLetter):  # file rows that never became an event
            # one item in, one dead letter out, however many rows it spans (as for events)
            _child(EVENTS_IN, "files").inc()
            _child(DEAD, item.reason).inc()
            return item
        _child(EVENTS_IN, item.logical).inc()
        try:
            event = decode(item.value, EVENT_TYPES[item.logical])
        except DecodeError as exc:
            _child(DEAD, exc.reason).inc()
            return _dead(item, exc.reason, exc.detail)
        player_id = None
        if isinstance(event, PropLine):
            try:
                player_id = directory.resolve(event.player_name)
            except UnknownPlayerError as exc:
                _child(DEAD, exc.reason).inc()
                return _dead(item, exc.reason, str(exc))
        _child(APPLIED, item.logical).inc()
        return Valid(item.logical, event, player_id)  # type: ignore[arg-type]

    return decode_one


def _membership(v: Valid) -> Membership | None:
    e = v.event
    if not isinstance(e, PropLine) or v.player_id is None:
        return None
    return Membership(v.player_id, e.game_key, e.game_date, e.home_team, e.away_team)


class _PickledState(StatefulBatchLogic[Any, Any, bytes]):
    """A keyed step over mutable state, given each Bytewax batch of its key's items at once,
    whose snapshots are pickled, not deep-copied.

    Bytewax's `stateful_map` deep-copies every touched key's state at every epoch; a player's
    state holds a season of history, and that copy was a third of a replay's time (profiled:
    24 of 69 s over the shipped season). A pickle is an immutable snapshot five times faster.
    Without a recovery store Bytewax still asks for a snapshot at every epoch and drops it; a
    flow built with `snapshots=False` answers with an empty marker instead (13% of a files
    replay), which a resume refuses rather than starting the key from nothing.
    """

    def __init__(self, state: Any, step: Callable[[Any, list[Any]], list[Any]], snapshots: bool) -> None:
        self.state = state
        self._step = step
        self._snapshots = snapshots

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        return self._step(self.state, values), StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        if not self._snapshots:
            return _NO_SNAPSHOT
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def resume(
        cls,
        snapshot: bytes | None,
        new: Callable[[], Any],
        step: Callable[[Any, list[Any]], list[Any]],
        snapshots: bool,
    ) -> _PickledState:
        if snapshot == _NO_SNAPSHOT:
            raise RecoveryError(
                "the recovery store holds state from a flow built with snapshots=False; it "
                "cannot be resumed: start from an empty recovery directory"
            )
        # our own snapshot from the recovery store, which Bytewax itself reads with pickle
        state = new() if snapshot is None else pickle.loads(snapshot)  # noqa: S301
        return cls(state, step, snapshots)


def _stateful(
    step_id: str,
    up: KeyedStream[Any],
    new: Callable[[], Any],
    step: Callable[[Any, list[Any]], list[Any]],
    snapshots: bool,
) -> KeyedStream[Any]:
    """`step(state, items) -> outputs` per key and Bytewax batch, `new()` a key's first state."""
    return op.stateful_batch(step_id, up, lambda resume: _PickledState.resume(resume, new, step, snapshots))


def _route(router: GameRouter, items: list[Membership | GameLine | Game]) -> list[Any]:
    return [out for item in items for out in router.route(item)]


def same_time_runs(items: Sequence[InputEvent | tuple[InputEvent, ...]]) -> list[tuple[InputEvent, ...]]:
    """A player's items of one batch as the groups the engine applies together: each run of
    consecutive events with the same event time, and each join (already a tuple) alone.

    Rescoring once per run is the same as rescoring after each of its events: the events share
    their time, so every prediction from the run has the same `as_of` and so the same identity,
    and the last one is what sinks keep. At 17:00 every book's props and game lines for a
    player arrive together; one rescoring instead of one per book."""
    runs: list[list[InputEvent]] = []
    extendable = False  # whether the last run may take the next event
    for item in items:
        if isinstance(item, tuple):
            runs.append(list(item))
            extendable = False
        elif extendable and runs[-1][-1].ts == item.ts:
            runs[-1].append(item)
        else:
            runs.append([item])
            extendable = True
    return [tuple(run) for run in runs]


def _engine_step(engine: Engine) -> Callable[[PlayerState, list[tuple[int, Any]]], list[Any]]:
    def step(state: PlayerState, items: list[tuple[int, Any]]) -> list[Any]:
        player_id = items[0][0]
        runs = same_time_runs([event for _, event in items])
        return [record for run in runs for record in engine.apply(state, run, player_id)]

    return step


def stamper(directory: PlayerDirectory) -> Callable[[BaseModel], BaseModel]:
    def stamp(record: BaseModel) -> BaseModel:
        """Emit time and the player's name beside identity (the only wall-clock read), and the
        output metrics."""
        if not isinstance(record, Prediction | Grade):
            return record
        now = datetime.now(UTC)
        _child(OUT, "prediction" if isinstance(record, Prediction) else "grade", record.model).inc()
        if isinstance(record, Prediction):
            LATENCY.observe(max(0.0, (now - record.as_of).total_seconds()))
        name = directory.names_by_id.get(record.player_id)
        return record.model_copy(update={"emitted_at": now, "player_name": name})

    return stamp


def build_flow(
    source: Source[Any],
    directory: PlayerDirectory,
    scorers: Sequence[Scorer],
    sinks: Iterable[Callable[[], Sink]],
    *,
    snapshots: bool,
    name: str = "propstream",
) -> Dataflow:
    """`snapshots`: whether the run keeps a recovery store (`settings.recovery_dir`); without
    one, state snapshots would be made and thrown away at every epoch."""
    engine = Engine(scorers)
    flow = Dataflow(name)
    raw = op.input("input", flow, source)
    checked = op.map("decode", raw, decoder(directory))
    split = op.branch("valid", checked, lambda x: isinstance(x, Valid))
    valid = cast(Stream[Valid], split.trues)  # the predicate is the type test
    dead = cast(Stream[BaseModel], split.falses)

    own = op.filter_map(
        "own_events",
        valid,
        lambda v: (
            (v.player_id, v.event)
            if isinstance(v.event, PropLine)
            else (v.event.player_id, v.event)
            if isinstance(v.event, BoxScore)
            else None
        ),
    )
    memberships = op.filter_map("memberships", valid, _membership)
    game_level = op.filter_map(
        "game_level", valid, lambda v: v.event if isinstance(v.event, GameLine | Game) else None
    )
    to_router = op.key_on("to_router", op.merge("router_in", memberships, game_level), lambda _: _ROUTER_KEY)
    routed = op.map("fan_out", _stateful("route", to_router, GameRouter, _route, snapshots), lambda kv: kv[1])

    by_player = op.key_on("by_player", op.merge("player_in", own, routed), lambda pe: str(pe[0]))
    emitted = _stateful("engine", by_player, PlayerState, _engine_step(engine), snapshots)
    records = op.map("records", emitted, lambda kv: kv[1])
    stamped = op.map("stamp", op.merge("all_out", records, dead), stamper(directory))
    for i, factory in enumerate(sinks):
        op.output(f"sink_{i}", stamped, SinkAdapter(factory))
    return flow


def build_decode_flow(source: Source[Any], directory: PlayerDirectory) -> Dataflow:
    """The input and decode steps alone (JSON, validation, identity, dead-letter records),
    their output dropped: the ceiling of `build_flow`'s rate, for the benchmark."""
    flow = Dataflow("propstream_decode")
    op.inspect("drop", op.map("decode", op.input("input", flow, source), decoder(directory)), lambda *_: None)
    return flow
