"""A shard: one ordered path of the dataflow, a reader and an engine, and what a batch of input
makes for the sinks (no Bytewax here: flows/dataflow.py makes the shards its source's partitions).

A shard's reader gives every game-level event and its share of the player-keyed events, merged
into event-time order; each message is decoded and validated (invalid → dead letter with topic,
partition, offset and reason), applied to the shard's engine (features, scoring of every active
model, grading; a refused event → dead letter), and what comes out inside the run's window goes
to the sinks.

Nothing here reads the wall clock but `Shard.step`, once a batch: for the `emitted_at` its
records carry beside their identity (the engine stamps what it is given, and reads no clock),
and for the `ts:future` check, which refuses only events stamped beyond a tolerance ahead of
it: never one of a replay of past events. No input can stop a shard: whatever fails while one
is handled becomes its dead letter, the rescoring and grading its event time asks for
included (`Shard._flush`).
"""

from __future__ import annotations

import bisect
import collections
import functools
import logging
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram

from connectors.inputs import Raw
from connectors.serde import decode
from scoring.engine import Engine, Output
from scoring.units import FlushFailure
from vocabulary.errors import DecodeError, EventError
from vocabulary.events import DeadLetter, InputEvent, PropLine
from vocabulary.keys import message_key
from vocabulary.letters import DeadLetters
from vocabulary.markets import MARKETS
from vocabulary.records import Prediction
from vocabulary.topics import EVENT_TYPES, PLAYER_TOPICS
from vocabulary.window import Window
from vocabulary.wire import market_of

__all__ = ["DEFAULT_FUTURE_TOLERANCE_S", "EVENTS_IN", "Emitted", "Reader", "Shard"]

logger = logging.getLogger(__name__)

EVENTS_IN = Counter("propstream_events_in", "input messages by topic", ["topic"])
APPLIED = Counter("propstream_events_applied", "valid input events applied, by topic", ["topic"])
DEAD = Counter("propstream_dead_letters", "inputs dead-lettered, by reason", ["reason"])
OUT = Counter("propstream_records_out", "predictions and grades emitted", ["kind", "model"])
LATENCY = Histogram(
    "propstream_rescore_latency_seconds",
    "event time of the newest input to the emission of a prediction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 60, 3600, 86400, float("inf")),
)
KAFKA_LAG = Gauge(
    "propstream_consumer_lag", "messages behind the end of each input partition", ["topic", "partition"]
)
WATERMARK = Gauge("propstream_watermark_seconds", "newest event time applied, per shard", ["shard"])
LAST_ARRIVAL = Gauge(
    "propstream_input_last_arrival_seconds",
    "wall-clock time a message of the topic was last read (its Kafka timestamp is its event time)",
    ["topic"],
)
REWINDS = Gauge(
    "propstream_rewinds",
    "rewinds for late inputs since the shard's state began (scoring/rewind.py)",
    ["shard"],
)


@functools.cache
def _child(metric: Counter, *labels: str) -> Counter:
    """A labelled counter, looked up once: `labels()` costs ~10 µs a call."""
    return metric.labels(*labels)


