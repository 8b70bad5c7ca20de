"""The sink interface every output implements.

Guarantees a sink gives: `write_batch` applies a whole batch or raises (never half of it);
writing the same records again, or older records after newer ones, leaves the same result as
writing each once in order (idempotent by key, monotonic in `as_of`). Sinks therefore accept
Bytewax's at-least-once delivery: a batch re-sent after a crash changes nothing. `close` is
not guaranteed to be called (a killed worker), so nothing may depend on it but freeing
resources.

A sink whose destination stays away beyond its retries may hold its batch instead of failing:
Bytewax then waits for it, so the input waits too (backpressure), and `Backpressure` says so.
A stop asked for while a sink retries or holds (SIGTERM) ends the wait with `SinkStopped`: the
batch is not written, and the run must end without marking it done (no snapshot may cover
it), so that a restart writes it again (flows.outputs does so).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Literal

from prometheus_client import Gauge
from pydantic import BaseModel

from vocabulary.errors import PropstreamError
from vocabulary.letters import DeadLetters

__all__ = ["WAITING", "Backpressure", "Item", "Sink", "SinkError", "SinkStopped"]

# what a sink is given: records, and dead letters as a batch of columns (vocabulary.letters)
# or one by one (the Parquet log's rows, a test's)
Item = BaseModel | DeadLetters

WAITING = Gauge(
    "propstream_sink_waiting",
    "1 while a sink holds the input because its destination does not take writes (unreachable "
    "beyond its retry window, or a full disk)",
    ["sink"],
)
_LOG_EVERY_S = 60.0


class SinkError(PropstreamError):
    """A sink could not write a batch (after its retries)."""


class SinkStopped(SinkError):
    """A stop was asked for while the sink waited for its destination: the batch is not
    written (the message says what it waited for)."""


def _never() -> bool:
    return False


class Sink(ABC):
    accepts: tuple[type, ...] = ()  # the item types it writes; the flow sends only these
    # how the flow drives it (flows/outputs.py): "batch": `write_batch` then `flush` for each
    # batch; "thread": the same on a thread of its own, for a sink that mostly waits on a server
    # (PostgreSQL); "snapshot": `write_batch` for each batch, `flush` only when the flow needs
    # its records durable (a snapshot, the end), for a sink whose writes leave at once and whose
    # flush only waits for their acknowledgement (Kafka)
    pacing: Literal["batch", "thread", "snapshot"] = "batch"
    # a "thread" sink's least time between the starts of two writes: what queues meanwhile is
    # written as one batch (0: as soon as the last write is done)
    write_every_s: float = 0.0

    def setup(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the destination (connect, create folders); called once before writing."""

    @abstractmethod
    def write_batch(self, records: Sequence[Item]) -> None:
        """Write every record of the batch, all or nothing."""

    def flush(self) -> None:  # noqa: B027 (optional hook)
        """Make written records durable/visible, for sinks that buffer."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Free resources. Not guaranteed to run."""

    def __enter__(self) -> Sink:
        self.setup()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()
        self.close()


class Backpressure:
    """How a sink that holds its batch (and so the input) says so: the gauge
    `propstream_sink_waiting{sink}` at 1, an ERROR line when it starts and once a minute while it
    lasts (`hold`), a WARNING line and the gauge back at 0 when it ends (`released`). Between
    two tries the sink asks `check_stop`: once `stop` says yes, the wait ends in `SinkStopped`."""

    def __init__(self, sink: str, log: logging.Logger, stop: Callable[[], bool] | None = None) -> None:
        self.sink, self._log = sink, log
        self._stop = stop or _never
        self._since: float | None = None
        self._logged_at = 0.0

    def check_stop(self, records: int, why: str) -> None:
        """Between two tries of a write: raise `SinkStopped` if a stop was asked for, saying how
        many records it leaves unwritten and why the write waits."""
        if self._stop():
            raise SinkStopped(f"{records} records not written ({why})")

    def hold(self, message: str) -> None:
        now = time.monotonic()
        if self._since is None:
            self._since = now
            WAITING.labels(self.sink).set(1)
        if now - self._logged_at >= _LOG_EVERY_S:
            self._logged_at = now
            self._log.error("%s", message)

    def released(self, message: str) -> None:
        """After a write that went through: `message`, then how long it waited (if it did)."""
        if self._since is not None:
            self._log.warning(
                "%s after %.0fs of waiting; writing resumes", message, time.monotonic() - self._since
            )
            self._since, self._logged_at = None, 0.0
            WAITING.labels(self.sink).set(0)
