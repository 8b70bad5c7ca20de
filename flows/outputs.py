"""Bytewax adapter for propstream sinks: the only place outputs meet Bytewax.

Each worker builds its own sink; Bytewax hands it batches and the sink's idempotent,
monotonic writes make Bytewax's at-least-once delivery safe (see connectors.sinks). An item
of the flow is a list of records (what one step of a shard made): the ledger counts items, a
sink is given their records.

A sink's `pacing` says how it is driven. "batch" (Parquet): written and flushed batch by
batch, as Bytewax expects. "thread" (PostgreSQL): written on a thread of its own; the worker
hands it a batch and goes on with the next one while the database commits, and the thread
writes everything that queued meanwhile as one batch. A commit took 5-10 ms and at times
0.2-0.7 s on a busy disk, and each held every line move behind it (docs/operations.md); the
input now waits for the thread only when it holds more than `_QUEUE_LIMIT` records
(backpressure, as before: a database that is away holds the input). Such a sink may ask for a
least time between the starts of two writes (`Sink.write_every_s`): live, PostgreSQL got a
transaction every few line moves. "snapshot" (Kafka): each batch handed to the producer, which
sends it at once; flushed (the broker's acknowledgement awaited) only when the flow needs it
durable. The sinks' guarantees hold (one batch is applied whole; several batches written as one
give what writing them in order gives, the sinks being idempotent and monotonic); what changes
is when a record is durable, which the flow's ledger tracks for its checkpoints
(flows/ledger.py), and a resume redoes what was not.

A sink that waits for its destination (a broker or database away, a full disk) holds the
input; a stop (SIGTERM) ends that wait (`SinkStopped`). The output then writes nothing more and
counts nothing more durable, and says so in one line: the run ends as any stopped run does,
its last snapshot naming the newest checkpoint whose outputs were all durable (flows/
checkpoints.py), so the restart resumes from there and writes what was not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.sinks import Item, Sink, SinkStopped
from flows import stopping
from flows.ledger import Ledger
from vocabulary.events import DeadLetter
from vocabulary.letters import DeadLetters

logger = logging.getLogger(__name__)

__all__ = ["SinkAdapter"]

_QUEUE_LIMIT = 20_000  # records queued for a background writer before the input waits for it


def _stopped_waiting(sink: Sink, exc: SinkStopped) -> None:
    logger.warning(
        "%s stopped waiting on %s: %s; the last snapshot names the newest checkpoint written "
        "before them, and the restart writes them",
        type(sink).__name__,
        stopping.received() or "a stop request",
        exc,
    )


class _Background:
    """A sink's writes on a thread of its own, in order, what queued meanwhile as one batch; a
    failure is raised to the worker at its next call. A stop that ends the sink's wait
    (`SinkStopped`) ends the writer: what it holds and what comes after stay unwritten."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._queue: list[Item] = []
        self._rows = 0  # records in the queue (a batch of dead letters counts each)
        self._queued = 0  # the stream's item count the queue reaches
        self._taken = 0  # the stream's item count the writer has taken
        self.durable = 0  # the stream's item count written durably
        self._error: BaseException | None = None
        self.stopped = False
        self._closing = False
        self._hurry = False  # a drain waits: the next write goes without waiting until it is due
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"{type(sink).__name__}-writer", daemon=True)
        self._thread.start()

    def submit(self, records: list[Item], upto: int) -> None:
        """Queue `records`, the stream's items up to `upto`; waits while the queue is full."""
        with self._changed:
            while self._rows >= _QUEUE_LIMIT and self._error is None and not self.stopped:
                self._changed.wait()
            self._raise()
            if self.stopped:
                return
            idle = self._taken == self._queued  # else the writer is writing, or waits until due
            self._queue += records
            self._rows += sum(len(r) if isinstance(r, DeadLetters) else 1 for r in records)
            self._queued = upto
            if idle or self._rows >= _QUEUE_LIMIT:  # a wake-up each batch took 2% of a live worker
                self._changed.notify_all()

    def drain(self) -> None:
        """Wait until everything queued is written, or the writer stopped (or raise what failed)."""
        with self._changed:
            self._hurry = True
            self._changed.notify_all()
            while self.durable < self._queued and self._error is None and not self.stopped:
                self._changed.wait()
            self._raise()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            with self._changed:
                self._closing = True
                self._changed.notify_all()
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"{type(self._sink).__name__} failed in its writer thread") from self._error

    def _run(self) -> None:
        due = 0.0  # when the next write may start (`Sink.write_every_s` after the last began)
        while True:
            with self._changed:
                while self._taken == self._queued and not self._closing:
                    self._changed.wait()
                if self._taken == self._queued:  # closing, and nothing left
                    return
                # what comes until the write is due joins it; a full queue or a drain goes at once
                while not self._hurry and self._rows < _QUEUE_LIMIT and (wait := due - time.monotonic()) > 0:
                    self._changed.wait(wait)
                due, self._hurry = time.monotonic() + self._sink.write_every_s, False
                batch, self._taken, self._queue, self._rows = self._queue, self._queued, [], 0
                upto = self._taken
                self._changed.notify_all()
            try:
                if batch:
                    self._sink.write_batch(batch)
                    self._sink.flush()
            except SinkStopped as exc:
                _stopped_waiting(self._sink, exc)
                with self._changed:
                    self.stopped = True
                    self._changed.notify_all()
                return
            except BaseException as exc:
                logger.exception("%s failed to write %s records", type(self._sink).__name__, len(batch))
                with self._changed:
                    self._error = exc
                    self._changed.notify_all()
                return
            with self._changed:
                self.durable = upto
                self._changed.notify_all()


