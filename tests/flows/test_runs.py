"""How a player's events of one Bytewax batch are grouped for the engine: runs of the same
event time (rescored once), each join alone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from flows.dataflow import same_time_runs
from vocabulary.events import PropLine

T0 = datetime(2025, 11, 10, 17, tzinfo=UTC)
BASE = PropLine(
    ts=T0,
    event_id="e",
    home_team="BOS",
    away_team="NYK",
    tipoff=T0 + timedelta(hours=7),
    book="draftkings",
    market="points",
    player_name="Jaylen Brown",
    line=25.5,
    over_price=-110,
    under_price=-110,
    is_main=True,
)


def _event(minute: int, line: float) -> PropLine:
    return BASE.model_copy(update={"ts": T0 + timedelta(minutes=minute), "line": line})


items = st.lists(
    st.one_of(
        st.builds(_event, st.integers(0, 3), st.sampled_from([24.5, 25.5])),
        st.lists(st.builds(_event, st.integers(0, 3), st.just(25.5)), min_size=1, max_size=3).map(tuple),
    ),
    max_size=25,
)


@given(items)
def test_runs_cover_the_batch_in_order_each_of_one_time_and_as_few_as_can_be(batch: list) -> None:  # type: ignore[type-arg]
    runs = same_time_runs(batch)
    position, times = 0, []  # the time of each run, None for a join
    for run in runs:
        item = batch[position]
        if isinstance(item, tuple):
            assert run == item  # a join stays whole and alone
            position += 1
            times.append(None)
        else:
            assert tuple(batch[position : position + len(run)]) == run  # consecutive events, in order
            assert len({e.ts for e in run}) == 1
            position += len(run)
            times.append(run[0].ts)
    assert position == len(batch)  # nothing left out
    assert all(x is None or y is None or x != y for x, y in itertools.pairwise(times))  # maximal runs


def test_consecutive_events_of_one_time_are_one_run_and_a_join_stays_alone() -> None:
    a, b, c = _event(0, 24.5), _event(0, 25.5), _event(1, 25.5)
    join = (_event(0, 24.5), _event(2, 25.5))
    assert same_time_runs([a, b, c, join, c, c]) == [(a, b), (c,), join, (c, c)]
