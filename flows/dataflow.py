"""The one dataflow every mode runs: worker, replay from Kafka, replay from files.

Its source's partitions are the shards (flows/shard.py), one per worker: nothing crosses
between workers, and processes run their own shards apart (flows/run.py, `Cluster`). A shard's
snapshot holds its input positions and its engine state together, so a resume is exact.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.sinks import Sink
from flows import stopping
from flows.checkpoints import Checkpoints, load_state
from flows.ledger import Ledger
from flows.outputs import SinkAdapter
from flows.progress import Watch
from flows.run import live_gc
from flows.shard import DEFAULT_FUTURE_TOLERANCE_S, Emitted, Reader, Shard
from scoring.engine import STATE_LAYOUT, Engine
from vocabulary.errors import PropstreamError
from vocabulary.window import Window

__all__ = ["RecoveryError", "ShardSource", "build_flow"]

_NO_SNAPSHOT = b""


class RecoveryError(PropstreamError):
    """The recovery store cannot resume this flow."""


Records = list[Emitted]  # one item through Bytewax: what one step of a shard made


class _ShardPartition(StatefulSourcePartition[Records, bytes]):
    def __init__(
        self,
        shard: Shard,
        batch: int,
        checkpoints: Checkpoints | None,
        progress: Callable[[int], None] | None,
        watch: Watch | None = None,
        *,
        ledger: Ledger | None = None,
    ) -> None:
        self._shard, self._batch, self._checkpoints, self._progress = shard, batch, checkpoints, progress
        self._watch = watch or Watch(shard.index, 10.0)
        self._ledger = ledger or Ledger(0)
        self._emitted = 0  # items this worker's source has emitted (the ledger's count)
        self._snapshotted: Any = None  # the positions of the last snapshot

    def next_batch(self) -> list[Records]:
        """A step's records as one item: Bytewax's own cost is per item (~1.5 µs for each
        output of the flow), and a step makes hundreds of records."""
        shard = self._shard
        if stopping.requested():  # SIGINT/SIGTERM: end here; Bytewax snapshots and returns
            raise StopIteration
        if shard.reader.exhausted:
            out = shard.step(self._batch)  # what the last events left pending
            if not out:
                self._watch.tick(shard.read, shard.reader.lag(), at_end=True)
                raise StopIteration
            self._emitted = self._ledger.emitted(1)
            return [out]
        read, behind = shard.read, not self._watch.caught_up
        if self._checkpoints is not None:
            self._checkpoints.poll()
        out = shard.step(self._batch)
        self._watch.tick(shard.read, shard.report_lag())
        if behind and self._watch.caught_up and shard.reader.tails:  # a replay is never live
            live_gc()
        if self._progress is not None:
            self._progress(shard.read - read)
        items = [out] if out else []
        self._emitted = self._ledger.emitted(len(items))
        return items

    def snapshot(self) -> bytes:
        """Input positions and engine state together: a resume continues both at one point. A
        forked child writes the state, and the snapshot names the newest checkpoint written
        whose outputs are durable (flows/checkpoints.py), but at the end of a run (a stop, the
        end of the input), where it holds the state itself once the outputs are drained.
        Without a recovery store Bytewax still asks at every epoch and drops the answer: an
        empty marker instead, which a resume refuses rather than starting from nothing."""
        if self._checkpoints is None:
            return _NO_SNAPSHOT
        self._commit(self._snapshotted)
        shard, positions = self._shard, self._shard.reader.positions
        if stopping.requested() or shard.reader.exhausted:
            take, durable = self._checkpoints.final, self._ledger.drain()
        else:
            take, durable = self._checkpoints.snapshot, self._ledger.durable()
        self._snapshotted, snapshot = take(positions, shard.engine.state, self._emitted, durable)
        return snapshot

    def _commit(self, positions: Any, *, wait: bool = False) -> None:
        """Show operators' lag tools the positions one snapshot behind (that epoch's output is
        written by now) and at the end of the run (`KafkaReader.commit`, waiting for the
        broker only then); a reader without a consumer group commits nothing."""
        commit = getattr(self._shard.reader, "commit", None)
        if commit is not None and positions:
            commit(positions, wait=wait)

    def close(self) -> None:
        self._commit(self._shard.reader.positions, wait=True)
        self._shard.reader.close()


OpenReader = Callable[[int, int, Any], Reader]  # (shard, shards, positions or None) -> reader


class ShardSource(FixedPartitionedSource[Records, bytes]):
    """`shards` ordered paths (one per worker of the whole cluster), as the source's partitions:
    Bytewax gives each worker its own, so work is divided and never exchanged."""

    def __init__(
        self,
        open_reader: OpenReader,
        new_engine: Callable[[], Engine],
        *,
        shards: int = 1,
        local: Sequence[int] | None = None,
        window: Window | None = None,
        batch: int = 1000,
        checkpoints: Path | None = None,
        progress: Callable[[int], None] | None = None,
        future_tolerance_s: float | None = DEFAULT_FUTURE_TOLERANCE_S,
        progress_every_s: float = 10.0,
    ) -> None:
        """`local`: the shards this process runs (default: all `shards`; `Cluster.local_shards`
        when the work is divided between processes). `checkpoints`: the recovery store's folder,
        to take snapshots (forked children write the engine state there: flows/checkpoints.py);
        None: a run without a recovery store."""
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        self._open, self._new_engine, self.shards = open_reader, new_engine, shards
        self._local = range(shards) if local is None else local
        self._window, self._batch, self._checkpoints, self._progress = (
            window or Window(),
            batch,
            checkpoints,
            progress,
        )
        self._future_tolerance_s = future_tolerance_s
        self._progress_every_s = progress_every_s
        self.ledger = Ledger(0)  # build_flow gives the flow's, which knows its outputs

    def list_parts(self) -> list[str]:
        return [f"shard-{i}" for i in self._local]

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> _ShardPartition:
        if resume_state == _NO_SNAPSHOT:
            raise RecoveryError(
                "the recovery store holds state from a flow built without checkpoints; it "
                "cannot be resumed: start from an empty recovery directory"
            )
        index = int(for_part.removeprefix("shard-"))
        engine = self._new_engine()
        positions, path = None, None
        if resume_state is not None:
            # our own snapshot from the recovery store, which Bytewax itself reads with pickle
            snapshot = pickle.loads(resume_state)  # noqa: S301
            if len(snapshot) != 3 or snapshot[0] != STATE_LAYOUT:
                raise RecoveryError(
                    "the recovery store holds a snapshot of the engine state as an older propstream "
                    "laid it out; remove the recovery directory and start the worker with "
                    "--start-at earliest to rebuild the state from the topics"
                )
            _, positions, held = snapshot
            state, path = load_state(held)  # the state itself, or the checkpoint file it names
            if state is not None:
                engine.state = state
        reader = self._open(index, self.shards, positions)
        shard = Shard(
            index, self.shards, reader, engine, self._window, future_tolerance_s=self._future_tolerance_s
        )
        watch = Watch(index, self._progress_every_s)
        checkpoints = None
        if self._checkpoints is not None:
            checkpoints = Checkpoints(self._checkpoints, index, STATE_LAYOUT, reader.positions, path)
        return _ShardPartition(shard, self._batch, checkpoints, self._progress, watch, ledger=self.ledger)


def build_flow(
    source: ShardSource, sinks: Sequence[Callable[[], Sink]], name: str = "propstream"
) -> Dataflow:
    flow = Dataflow(name)
    source.ledger = ledger = Ledger(len(sinks))
    records = op.input("input", flow, source)
    for i, factory in enumerate(sinks):
        op.output(f"sink_{i}", records, SinkAdapter(factory, i, ledger))
    return flow