class _Partition(StatelessSinkPartition[Any]):
    """One worker's output: its sink driven as its `pacing` says, and what of the stream it
    has made durable, for the flow's ledger."""

    def __init__(self, sink: Sink, output: int, ledger: Ledger | None) -> None:
        if DeadLetter in sink.accepts and DeadLetters not in sink.accepts:  # it would see none
            raise TypeError(f"{type(sink).__name__} takes dead letters: it must accept DeadLetters too")
        self._sink, self._output, self._ledger = sink, output, ledger
        self._sink.setup()
        self._seen = 0  # items of the stream handed to this output so far
        self._durable = 0  # of those, written durably (a "thread" sink counts its own)
        self._background = _Background(sink) if sink.pacing == "thread" else None
        self._registered = False
        self._stopped = False  # a stop ended the sink's wait: it writes nothing more

    def write_batch(self, items: list[list[Item]]) -> None:
        if not self._registered and self._ledger is not None:  # on the worker's own thread
            self._ledger.register(self._output, self._durable_count, self._drain)
            self._registered = True
        if not all(isinstance(records, list) for records in items):  # a record would be read as its fields
            raise TypeError("an item of the flow is a list of records (what one step made)")
        self._seen += len(items)
        accepts = self._sink.accepts
        mine = [record for records in items for record in records if isinstance(record, accepts)]
        if self._background is not None:
            self._background.submit(mine, self._seen)
            return
        if self._stopped:
            return
        try:
            if mine:
                self._sink.write_batch(mine)
            if self._sink.pacing == "batch":
                self._sink.flush()
                self._durable = self._seen
        except SinkStopped as exc:
            self._stop(exc)
        except Exception:
            # Bytewax reports an exception here only as a Rust panic: say what failed first.
            logger.exception("%s failed to write %s records", type(self._sink).__name__, len(mine))
            raise

    def _durable_count(self) -> int:
        """What is durable; a "snapshot" sink is flushed for it (what it sent is acknowledged
        by now, so this waits little)."""
        if self._background is not None:
            return self._background.durable
        if self._durable < self._seen:
            self._drain()
        return self._durable

    def _drain(self) -> None:
        if self._background is not None:
            self._background.drain()
        elif self._durable < self._seen and not self._stopped:
            seen = self._seen
            try:
                self._sink.flush()
            except SinkStopped as exc:
                self._stop(exc)
                return
            self._durable = seen

    def _stop(self, exc: SinkStopped) -> None:
        """A stop ended the sink's wait: nothing more is written or counted durable."""
        self._stopped = True
        _stopped_waiting(self._sink, exc)

    def close(self) -> None:
        try:
            self._drain()
        finally:
            if self._background is not None:
                self._background.close()
            try:
                self._sink.close()
            except SinkStopped as exc:  # its last flush, when a stop came first
                if not self._stopped:
                    self._stop(exc)


class SinkAdapter(DynamicSink[Any]):
    """`op.output("pg", stream, SinkAdapter(lambda: PostgresSink(dsn)))`; with a `ledger`, the
    output's durable writes count as output number `output` of each worker."""

    def __init__(self, factory: Callable[[], Sink], output: int = 0, ledger: Ledger | None = None) -> None:
        self._factory, self._output, self._ledger = factory, output, ledger

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self._factory(), self._output, self._ledger)
