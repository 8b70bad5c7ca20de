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

__all__ = ["Cluster", "Flow", "RunCounts", "counts", "execute", "live_gc"]

Flow = Dataflow  # what the CLI hands to `execute`, named without importing Bytewax there

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cluster:
    """`-w` workers per process; with `-a` addresses, this is process `-i` of several."""

    workers: int = 1
    process: int = 0
    addresses: tuple[str, ...] = ()

    @property
    def shards(self) -> int:
        """Ordered paths in the whole cluster: one per worker."""
        return self.workers * max(1, len(self.addresses))


def execute(flow: Dataflow, cluster: Cluster, *, recovery_dir: Path | None, epoch_s: float) -> None:
    """Run the flow as `python -m bytewax.run` does (its production entry point), as process
    `cluster.process` of `cluster.addresses` with `cluster.workers` workers each. With a
    recovery directory, state and input positions are snapshotted every `epoch_s` seconds and
    a restart resumes from the last snapshot. SIGINT or SIGTERM stops it cleanly: the batch in
    flight is written, every shard is snapshotted and this returns (`flows.stopping`)."""
    recovery = None
    if recovery_dir is not None:
        if not any(recovery_dir.glob("*.sqlite3")):
            recovery_dir.mkdir(parents=True, exist_ok=True)
            partitions = max(1, cluster.workers * max(1, len(cluster.addresses)))
            init_db_dir(recovery_dir, partitions)
            logger.info("initialised the recovery store %s with %s partitions", recovery_dir, partitions)
        else:
            logger.info("resuming from the recovery store %s", recovery_dir)
        recovery = RecoveryConfig(str(recovery_dir), backup_interval=timedelta(seconds=epoch_s))
    if cluster.addresses or cluster.workers > 1:
        logger.info(
            "running %s worker(s) in process %s of %s",
            cluster.workers,
            cluster.process,
            max(1, len(cluster.addresses)),
        )
    _tune_gc()
    with stopping():  # SIGINT/SIGTERM end the sources: the flow completes after a last snapshot
        cli_main(
            flow,
            workers_per_process=cluster.workers,
            process_id=cluster.process if cluster.addresses else None,
            addresses=list(cluster.addresses) or None,
            epoch_interval=timedelta(seconds=epoch_s),
            recovery_config=recovery,
        )


# Young collections every this many allocations. Catching up (a replay, a worker's backlog), no
# one waits on one event: two replays of the history at 50,000 spent 0.6 s of their 12.4 in 32
# young collections that found 339 objects in all; at 500,000, 1 ms. Live, each line move waits
# through the collection it meets, which walks what was allocated since the last and survived:
# at 50,000, 30-66 ms in a quiet moment; at 5,000 with its survivors frozen, 2-31 ms, and the
# line-move p99 37-42 ms against 53-62 (docs/operations.md).
CATCH_UP_GC_THRESHOLD = 500_000
LIVE_GC_THRESHOLD = 5_000


def _tune_gc() -> None:
    """The flow allocates many short-lived objects (events, vectors, records) and almost no
    reference cycles, so CPython's default of a young collection every 700 allocations spends
    about a fifth of a replay's CPU finding nothing (docs/operations.md). Collect young objects
    every `CATCH_UP_GC_THRESHOLD` allocations until the input is caught up (`live_gc`), and
    move what start-up built (models, settings, the modules) out of the collector's view."""
    if _freeze_survivors in gc.callbacks:  # a live flow ran in this process before
        gc.callbacks.remove(_freeze_survivors)
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
