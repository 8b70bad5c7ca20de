"""Progress lines while a shard catches up, one caught-up line with the lag per topic, and
progress again when a caught-up worker falls behind."""

from __future__ import annotations

import logging

import pytest

from flows.progress import BEHIND, Watch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = [r.getMessage() for r in caplog.records if r.name == "flows.progress"]
    caplog.clear()
    return out


def test_progress_every_interval_then_one_caught_up_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "flows.progress")
    clock = Clock()
    watch = Watch(2, 5.0, clock)
    lag = {("odds.props", 0): 900, ("odds.props", 1): 100, ("nba.games", 0): 0}
    clock.now = 1.0
    watch.tick(100, lag)
    assert _lines(caplog) == []  # not yet an interval
    clock.now = 5.0
    watch.tick(2100, lag)
    assert _lines(caplog) == [
        "shard 2 catching up: 2,100 events read, 420 events/s, lag 1,000 (odds.props 1,000)"
    ]
    clock.now = 8.0
    watch.tick(3000, dict.fromkeys(lag, 0))
    assert _lines(caplog) == [
        "shard 2 caught up: 3,000 events read in 8.0 s (375 events/s); lag per topic: "
        "nba.games 0, odds.props 0"
    ]
    clock.now = 100.0
    watch.tick(3005, {("odds.props", 0): 3})  # a live worker's momentary lag says nothing
    assert _lines(caplog) == []
    assert watch.caught_up


def test_falling_behind_reports_again_and_files_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "flows.progress")
    clock = Clock()
    watch = Watch(0, 1.0, clock)
    watch.tick(10, {("t", 0): 0})
    assert len(_lines(caplog)) == 1 and watch.caught_up
    clock.now = 50.0
    watch.tick(20, {("t", 0): BEHIND + 1})
    assert _lines(caplog) == ["shard 0 is 1,001 messages behind: catching up"]
    assert not watch.caught_up
    clock.now = 52.0
    watch.tick(520, {("t", 0): 500})
    assert _lines(caplog) == ["shard 0 catching up: 520 events read, 250 events/s, lag 500 (t 500)"]
    watch.tick(530, {("t", 0): 0})
    assert _lines(caplog)[0].startswith("shard 0 caught up")
    files = Watch(0, 0.0, clock)
    files.tick(10, {})
    assert _lines(caplog) == []


def test_a_replay_at_its_end_is_caught_up_whatever_was_published_since(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "flows.progress")
    clock = Clock()
    watch = Watch(0, 10.0, clock)
    clock.now = 2.0
    watch.tick(10, {("t", 0): 7}, at_end=True)
    assert _lines(caplog) == ["shard 0 caught up: 10 events read in 2.0 s (5 events/s); lag per topic: t 7"]