class _Tally:
    """Counts of one batch, added to the metrics once per label at its end (an `inc` costs
    ~4 µs under its lock: 1.9 s of a 12 s files replay when done per event)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[Counter, tuple[str, ...]]] = collections.Counter()

    def add(self, metric: Counter, *labels: str) -> None:
        self.counts[(metric, labels)] += 1

    def add_counts(self, metric: Counter, counts: Mapping[str, int]) -> None:
        """`add` for each label as many times as `counts` says (counted in C: once a batch)."""
        for label, n in counts.items():
            self.counts[(metric, (label,))] += n

    def take_back(self, metric: Counter, *labels: str) -> None:
        """Undo an `add` of this batch (an input counted applied whose rescoring then failed)."""
        self.counts[(metric, labels)] -= 1

    def flush(self) -> None:
        for (metric, labels), n in self.counts.items():
            _child(metric, *labels).inc(n)
        self.counts.clear()


class Reader(Protocol):
    """A shard's input in event-time order (connectors.inputs.FileReader, KafkaReader).
    `tails`: whether it reads on past what is there (the worker), the only input a flow is
    ever live on: a replay caught up near its end keeps collecting as it caught up (a live
    worker's collections cost its replays 3% of their CPU: docs/operations.md)."""

    tails: bool

    @property
    def exhausted(self) -> bool: ...
    @property
    def positions(self) -> Any: ...
    def take(self, limit: int) -> list[Raw]: ...
    def lag(self) -> dict[tuple[str, int], int]: ...
    def close(self) -> None: ...


DEFAULT_FUTURE_TOLERANCE_S = 600.0


def _dead(letters: DeadLetters, raw: Raw, error: EventError) -> None:
    """Add the dead letter of one input; if even that cannot be built, a bare one that still
    keeps the bytes (a dead letter is never dropped)."""
    try:
        letters.add(
            source=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            original=raw.value or b"",
            reason=error.reason,
            detail=error.detail[:2000],
        )
    except Exception as exc:
        logger.exception("could not build the dead letter of %s[%s]@%s", raw.topic, raw.partition, raw.offset)
        bare = DeadLetter(
            source=str(raw.topic)[:200],
            partition=raw.partition,
            offset=raw.offset,
            original=raw.value if isinstance(raw.value, bytes) else b"",
            reason=f"internal:{type(exc).__name__}",
            detail="the dead letter itself could not be built",
        )
        letters.extend([bare])


def _internal(raw: Raw, exc: Exception) -> EventError:
    """An unexpected failure while handling one input, as the reason of its dead letter."""
    logger.error(
        "input %s[%s]@%s failed (%s: %s); dead-lettered",
        raw.topic,
        raw.partition,
        raw.offset,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return EventError(f"internal:{type(exc).__name__}", f"{type(exc).__name__}: {exc}")


_LOGICAL = operator.attrgetter("logical")
Emitted = Output | DeadLetters  # what a step gives the sinks: records, and its dead letters
Read = tuple[Raw, InputEvent | EventError]  # an input and what `Shard._read` made of it


def _in_time_order(batch: list[Read]) -> list[Read]:
    """A batch's events in event-time order, each input that holds none where it was. The
    merge orders by Kafka's timestamps, in milliseconds, and an event time has microseconds:
    two events of one millisecond from two partitions came in either order, and the later one
    applied first made the other late: a rewind. In the line-move latency bench (1,000 moves a
    second on four partitions, 18 s) the live worker rewound 573 times, 4.8 ms each; in this
    order, 11 times. The sort is stable: events of one time keep the order they came in, as a
    replay of the same input does."""
    slots = [i for i, (_, read) in enumerate(batch) if not isinstance(read, EventError)]
    events = sorted((batch[i] for i in slots), key=lambda item: item[1].ts)  # type: ignore[union-attr]
    ordered = list(batch)
    for i, item in zip(slots, events, strict=True):
        ordered[i] = item
    return ordered


class Shard:
    """One ordered path: a reader and an engine, and what a batch of input makes for the sinks."""

    def __init__(
        self,
        index: int,
        shards: int,
        reader: Reader,
        engine: Engine,
        window: Window,
        *,
        future_tolerance_s: float | None = DEFAULT_FUTURE_TOLERANCE_S,
    ) -> None:
        self.index, self._divided = index, shards > 1
        self.reader, self.engine, self.window = reader, engine, window
        self.read = 0  # input messages taken so far
        self._tally = _Tally()
        # events stamped later than the wall clock plus this are refused (`ts:future`); None: off
        self._tolerance = None if future_tolerance_s is None else timedelta(seconds=future_tolerance_s)
        self._horizon: datetime | None = None
        # the inputs applied since the last flush (one event time), each with the engine's
        # pending rescorings and gradings once it was applied: who asked for what
        self._group: list[tuple[Raw, int, int]] = []
        # the groups of the batch's event times flushed so far, to blame a failure of their
        # scoring, which the engine does for the whole batch at its end (`Engine.settle`)
        self._groups: dict[datetime, list[tuple[Raw, int, int]]] = {}
        self._late: list[Raw] = []  # inputs the engine holds for the batch's rewind
        self._letters = DeadLetters()  # the batch's dead letters, as columns
        self._refusals: dict[str, EventError | None] = {}  # by market: the engine's (`_unserved`)

    def step(self, limit: int) -> list[Emitted]:
        """Decode and apply a batch (which never splits an event time), then flush the engine:
        its records, and its dead letters as one `DeadLetters` (if it has any)."""
        out: list[Emitted] = []
        raws = self.reader.take(limit)
        self.read += len(raws)
        now = datetime.now(UTC)  # the wall clock, read once a batch, outside the engine
        arrived = collections.Counter(map(_LOGICAL, raws))  # a file row that is no event: "files"
        for topic in arrived:
            LAST_ARRIVAL.labels(topic).set(now.timestamp())
        self._tally.add_counts(EVENTS_IN, arrived)
        if self._tolerance is not None:
            self._horizon = now + self._tolerance
        for raw, read in _in_time_order([(raw, self._read(raw)) for raw in raws]):
            out += self._one(raw, read, now)
        out += self._flush(now) + self._settle(now) + self._rewind(now)
        if self._letters:
            out.append(self._letters)
            self._letters = DeadLetters()
        self._tally.flush()
        if self.engine.state.watermark is not None:
            WATERMARK.labels(str(self.index)).set(self.engine.state.watermark.timestamp())
        REWINDS.labels(str(self.index)).set(self.engine.state.rewinds)
        return out

    def _read(self, raw: Raw) -> InputEvent | EventError:
        """The event an input holds, or why it holds none. Never raises: whatever fails is the
        input's reason (`internal:<ExceptionType>` for the unexpected)."""
        if raw.dead is not None:  # a file row that never became an event: its dead letter is made
            return EventError(raw.dead.reason, raw.dead.detail)
        try:
            model = EVENT_TYPES[raw.logical]
            if model is PropLine and (unserved := self._unserved(raw.value)) is not None:
                return unserved
            event: InputEvent = decode(raw.value, model)  # type: ignore[assignment]
            self._check_not_future(event)
            if self._divided and raw.logical in PLAYER_TOPICS and raw.key != message_key(event):
                raise DecodeError("key:not_canonical", f"key {raw.key!r} is not {message_key(event)!r}")
        except EventError as exc:
            return exc
        except Exception as exc:
            return _internal(raw, exc)
        return event

    def _one(self, raw: Raw, read: InputEvent | EventError, now: datetime) -> list[Output]:
        """One input: its records, or its dead letter. Whatever fails while handling it (decode,
        validation, identity, features, scoring, record building) dead-letters this input
        alone, with a reason, so no message can stop the worker or every restart after it."""
        if raw.dead is not None:  # a file row that never became an event
            self._tally.add(DEAD, raw.dead.reason)
            if self._in_window(raw):
                self._letters.extend([raw.dead])
            return []
        if isinstance(read, EventError):
            self._refuse(raw, read)
            return []
        event: InputEvent = read
        flushed: list[Output] = []
        try:
            pending_ts = self.engine.state.pending_ts
            if pending_ts is not None and event.ts != pending_ts:  # the last event time is complete
                flushed = self._flush(now)
            out = flushed + self._window(self.engine.apply(event, now), now)
        except EventError as exc:
            self._refuse(raw, exc)
            return flushed
        except Exception as exc:
            self._refuse(raw, _internal(raw, exc))
            return flushed
        self._tally.add(APPLIED, raw.logical)
        state = self.engine.state
        if state.late and state.late[-1][0] is event:  # held for the batch's rewind
            self._late.append(raw)
        else:
            self._group.append((raw, len(state.pending), len(state.pending_grades)))
        return out

    def _flush(self, now: datetime) -> list[Output]:
        """Flush the last event time's inputs (the engine's pending work; its scoring waits for
        `_settle`). Never raises: when the flush fails, the engine has undone it and does it at
        once, unit by unit (`Engine.flush_each`), and each input that asked for a failed
        rescoring or grading is dead-lettered `internal:<Type>` instead of counted applied. Its
        facts stay in the features (a box score, a line: what failed is what was computed from
        them), so every other record comes out exactly as without the failure."""
        group, self._group = self._group, []
        ts = self.engine.state.pending_ts
        if ts is not None:
            self._groups[ts] = group
        try:
            return self._window(self.engine.flush_time(now), now)
        except Exception as exc:
            logger.warning(
                "the flush of %s inputs failed (%s: %s); isolating", len(group), type(exc).__name__, exc
            )
        records, failures = self.engine.flush_each(now)
        self._blame(failures)
        return self._window(records, now)

    def _settle(self, now: datetime) -> list[Output]:
        """The batch's scoring and grading, all its event times together; a failed unit is
        blamed on the input of its time that asked for it, as in `_flush`."""
        records, failures = self.engine.settle()
        self._blame(failures)
        self._groups.clear()
        return self._window(records, now)

    def _blame(self, failures: Sequence[FlushFailure]) -> None:
        """Dead-letter, for each input that asked for a failed unit of its event time, the first
        such failure, instead of counting the input applied."""
        blamed: dict[tuple[datetime, int], FlushFailure] = {}
        for failure in failures:
            group = self._groups.get(failure.ts, [])
            ends = [g[1] if failure.kind == "rescore" else g[2] for g in group]
            i = bisect.bisect_right(ends, failure.index)  # the first input whose apply asked for it
            if i == len(group):
                logger.error(
                    "%s of %s failed and no input of this batch asked for it", failure.kind, failure.unit
                )
                continue
            blamed.setdefault((failure.ts, i), failure)
        for (ts, i), failure in sorted(blamed.items(), key=lambda item: item[0]):
            raw = self._groups[ts][i][0]
            error = _internal(raw, failure.error)
            self._tally.take_back(APPLIED, raw.logical)
            self._refuse(
                raw, EventError(error.reason, f"its {failure.kind} of {failure.unit} failed: {error.detail}")
            )

    def _rewind(self, now: datetime) -> list[Output]:
        """The corrections of the batch's late inputs (one rewind). Never raises: if the
        rewind fails, the engine is as before it and each late input is dead-lettered
        `internal:<Type>` instead of counted applied."""
        late, self._late = self._late, []
        try:
            return self._window(self.engine.rewind(now), now)
        except Exception as exc:
            logger.warning(
                "the rewind for %s late inputs failed (%s: %s)", len(late), type(exc).__name__, exc
            )
            for raw in late:
                self._tally.take_back(APPLIED, raw.logical)
                self._refuse(raw, _internal(raw, exc))
            return []

    def _refuse(self, raw: Raw, error: EventError) -> None:
        """Count the input dead-lettered; its letter joins the batch's if it is in the window."""
        self._tally.add(DEAD, error.reason)
        if self._in_window(raw):
            _dead(self._letters, raw, error)

    def _unserved(self, value: bytes | None) -> EventError | None:
        """Why a prop of a market no model serves is refused, found before it is decoded (whatever
        else it holds is not read), or None. The engine's own check decides, asked once per
        market: its refusal is kept and given back, never raised again (raising cost 2.1 µs a
        prop, a third of its refusal). A replay of the shipped history with the points models
        alone refuses 84,326 of its 167,037 inputs so; decoding each first took it 51-57
        CPU-µs an event against 42-46 (`bench.flow_bench`, alternating runs, 2026-11-28). A
        market that is no market goes on to decode, for its reason."""
        market = market_of(value) if value is not None else None
        if not isinstance(market, str) or market not in MARKETS:
            return None
        if market not in self._refusals:
            try:
                self.engine.check_market(market)
            except EventError as exc:
                self._refusals[market] = exc
            else:
                self._refusals[market] = None
        return self._refusals[market]

    def _check_not_future(self, event: InputEvent) -> None:
        """An event stamped beyond the tolerance ahead of the wall clock (clock skew, a typo)
        would be published with a time the broker refuses. A replay of old topics never
        meets it: their event times are in the past."""
        if self._horizon is not None and event.ts > self._horizon:
            raise DecodeError(
                "ts:future",
                f"ts {event.ts.isoformat()} is more than {self._tolerance} ahead of the wall clock",
            )

    def _in_window(self, raw: Raw) -> bool:
        if raw.ts_ms is None or not self.window.bounded:
            return True
        try:
            return datetime.fromtimestamp(raw.ts_ms / 1000, UTC) in self.window
        except (OverflowError, OSError, ValueError):  # a message time no datetime holds: keep it
            return True

    def _window(self, records: Iterable[Output], now: datetime) -> list[Output]:
        """The records inside the window, counted for the output metrics."""
        out: list[Output] = []
        for record in records:
            if record.as_of not in self.window:
                continue
            if isinstance(record, Prediction):
                self._tally.add(OUT, "prediction", record.model)
                LATENCY.observe(max(0.0, (now - record.as_of).total_seconds()))
            else:
                self._tally.add(OUT, "grade", record.model)
            out.append(record)
        return out

    def report_lag(self) -> dict[tuple[str, int], int]:
        lags = self.reader.lag()
        for (topic, partition), lag in lags.items():
            KAFKA_LAG.labels(topic, str(partition)).set(lag)
        return lags
