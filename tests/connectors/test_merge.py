"""The timestamp merge of partitions: its order never depends on how fetches arrive."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.merge import TimeMerge

Message = tuple[int, int, int]  # (partition, offset, ts)

# per partition, the timestamps of its messages in offset order (not necessarily sorted: a
# late event is published after newer ones)
logs = st.lists(st.lists(st.integers(0, 20), max_size=12), min_size=1, max_size=4)


def _greedy(partitions: list[list[int]]) -> list[Message]:
    """The order wanted, from complete logs: always the smallest (ts, partition) head."""
    heads = [0] * len(partitions)
    out = []
    while True:
        live = [p for p in range(len(partitions)) if heads[p] < len(partitions[p])]
        if not live:
            return out
        p = min(live, key=lambda q: (partitions[q][heads[q]], q))
        out.append((p, heads[p], partitions[p][heads[p]]))
        heads[p] += 1


@settings(max_examples=300, deadline=None)
@given(partitions=logs, data=st.data())
def test_merge_order_is_independent_of_fetch_chunks_and_take_sizes(
    partitions: list[list[int]], data: st.DataObject
) -> None:
    """...and no take ends inside a run of one timestamp: the engine rescores at the end of a
    take, so a split run would emit one prediction id with two contents."""
    stops = {p: len(log) for p, log in enumerate(partitions)}
    merge: TimeMerge[int, Message] = TimeMerge(dict.fromkeys(stops, 0), stops)
    fetched = dict.fromkeys(stops, 0)

    def fetch(p: int) -> None:  # a chunk of 1-4 messages of partition p arrives
        for _ in range(data.draw(st.integers(1, 4))):
            if fetched[p] < stops[p]:
                ts = partitions[p][fetched[p]]
                merge.add(p, fetched[p], ts, (p, fetched[p], ts))
                fetched[p] += 1

    out: list[Message] = []
    takes: list[list[Message]] = []
    while not merge.exhausted:
        pending = [p for p in stops if fetched[p] < stops[p]]
        if pending and data.draw(st.booleans()):
            fetch(data.draw(st.sampled_from(pending)))
            continue
        taken = merge.take(data.draw(st.integers(1, 5)))
        assert taken or pending or merge.exhausted, "the merge stalled with everything fetched"
        if not taken and pending:
            fetch(data.draw(st.sampled_from(pending)))
        out += taken
        takes += [taken] if taken else []
    assert merge.exhausted
    assert out == _greedy(partitions)
    for before, after in itertools.pairwise(takes):
        assert before[-1][2] != after[0][2], "a take split a run of one timestamp"
    # positions are where a resumed run continues: past every message emitted
    for p, offset, _ in out:
        assert merge.positions[p] > offset


def test_a_partition_waits_for_the_others_before_emitting() -> None:
    merge: TimeMerge[str, str] = TimeMerge({"props": 0, "box": 0}, {"props": 2, "box": 1})
    merge.add("props", 0, 50, "prop@50")
    merge.add("props", 1, 60, "prop@60")
    assert merge.take(10) == []  # the box score partition may still hold an earlier event
    merge.add("box", 0, 40, "box@40")
    assert merge.take(10) == ["box@40", "prop@50", "prop@60"]
    assert merge.exhausted
    assert merge.positions == {"props": 2, "box": 1}


def test_messages_past_the_stop_and_offsets_without_messages() -> None:
    merge: TimeMerge[str, str] = TimeMerge({"a": 5}, {"a": 8})
    merge.add("a", 5, 1, "first")
    assert merge.take(10) == []  # offsets 6 and 7 may hold another message of time 1
    merge.add("a", 9, 2, "published after the run started")
    assert merge.take(10) == ["first"]
    assert merge.exhausted  # offset 9 was fetched: 6 and 7 hold no message
    empty: TimeMerge[str, str] = TimeMerge({"a": 0, "b": 0}, {"a": 1, "b": 3})
    empty.add("a", 0, 1, "a0")
    assert empty.take(10) == []
    empty.reached("b", 3)  # end of partition at 3, no message (transaction markers)
    assert empty.take(10) == ["a0"]
    assert empty.exhausted


def test_tailing_partitions_at_their_end_hold_nobody_back() -> None:
    """The worker: partitions never end; one caught up (its end reached) does not delay the
    others, and a new message makes it count again."""
    merge: TimeMerge[str, str] = TimeMerge({"props": 0, "box": 0}, {"props": None, "box": None})
    merge.add("props", 0, 50, "move@50")
    merge.reached("props", 1)  # the consumer reports the end right after the last message
    assert merge.take(10) == []  # the box scores' end is not known yet
    merge.reached("box", 0)
    assert merge.take(10) == ["move@50"]  # a line move goes out at once
    merge.add("props", 1, 70, "move@70")
    merge.add("box", 0, 60, "box@60")  # box is fetching again: no longer caught up
    merge.reached("props", 2)
    assert merge.take(10) == []  # box may still hold something before 70, or more of 60
    merge.reached("box", 1)
    assert merge.take(10) == ["box@60", "move@70"]
    assert not merge.exhausted


def test_a_released_partition_holds_nobody_back_until_it_delivers_again() -> None:
    merge: TimeMerge[str, str] = TimeMerge({"props": 0, "box": 0}, {"props": None, "box": None})
    merge.add("props", 0, 50, "move@50")
    merge.reached("props", 1)
    assert merge.take(10) == []
    assert merge.blocking() == ["box"]
    merge.release("box")  # silent too long: the worker goes on
    assert merge.take(10) == ["move@50"]
    assert merge.blocking() == []
    merge.add("box", 0, 40, "box@40")  # it speaks again, late: out of order, and waited for again
    merge.add("props", 1, 60, "move@60")
    merge.reached("props", 2)
    assert merge.take(10) == []  # its next message may also be of time 40
    merge.add("box", 1, 45, "box@45")
    assert merge.take(10) == ["box@40"]
    assert merge.take(10) == []  # box is waited for again: 45 is its last fetched message
    assert merge.blocking() == []  # (it has one buffered: not silent)


def test_partitions_must_match() -> None:
    with pytest.raises(ValueError, match="same partitions"):
        TimeMerge({"a": 0}, {"b": 1})


# runs of one timestamp longer than the buffer bounds below, as a day's props are
long_runs = st.lists(
    st.lists(st.tuples(st.integers(0, 8), st.integers(1, 9)), max_size=5).map(
        lambda runs: [ts for ts, n in runs for _ in range(n)]
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(partitions=long_runs, high=st.integers(1, 4), data=st.data())
def test_flow_control_never_stalls_the_merge(
    partitions: list[list[int]], high: int, data: st.DataObject
) -> None:
    """A reader that fetches only the partitions `wants` asks for (pausing the others, as the
    Kafka reader does) gets every message in the merged order, with buffers bounded by `high`
    but for a run of one timestamp: flow control can delay the merge, never stop it."""
    low = data.draw(st.integers(1, high))
    stops = {p: len(log) for p, log in enumerate(partitions)}
    merge: TimeMerge[int, Message] = TimeMerge(dict.fromkeys(stops, 0), stops)
    fetched, fetching = dict.fromkeys(stops, 0), dict.fromkeys(stops, True)
    out: list[Message] = []
    while not merge.exhausted:
        for p in stops:
            fetching[p] = merge.wants(p, fetching[p], high, low)
        ready = [p for p in stops if fetching[p] and fetched[p] < stops[p]]
        taken = merge.take(data.draw(st.integers(1, 5)))
        if not taken:
            assert ready, "the merge stalled: it waits for a partition flow control holds back"
        if ready and (not taken or data.draw(st.booleans())):
            p = data.draw(st.sampled_from(ready))
            merge.add(p, fetched[p], partitions[p][fetched[p]], (p, fetched[p], partitions[p][fetched[p]]))
            fetched[p] += 1
        out += taken
        for p in stops:  # past `high` only by a run of one time and the message that ended it
            held = partitions[p][merge.positions[p] : fetched[p]]
            assert len(held) <= high or len(set(held[:-1])) == 1, "a buffer grew past its bound"
    assert out == _greedy(partitions)
