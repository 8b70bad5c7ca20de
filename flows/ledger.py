"""What a worker thread's source has emitted and what its outputs have made durable, so a
checkpoint is named by a snapshot only once everything emitted before it is written.

Bytewax resumes from a snapshot once every output has *returned* from the writes of its epoch;
an output that writes on a thread of its own (flows/outputs.py) returns before its records are
durable, so that is not enough. The rule here holds whatever the outputs do: a checkpoint
taken when the thread's source had emitted N items may be named only when every output of the
thread has durably written at least its first N items (each output sees every item, in order:
nothing crosses between workers). Counted per thread because a Bytewax worker is one thread
that runs its source and its outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Ledger"]


class _Thread:
    def __init__(self) -> None:
        self.emitted = 0
        self.durable: dict[int, Callable[[], int]] = {}  # per output: how many items are durable
        self.drains: dict[int, Callable[[], None]] = {}  # per output: wait until all are


class Ledger:
    """One per flow; `outputs` is how many outputs each worker has."""

    def __init__(self, outputs: int) -> None:
        self._outputs = outputs
        self._local = threading.local()

    def _mine(self) -> _Thread:
        mine: _Thread | None = getattr(self._local, "thread", None)
        if mine is None:
            mine = self._local.thread = _Thread()
        return mine

    def emitted(self, n: int) -> int:
        """The source emitted `n` more items; returns how many so far on this thread."""
        mine = self._mine()
        mine.emitted += n
        return mine.emitted

    def register(self, output: int, durable: Callable[[], int], drain: Callable[[], None]) -> None:
        """An output of this thread, with how to ask it what is durable and to wait for all."""
        mine = self._mine()
        mine.durable[output], mine.drains[output] = durable, drain

    def durable(self) -> int:
        """How many of this thread's items every output has durably written (an output that has
        written nothing yet counts 0)."""
        mine = self._mine()
        if len(mine.durable) < self._outputs:
            return 0 if self._outputs else mine.emitted
        return min((f() for f in mine.durable.values()), default=mine.emitted)

    def drain(self) -> int:
        """Wait until every output of this thread has written what it was handed; `durable`."""
        for drain in self._mine().drains.values():
            drain()
        return self.durable()
