"""Running a dataflow with Bytewax's production entry point, and the counts a run reconciles."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main
from prometheus_client import REGISTRY

from flows.stopping import stopping
from vocabulary.errors import PropstreamError

__all__ = ["Cluster", "ClusterError", "Flow", "RunCounts", "StoreLayoutError", "counts", "execute", "live_gc"]

Flow = Dataflow  # what the CLI hands to `execute`, named without importing Bytewax there

logger = logging.getLogger(__name__)


class ClusterError(PropstreamError):
    """A division of the work that cannot be run."""


class StoreLayoutError(PropstreamError):
    """The recovery store was written by another number of processes."""


@dataclass(frozen=True)
class Cluster:
    """`-w` workers per process; with `-n` processes, this is process `-i` of them. The
    processes share nothing: each runs its own Bytewax dataflow over its own shards and keeps
    its own recovery store. Joined as a Bytewax cluster, they exchanged no item, yet each start
    lost up to a second (timely retries a refused connection after 1 s: in 8 of 14 two-process
    replays) and every epoch waited for the slowest process (docs/operations.md)."""

    workers: int = 1
    process: int = 0
    processes: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1 or self.processes < 1 or not 0 <= self.process < self.processes:
            raise ClusterError(
                f"process {self.process} of {self.processes} with {self.workers} worker(s) a process: "
                "give -n the number of processes (at least 1), -i this one's index (0 to n-1) and -w "
                "at least 1"
            )

    @property
    def shards(self) -> int:
        """Ordered paths in all processes together: one per worker."""
        return self.workers * self.processes

    @property
    def local_shards(self) -> range:
        """The shards this process runs."""
        return range(self.process * self.workers, (self.process + 1) * self.workers)

    def store(self, recovery_dir: Path | None) -> Path | None:
        """This process's recovery store: the directory itself for one process, else a folder of
        it named for the process and their number (processes on one machine may share the
        directory). A store the other layout wrote is refused: resuming it would start shards
        from nothing, and a worker from `start_at`."""
        if recovery_dir is None:
            return None
        ours = (
            recovery_dir / f"process-{self.process}-of-{self.processes}"
            if self.processes > 1
            else recovery_dir
        )
        # state another layout wrote: the directory itself under several processes, and the
        # folders of another number of processes (or of any, under one)
        suffix = f"-of-{self.processes}"
        folders = sorted(recovery_dir.glob("process-*-of-*"))
        if self.processes > 1:
            folders = [recovery_dir, *(p for p in folders if not p.name.endswith(suffix))]
        others = [p.name for p in folders if any(p.glob("*.sqlite3"))]
        if others:
            raise StoreLayoutError(
                f"the recovery store {recovery_dir} holds state of another number of processes "
                f"({', '.join(others)}), not of process {self.process} of {self.processes}: run with "
                "the same -n as before, or start from an empty --recovery-dir (a worker with "
                "--start-at earliest rebuilds its state from the topics)"
            )
        return ours


def execute(flow: Dataflow, cluster: Cluster, *, recovery_dir: Path | None, epoch_s: float) -> None:
    """Run the flow as `python -m bytewax.run` does (its production entry point), with
    `cluster.workers` workers, as process `cluster.process` of `cluster.processes`, which share
    nothing (`Cluster`). With a recovery directory (this process's: `Cluster.store`), state and
    input positions are snapshotted every `epoch_s` seconds and a restart resumes from the last
    snapshot. SIGINT or SIGTERM stops it cleanly: the batch in flight is written, every shard is
    snapshotted and this returns (`flows.stopping`)."""
    recovery = None
    if recovery_dir is not None:
        if not any(recovery_dir.glob("*.sqlite3")):
            recovery_dir.mkdir(parents=True, exist_ok=True)
            init_db_dir(recovery_dir, cluster.workers)
            logger.info("initialised the recovery store %s with %s partitions", recovery_dir, cluster.workers)
        else:
            logger.info("resuming from the recovery store %s", recovery_dir)
        recovery = RecoveryConfig(str(recovery_dir), backup_interval=timedelta(seconds=epoch_s))
    if cluster.processes > 1 or cluster.workers > 1:
        logger.info(
            "running %s worker(s) in process %s of %s: shards %s of %s",
            cluster.workers,
            cluster.process,
            cluster.processes,
            ", ".join(map(str, cluster.local_shards)),
            cluster.shards,
        )
    _tune_gc()
    with stopping():  # SIGINT/SIGTERM end the sources: the flow completes after a last snapshot
        cli_main(
            flow,
            workers_per_process=cluster.workers,
            epoch_interval=timedelta(seconds=epoch_s),
            recovery_config=recovery,
        )


# Young collections every this many allocations. Catching up (a replay, a worker's backlog), no
# one waits on one event: two replays of the history at 50,000 spent 0.6 s of their 12.4 in 32
# young collections that found 339 objects in all; at 500,000, 1 ms. Live, each line move waits
# through the collection it meets, which walks what was allocated since the last and survived:
# at 50,000, 30-66 ms in a quiet moment; at 5,000 with its survivors frozen, 2-31 ms, and the
# line-move p99 37-42 ms against 53-62. A young collection's cost is per object walked (its
# references into the frozen heap miss the cache: about 1 µs an object), so a smaller threshold
# costs no more CPU in all and holds a batch less each time: at 500, 0.24 ms at p50 and 2.7 at
# most, against 6.5 and 14.9 at 5,000, over the same 34 s of line moves (docs/operations.md).
CATCH_UP_GC_THRESHOLD = 500_000
LIVE_GC_THRESHOLD = 500


def _tune_gc() -> None:
    """The flow allocates many short-lived objects (events, vectors, records) and almost no
    reference cycles, so CPython's default of a young collection every 700 allocations spends
    about a fifth of a replay's CPU finding nothing (docs/operations.md). Collect young objects
    every `CATCH_UP_GC_THRESHOLD` allocations until the input is caught up (`live_gc`), and
    move what start-up built (models, settings, the modules) out of the collector's view.

    A full collection first only when a flow ran in this process before (tests, the bench):
    its garbage must not be frozen for good. At a process's first flow the collection found
    about 15 objects of import-time garbage and took 50-80 ms (the imported modules' 80,000
    objects walked once): 2-3% of a replay of the shipped history."""
    if _freeze_survivors in gc.callbacks:  # a live flow ran in this process before
        gc.callbacks.remove(_freeze_survivors)
    if gc.get_freeze_count():  # a flow ran in this process before
        gc.collect()
    gc.freeze()
    gc.set_threshold(CATCH_UP_GC_THRESHOLD, 20, 100)


def live_gc() -> None:
    """Caught up: what catching up built (the engine's state, the models) leaves the
    collector's view (a full collection over the history's heap held a batch for up to 1 s),
    once the young generations are collected (frozen garbage would stay for good). From then on
    a young collection comes every `LIVE_GC_THRESHOLD` allocations and what survives it is
    frozen too (`_freeze_survivors`): each walks only what was allocated since the last, and no
    older generation grows for a long collection to walk."""
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(LIVE_GC_THRESHOLD, 20, 100)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After each collection, its survivors leave the collector's view. They are freed as
    usual when their last reference goes; only a reference cycle among them would stay, and the
    live worker's young collections found none (0 objects in each, in the latency bench)."""
    if phase == "stop":
        gc.freeze()


@dataclass(frozen=True)
class RunCounts:
    """What came in and what went out; `reconciles` is events in = applied + dead-lettered."""

    events_in: dict[str, int]
    applied: dict[str, int]
    dead_letters: dict[str, int]
    predictions: int
    grades: int

    @property
    def reconciles(self) -> bool:
        return sum(self.events_in.values()) == sum(self.applied.values()) + sum(self.dead_letters.values())


def _samples(name: str, label: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_total":
                out[sample.labels.get(label, "")] = out.get(sample.labels.get(label, ""), 0) + int(
                    sample.value
                )
    return out


def counts(before: RunCounts | None = None) -> RunCounts:
    """This process's counters (minus `before`, to count one run of several in a process)."""
    now = RunCounts(
        events_in=_samples("propstream_events_in", "topic"),
        applied=_samples("propstream_events_applied", "topic"),
        dead_letters=_samples("propstream_dead_letters", "reason"),
        predictions=_samples("propstream_records_out", "kind").get("prediction", 0),
        grades=_samples("propstream_records_out", "kind").get("grade", 0),
    )
    if before is None:
        return now

    def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

    return RunCounts(
        minus(now.events_in, before.events_in),
        minus(now.applied, before.applied),
        minus(now.dead_letters, before.dead_letters),
        now.predictions - before.predictions,
        now.grades - before.grades,
    )
