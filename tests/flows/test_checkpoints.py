"""Forked checkpoints and the ledger: a snapshot names a checkpoint only once its file is
written and every output emitted before it is durable; the last snapshot of a run holds the
state itself; files no snapshot can name are removed. And the outputs a flow drives on a
thread of their own or flushes at snapshots count as durable only once they are."""

from __future__ import annotations

import gc
import pickle
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from connectors.sinks import Sink
from flows.checkpoints import Checkpoints, load_state
from flows.ledger import Ledger
from flows.outputs import SinkAdapter
from vocabulary.events import DeadLetter
from vocabulary.letters import DeadLetters

LAYOUT = 7


def _resume(snapshot: bytes) -> tuple[object, object, str | None]:
    """(positions, state, file) as a resume reads the snapshot."""
    layout, positions, held = pickle.loads(snapshot)
    assert layout == LAYOUT
    return (positions, *load_state(held))


def test_a_checkpoint_is_named_once_written_and_its_outputs_durable(tmp_path: Path) -> None:
    state = {"players": list(range(10_000)), "name": "state at 7"}
    checkpoints = Checkpoints(tmp_path, 0, LAYOUT, {"t#0": 0}, None)
    positions, first = checkpoints.snapshot({"t#0": 7}, state, 70, 0)
    assert positions == {"t#0": 0} and _resume(first) == ({"t#0": 0}, None, None)  # the start
    checkpoints.wait()
    # written, but 70 items were emitted before it and only 69 are durable: not named yet
    positions, _ = checkpoints.snapshot({"t#0": 9}, {"later": True}, 90, 69)
    assert positions == {"t#0": 0}
    positions, third = checkpoints.snapshot({"t#0": 9}, {"later": True}, 90, 70)
    assert positions == {"t#0": 7}
    resumed_positions, resumed_state, path = _resume(third)
    assert (resumed_positions, resumed_state) == ({"t#0": 7}, state)
    assert path is not None and Path(path).parent == tmp_path / "checkpoints"
    checkpoints.wait()


class _CollectorSeen:
    """Pickles as whether the garbage collector was on where it was pickled (the child)."""

    def __reduce__(self) -> tuple[object, tuple[bool]]:
        return bool, (gc.isenabled(),)


def test_the_child_writes_without_collecting_and_the_worker_goes_on_collecting(tmp_path: Path) -> None:
    """A collection in the child copies every page it walks; one held off in the worker until
    the child is done walked all that was allocated meanwhile, mid-batch (flows/checkpoints.py)."""
    checkpoints = Checkpoints(tmp_path, 0, LAYOUT, {"t#0": 0}, None)
    checkpoints.snapshot({"t#0": 1}, {"collecting": _CollectorSeen()}, 1, 0)
    assert gc.isenabled()  # the child is writing, or has written
    checkpoints.wait()
    _, named = checkpoints.snapshot({"t#0": 2}, {}, 2, 1)
    assert _resume(named)[1] == {"collecting": False}
    checkpoints.wait()


def test_the_last_snapshot_holds_the_state_once_everything_is_durable(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, 0, LAYOUT, {"t#0": 0}, None)
    checkpoints.snapshot({"t#0": 3}, {"n": 3}, 3, 0)
    positions, last = checkpoints.final({"t#0": 5}, {"n": 5}, 5, 5)
    assert positions == {"t#0": 5} and _resume(last) == ({"t#0": 5}, {"n": 5}, None)
    # an output still holding items: the newest checkpoint whose items are durable instead
    positions, last = checkpoints.final({"t#0": 5}, {"n": 5}, 5, 4)
    assert positions == {"t#0": 3} and _resume(last)[1] == {"n": 3}


def test_files_no_snapshot_can_name_are_removed(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, 1, LAYOUT, {}, None)
    for i in range(5):
        checkpoints.snapshot({"p": i}, {"n": i}, i, i)
        checkpoints.wait()
    named = pickle.loads(checkpoints.snapshot({"p": 5}, {"n": 5}, 5, 5)[1])[2]
    checkpoints.wait()
    files = sorted(str(f) for f in (tmp_path / "checkpoints").iterdir())
    # the file named now (the fifth) and the one written after it; the older ones are gone
    assert len(files) == 2 and files[0] == named
    assert load_state(named)[0] == {"n": 4}


class _Recording(Sink):
    """A sink that keeps what it writes, optionally slowly, failing on demand."""

    accepts = (DeadLetter, DeadLetters)

    def __init__(self, pacing: Literal["batch", "thread", "snapshot"], delay_s: float = 0.0) -> None:
        self.pacing = pacing
        self.delay_s, self.fail = delay_s, False
        self.written: list[list[BaseModel]] = []
        self.flushed = 0
        self.release = threading.Event()
        self.release.set()

    def write_batch(self, records: Sequence[BaseModel]) -> None:
        self.release.wait()
        if self.fail:
            raise RuntimeError("the destination refused the batch")
        time.sleep(self.delay_s)
        self.written.append(list(records))

    def flush(self) -> None:
        self.flushed += 1


