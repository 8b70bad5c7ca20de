"""Stopping a run cleanly on SIGINT or SIGTERM.

Bytewax 0.21's `cli_main` asks Python for pending signals between activations
(`check_signals`): with Python's default SIGINT handler that raises `KeyboardInterrupt`, which
Bytewax reports as a Rust panic (`BytewaxRuntimeError: signal received`, exit 1), and SIGTERM,
which Python does not handle, kills the process at once. Instead, `stopping()` installs a
handler that only sets a flag; every shard's source partition looks at it before taking the
next batch and ends (`StopIteration`) once it is set, so the batch in flight is applied and
written, Bytewax closes the epoch with a final snapshot of every shard (input positions and
engine state together) and `cli_main` returns normally. A second signal while stopping gets
Python's default behaviour (a second Ctrl-C interrupts at once).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["received", "requested", "stopping"]

logger = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP = threading.Event()
_received: list[str] = []


def requested() -> bool:
    """Whether a stop was asked for: a shard ends before its next batch."""
    return _STOP.is_set()


def received() -> str | None:
    """The name of the signal that stopped the run, if one did."""
    return _received[0] if _received else None


def _handle(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _STOP.is_set():
        logger.warning("%s again while stopping: stopping at once", name)
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
        signal.raise_signal(signum)
        return
    _received.append(name)
    _STOP.set()
    logger.warning("%s: finishing the current batch, snapshotting and stopping", name)


@contextmanager
def stopping() -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop cleanly while inside; the previous handlers
    come back after. Only the main thread can install handlers: elsewhere this does nothing."""
    _STOP.clear()
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _handle)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
