"""The flow's garbage collection: caught up, what survives a young collection leaves the
collector's view, so the next one walks only what was allocated since (flows/run.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from flows.run import CATCH_UP_GC_THRESHOLD, LIVE_GC_THRESHOLD, _freeze_survivors, _tune_gc, live_gc


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
    survivors = [[i] for i in range(1000)]  # containers the collector tracks
    frozen = gc.get_freeze_count()
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