def _letters(start: int, n: int) -> list[BaseModel]:
    return [
        DeadLetter(source="t", partition=0, offset=i, original=b"x", reason="r", detail="")
        for i in range(start, start + n)
    ]


def test_a_thread_output_is_durable_once_written_and_coalesces_what_queued() -> None:
    sink, ledger = _Recording("thread"), Ledger(1)
    part = SinkAdapter(lambda: sink, 0, ledger).build("out", 0, 1)
    sink.release.clear()  # the destination holds the first write
    part.write_batch([_letters(0, 2)])  # an item is what one step made: a list of records
    part.write_batch([_letters(2, 3)])
    part.write_batch([_letters(5, 1)])
    assert ledger.durable() == 0
    sink.release.set()
    assert ledger.drain() == 3  # the ledger counts items
    assert [len(b) for b in sink.written] in ([6], [2, 4])  # what queued went as one batch
    assert [d.offset for b in sink.written for d in b] == list(range(6))  # type: ignore[attr-defined]
    part.close()


def test_a_thread_output_writes_at_most_every_write_every_s_but_a_drain_goes_at_once() -> None:
    sink, ledger = _Recording("thread"), Ledger(1)
    sink.write_every_s = 60.0
    part = SinkAdapter(lambda: sink, 0, ledger).build("out", 0, 1)
    part.write_batch([_letters(0, 1)])  # the first write goes at once
    deadline = time.monotonic() + 10
    while not sink.written and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(1, 4):
        part.write_batch([_letters(i, 1)])
        time.sleep(0.05)
    assert [len(b) for b in sink.written] == [1]  # the rest wait for the interval
    started = time.monotonic()
    assert ledger.drain() == 4
    assert time.monotonic() - started < 10  # not the interval's 60 s
    assert [len(b) for b in sink.written] == [1, 3]  # what waited went as one batch
    part.close()


def test_a_snapshot_output_is_durable_only_after_its_flush() -> None:
    sink, ledger = _Recording("snapshot"), Ledger(1)
    part = SinkAdapter(lambda: sink, 0, ledger).build("out", 0, 1)
    part.write_batch([_letters(0, 2), _letters(2, 2)])
    assert sink.flushed == 0  # not after each batch
    assert ledger.durable() == 2 and sink.flushed == 1  # asked at a snapshot: flushed then
    assert [d.offset for b in sink.written for d in b] == list(range(4))  # type: ignore[attr-defined]
    part.close()


def test_an_output_not_yet_written_to_holds_every_checkpoint_back() -> None:
    ledger = Ledger(2)
    ledger.emitted(5)
    one = SinkAdapter(lambda: _Recording("batch"), 0, ledger).build("a", 0, 1)
    one.write_batch([_letters(i, 1) for i in range(5)])
    assert ledger.durable() == 0  # the second output has not said what it holds
    two = SinkAdapter(lambda: _Recording("batch"), 1, ledger).build("b", 0, 1)
    two.write_batch([_letters(i, 1) for i in range(5)])
    assert ledger.durable() == 5


def test_a_failure_on_the_writer_thread_reaches_the_worker() -> None:
    sink = _Recording("thread")
    sink.fail = True
    part = SinkAdapter(lambda: sink, 0, Ledger(1)).build("out", 0, 1)
    part.write_batch([_letters(0, 1)])
    with pytest.raises(RuntimeError, match="failed in its writer thread"):
        for _ in range(100):  # raised at the next call once the thread has failed
            part.write_batch([_letters(1, 1)])
            time.sleep(0.01)


def test_an_item_is_a_list_of_records() -> None:
    """A record handed as an item would be read as its fields: refused, never dropped."""
    part = SinkAdapter(lambda: _Recording("batch")).build("out", 0, 1)
    with pytest.raises(TypeError, match="list of records"):
        part.write_batch(_letters(0, 1))  # type: ignore[arg-type]


def test_a_sink_that_takes_dead_letters_must_take_the_flows_columns() -> None:
    """A step hands its dead letters over as one `DeadLetters`: a sink that accepted only
    `DeadLetter` records would silently see none, so the output refuses it at once."""
    sink = _Recording("batch")
    sink.accepts = (DeadLetter,)
    with pytest.raises(TypeError, match="must accept DeadLetters too"):
        SinkAdapter(lambda: sink).build("out", 0, 1)
