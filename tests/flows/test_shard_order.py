"""A shard applies a batch's events in event-time order: Kafka's timestamps (what the merge
orders by) are milliseconds, event times microseconds, so two moves of one millisecond can
arrive in either order; the one applied first must not make the other late (a rewind)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from connectors.adapters import Record
from scoring.scorer import Scorer
from tests.flows.test_rescoring_faults import _content, _run
from vocabulary.events import PropLine

DAYS = (date(2025, 11, 3), date(2025, 11, 5))


@pytest.fixture(scope="module")
def days(shipped_records: list[Record]) -> list[Record]:
    return [r for r in shipped_records if r.event is not None and r.day and DAYS[0] <= r.day <= DAYS[1]]


def test_two_moves_of_one_millisecond_in_either_order_make_no_rewind(
    days: list[Record], scorers: list[Scorer]
) -> None:
    prop = next(
        r
        for r in reversed(days)
        if isinstance(r.event, PropLine) and r.event.is_main and r.event.market == "points"
    )
    assert isinstance(prop.event, PropLine)
    start = prop.event.ts.replace(microsecond=0) + timedelta(milliseconds=1)
    moves = [
        dataclasses.replace(
            prop, event=prop.event.model_copy(update={"ts": start + timedelta(microseconds=us), "line": line})
        )
        for us, line in ((900, prop.event.line + 0.5), (100, prop.event.line - 0.5))
    ]
    backwards, _, backwards_shard = _run([*days, *moves], scorers)  # the later move first
    forwards, _, forwards_shard = _run([*days, *reversed(moves)], scorers)

    assert backwards_shard.engine.state.rewinds == forwards_shard.engine.state.rewinds == 0
    assert sorted(map(_content, backwards)) == sorted(map(_content, forwards))
    moved = [r for r in backwards if getattr(r, "as_of", None) in {m.event.ts for m in moves if m.event}]
    assert len(moved) >= 2  # both moves were scored: the test exercises the rescoring
