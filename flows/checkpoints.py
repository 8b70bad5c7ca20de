"""A shard's engine state written to disk by a forked child, so that a snapshot does not hold
the worker.

Pickling the engine state in the worker took 0.3-1 s for 6-20 MB (and Bytewax then wrote those
bytes to its SQLite store), every `PROPSTREAM_SNAPSHOT_INTERVAL_S`, during which no line move
was read: most of the line-move latency's tail (docs/operations.md). Here a snapshot forks
(about 10 ms for a worker of 500 MB: the child gets a copy-on-write image of the state as it
is), the child pickles the state to `<folder>/shard-<i>-<ns>.pkl`, fsyncs it and renames it
into place, and the worker goes on at once. What Bytewax stores is small: the positions and
the file of the newest checkpoint whose child has *finished*, so a resume never meets a
half-written file. That checkpoint is one snapshot interval older than the snapshot that names
it; everything emitted before it belongs to an epoch Bytewax has completed (its sinks wrote it)
by the time it resumes from that snapshot, so a resume from it is exact, and it redoes up to
two intervals of input instead of one (the sinks are idempotent).

The last snapshot of a run (a stop, the end of a replay) holds the state itself, pickled in the
worker as before, so a restart continues exactly where the run stopped. Files that no snapshot
in the recovery store can name any more are removed by the next child.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Checkpoints", "load_state"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Written:
    """A checkpoint a resume can start from: input positions and the file of the engine state
    at those positions (None: the state a fresh engine starts with), and how many items the
    worker thread's source had emitted then (flows/ledger.py)."""

    positions: Any
    path: str | None
    emitted: int = 0


def load_state(held: Any) -> tuple[Any, str | None]:
    """(the engine state or None for a fresh engine, the checkpoint file it came from) from
    what a snapshot holds: the state itself, or the file of a checkpoint."""
    if not isinstance(held, str):
        return held, None
    with open(held, "rb") as file:
        return pickle.load(file), held  # noqa: S301 (our own checkpoint)


class Checkpoints:
    """The checkpoints of one shard, in `checkpoints/` of the recovery store `recovery`,
    starting from where the shard was built: its first positions and the state it resumed from
    (`start_path`, None for a fresh engine). Snapshots are `(layout, positions, state or file)`,
    `layout` being the engine state's (a resume refuses another)."""

    def __init__(
        self, recovery: Path, shard: int, layout: int, start_positions: Any, start_path: str | None
    ) -> None:
        self._layout = layout
        self._recovery, self._folder = recovery, recovery / "checkpoints"
        self._folder.mkdir(parents=True, exist_ok=True)
        self._prefix = f"shard-{shard}-"
        self._named = _Written(start_positions, start_path)  # what snapshots name now
        self._written: list[_Written] = []  # finished since, oldest first, not yet all durable
        self._child: tuple[int, _Written] | None = None  # the running child and what it writes

    def snapshot(self, positions: Any, state: Any, emitted: int, durable: int) -> tuple[Any, bytes]:
        """Start a checkpoint of `state` at `positions`, the source having emitted `emitted`
        items (unless a child is still writing), and return the newest checkpoint that is
        written and whose items are all durable (`durable`): its positions, and the snapshot
        that names it."""
        self._reap(block=False)
        named = self._name(durable)  # before the fork: its child keeps the file named now
        if self._child is None:
            self._fork(_Written(positions, None, emitted), state)
        return named

    def final(self, positions: Any, state: Any, emitted: int, durable: int) -> tuple[Any, bytes]:
        """The last snapshot of a run: the state itself, pickled here, so a restart continues
        from exactly these positions, when every item emitted is durable (the caller drained
        its outputs); else, as any snapshot, the newest checkpoint that is."""
        self.wait()
        if durable >= emitted:
            return positions, pickle.dumps((self._layout, positions, state), pickle.HIGHEST_PROTOCOL)
        return self._name(durable)

    def wait(self) -> None:
        """Wait for the child still writing, if any."""
        self._reap(block=True)

    def _name(self, durable: int) -> tuple[Any, bytes]:
        while self._written and self._written[0].emitted <= durable:
            self._named = self._written.pop(0)
        named = self._named
        snapshot = (self._layout, named.positions, named.path)
        return named.positions, pickle.dumps(snapshot, pickle.HIGHEST_PROTOCOL)

    def _fork(self, at: _Written, state: Any) -> None:
        path = self._folder / f"{self._prefix}{time.time_ns()}.pkl"
        keep_from = self._named.path
        pid = os.fork()
        if pid == 0:  # the child: write, prune, and leave without running anything of the parent's
            code = 1
            # while the child lives, every page either process writes first is copied, and a
            # collection writes to every object it walks: 43-125 ms in each child, which exits
            # in a second and has nothing to collect. The worker collects as usual: live, each
            # young collection walks only what was allocated since the last (flows/run.py);
            # held off until the child was done, the first one walked everything allocated
            # meanwhile, 50-100 ms in the middle of a batch (docs/operations.md).
            gc.disable()
            try:
                os.nice(19)  # the worker and the services come first on a small machine
                _write(path, state)
                code = 0
                self._prune(keep_from or str(path))
            finally:
                os._exit(code)
        self._child = (pid, _Written(at.positions, str(path), at.emitted))

    def poll(self) -> None:
        """Reap the child if it is done (a step of the worker asks, so a finished child does
        not linger until the next snapshot)."""
        self._reap(block=False)

    def _reap(self, *, block: bool) -> None:
        if self._child is None:
            return
        pid, written = self._child
        try:
            if os.waitpid(pid, 0 if block else os.WNOHANG)[0] == 0:
                return  # still writing
        except ChildProcessError:  # reaped already (SIGCHLD ignored): the file tells
            pass
        self._child = None
        if written.path is not None and Path(written.path).exists():  # renamed only once durable
            self._written.append(written)
        else:
            logger.warning("writing the checkpoint %s failed; the next snapshot tries again", written.path)

    def _prune(self, keep_from: str) -> None:
        """Remove this shard's files older than both `keep_from` (what the parent names now) and
        every file a snapshot of the recovery store names; if the store cannot be read, none."""
        named = _named_in_store(self._recovery)
        if named is None:
            return
        oldest = min([keep_from, *(n for n in named if Path(n).name.startswith(self._prefix))])
        for file in self._folder.glob(f"{self._prefix}*"):
            if str(file) < oldest and file.suffix in (".pkl", ".tmp"):
                with contextlib.suppress(OSError):
                    file.unlink()


def _write(path: Path, state: Any) -> None:
    """The state pickled to `path`, durably: written beside it, fsynced, renamed into place."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as file:
        pickle.dump(state, file, pickle.HIGHEST_PROTOCOL)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _named_in_store(recovery: Path) -> set[str] | None:
    """The checkpoint files the snapshots in Bytewax 0.21's SQLite store name (its `snaps`
    table holds our snapshot bytes, pickled); None if a store cannot be read."""
    named: set[str] = set()
    try:
        for db_path in recovery.glob("*.sqlite3"):
            with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)) as db:
                for (blob,) in db.execute("SELECT ser_change FROM snaps WHERE ser_change IS NOT NULL"):
                    with contextlib.suppress(Exception):
                        held = pickle.loads(pickle.loads(blob))[-1]  # noqa: S301 (ours)
                        if isinstance(held, str):
                            named.add(held)
    except sqlite3.Error:
        return None
    return named
