"""Processes that divide the work: which shards each runs, and whose recovery store it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from bytewax.recovery import init_db_dir

from flows.run import Cluster, ClusterError, StoreLayoutError


def test_the_processes_run_every_shard_once() -> None:
    processes = [Cluster(workers=2, process=i, processes=3) for i in range(3)]
    assert {c.shards for c in processes} == {6}
    assert sorted(s for c in processes for s in c.local_shards) == list(range(6))


@pytest.mark.parametrize(("workers", "process", "processes"), [(0, 0, 1), (1, 2, 2), (1, -1, 2), (1, 0, 0)])
def test_a_division_that_cannot_run_is_refused(workers: int, process: int, processes: int) -> None:
    with pytest.raises(ClusterError, match="-n the number of processes"):
        Cluster(workers=workers, process=process, processes=processes)


def test_each_process_keeps_its_own_store(tmp_path: Path) -> None:
    assert Cluster().store(None) is None
    assert Cluster().store(tmp_path) == tmp_path
    stores = {Cluster(process=i, processes=2).store(tmp_path) for i in (0, 1)}
    assert stores == {tmp_path / "process-0-of-2", tmp_path / "process-1-of-2"}


def test_a_store_of_another_number_of_processes_is_refused(tmp_path: Path) -> None:
    """Resuming it would start every shard from nothing (a worker from `start_at`)."""
    for i in (0, 1):
        ours = Cluster(process=i, processes=2).store(tmp_path)
        assert ours is not None
        ours.mkdir()
        init_db_dir(ours, 1)
    assert Cluster(process=1, processes=2).store(tmp_path) == tmp_path / "process-1-of-2"
    with pytest.raises(StoreLayoutError, match=r"process-0-of-2, process-1-of-2\), not of process 0 of 3"):
        Cluster(process=0, processes=3).store(tmp_path)
    with pytest.raises(StoreLayoutError, match="run with the same -n as before"):
        Cluster().store(tmp_path)
    single = tmp_path / "single"
    single.mkdir()
    init_db_dir(single, 1)
    with pytest.raises(StoreLayoutError, match=r"\(single\)"):
        Cluster(process=0, processes=2).store(single)
    named = tmp_path / "state-of-2"  # a single process's store whose name ends like a layout's
    named.mkdir()
    init_db_dir(named, 1)
    with pytest.raises(StoreLayoutError, match=r"\(state-of-2\)"):
        Cluster(process=0, processes=2).store(named)
