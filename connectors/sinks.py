"""The sink interface every output implements.

Guarantees a sink gives: `write_batch` applies a whole batch or raises (never half of it);
writing the same records again, or older records after newer ones, leaves the same result as
writing each once in order (idempotent by key, monotonic in `as_of`). Sinks therefore accept
Bytewax's at-least-once delivery: a batch re-sent after a crash changes nothing. `close` is
not guaranteed to be called (a killed worker), so nothing may depend on it but freeing
resources.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType

from pydantic import BaseModel

from vocabulary.errors import PropstreamError

__all__ = ["Sink", "SinkError"]


class SinkError(PropstreamError):
    """A sink could not write a batch (after its retries)."""


class Sink(ABC):
    accepts: tuple[type[BaseModel], ...] = ()  # record types it writes; the flow sends only these

    def setup(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the destination (connect, create folders); called once before writing."""

    @abstractmethod
    def write_batch(self, records: Sequence[BaseModel]) -> None:
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
