"""The flow's garbage collection: caught up, what survives a young collection leaves the
collector's view, so the next one walks only what was allocated since (flows/run.py)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.adapters import read_records
from connectors.files import DataLayout
from connectors.kafka import Publisher, ensure_topics
from connectors.kafka_input import KafkaReader
from connectors.parquet import ParquetSink
from connectors.serde import encode
from flows.dataflow import ShardSource, build_flow
from flows.run import (
    CATCH_UP_GC_THRESHOLD,
    LIVE_GC_THRESHOLD,
    Cluster,
    _freeze_survivors,
    _tune_gc,
    counts,
    execute,
    live_gc,
)
from scoring.engine import Engine
from scoring.scorer import Scorer
from tests.stack import REPO
from vocabulary.keys import message_key
from vocabulary.topics import INPUT_TOPICS


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    if _freeze_survivors in gc.callbacks:
        gc.callbacks.remove(_freeze_survivors)
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_live_collections_freeze_their_survivors_and_a_new_run_stops_it() -> None:
    live_gc()
    assert gc.get_threshold()[0] == LIVE_GC_THRESHOLD
    live_gc()  # a second worker of the process catching up: one callback
    assert gc.callbacks.count(_freeze_survivors) == 1
    frozen = gc.get_freeze_count()
    survivors = [[i] for i in range(1000)]  # containers the collector tracks (some collected already)
    gc.collect(0)
    assert gc.get_freeze_count() >= frozen + len(survivors)
    assert not gc.get_objects(1) and not gc.get_objects(2)  # nothing left for an older collection
    _tune_gc()  # the next run catches up: young collections leave their survivors where they are
    assert _freeze_survivors not in gc.callbacks
    assert gc.get_threshold()[0] == CATCH_UP_GC_THRESHOLD
    more = [[i] for i in range(1000)]
    gc.collect(0)
    assert len(gc.get_objects(1)) >= len(more)
    del survivors, more


_FIRST_AND_LATER = """
import gc, weakref
from flows.run import _tune_gc

class Node:
    pass

def garbage():
    node = Node()
    node.me = node  # a reference cycle: only a collection frees it
    return weakref.ref(node)

before_first = garbage()
_tune_gc()  # the process's first flow: frozen as it is, no full collection
assert before_first() is not None and gc.get_freeze_count() > 0
before_second = garbage()
_tune_gc()  # a later flow: what the flows before left is collected, then frozen
assert before_second() is None
assert before_first() is not None  # import-time garbage of that kind stays, frozen
"""


def test_only_a_later_flow_of_a_process_collects_before_freezing() -> None:
    """The first flow of a process skips the full collection (50-80 ms over the imported
    modules, for a few objects of garbage); a later one must not freeze the earlier flows'
    garbage for good. In a fresh interpreter: this one has frozen before."""
    subprocess.run(
        [sys.executable, "-c", _FIRST_AND_LATER], check=True, cwd=REPO
    )  # `-c`: the cwd on the path


@pytest.mark.usefixtures("restored_gc")
def test_a_replay_caught_up_keeps_collecting_as_it_caught_up(
    kafka_bootstrap: str, topic_prefix: str, day_folder: Path, tmp_path: Path, scorers: list[Scorer]
) -> None:
    """Only a tailing input (the worker) is ever live: a replay of the topics, caught up at its
    end, must not switch to the live collections (3% of a replay's CPU: docs/operations.md)."""
    topics = {t: f"{topic_prefix}{t}" for t in INPUT_TOPICS}
    ensure_topics(kafka_bootstrap, dict.fromkeys(topics.values(), 1))
    with Publisher(kafka_bootstrap) as publisher:
        for record in read_records(DataLayout.discover(day_folder)):
            if record.event is not None:
                ts_ms = int(record.event.ts.timestamp() * 1000)
                publisher.publish(
                    topics[record.topic], message_key(record.event), encode(record.event), ts_ms
                )

    def open_reader(shard: int, shards: int, positions: object) -> KafkaReader:
        return KafkaReader(kafka_bootstrap, topics, [(t, 0) for t in topics.values()], tail=False)

    before = counts()
    source = ShardSource(open_reader, lambda: Engine(scorers))
    execute(build_flow(source, [lambda: ParquetSink(tmp_path)]), Cluster(), recovery_dir=None, epoch_s=5)
    assert sum(counts(before).events_in.values()) > 1000
    assert gc.get_threshold()[0] == CATCH_UP_GC_THRESHOLD
    assert _freeze_survivors not in gc.callbacks
