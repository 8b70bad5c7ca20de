"""The loader against the real broker: a day of real data round-trips; bad rows reach the DLQ."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.main import main
from cli.settings import Settings
from connectors.adapters import Record, read_records
from connectors.files import DataLayout
from connectors.kafka import Publisher, ensure_topics
from connectors.loader import Loader, Pacer, timestamp_ms
from connectors.serde import decode
from tests.conftest import consume
from tests.data_folders import BAD_BOX_SCORES, BAD_PROPS, DAY
from vocabulary.events import DeadLetter
from vocabulary.keys import message_key
from vocabulary.topics import EVENT_TYPES
from vocabulary.window import Window

INPUTS = ("games", "game_lines", "props", "box_scores")


def test_load_a_day_round_trips(
    kafka_bootstrap: str, topic_prefix: str, shipped_records: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    window = Window.parse(DAY, DAY)  # every event stamped on that US day
    assert (
        main(
            [
                "load",
                "--from",
                DAY,
                "--to",
                DAY,
                "--topic-prefix",
                topic_prefix,
                "--bootstrap",
                kafka_bootstrap,
            ]
        )
        == 0
    )
    assert "✗" not in capsys.readouterr().out  # every topic's counts reconcile

    settings = Settings(topic_prefix=topic_prefix)
    for logical in INPUTS:
        expected = [
            r.event for r in shipped_records if r.topic == logical and r.event and r.event.ts in window
        ]
        assert expected, logical
        messages = consume(kafka_bootstrap, settings.topic(logical), len(expected))
        assert len(messages) == len(expected), logical

        model = EVENT_TYPES[logical]
        got = Counter((m.key(), m.timestamp()[1], decode(m.value(), model)) for m in messages)
        want = Counter((message_key(e), timestamp_ms(e.ts), e) for e in expected)
        assert got == want, logical

        by_partition: dict[int, list[int]] = defaultdict(list)
        for m in messages:
            by_partition[m.partition()].append(m.timestamp()[1])
        assert len(by_partition) > 1 or len(messages) < 20  # keys spread over the partitions
        for stamps in by_partition.values():
            assert stamps == sorted(stamps)  # published in event-time order


def test_bad_rows_land_in_the_dead_letter_topic(
    kafka_bootstrap: str, topic_prefix: str, salted_folder: Path
) -> None:
    settings = Settings(topic_prefix=topic_prefix)
    topics = {t: settings.topic(t) for t in INPUTS}
    ensure_topics(kafka_bootstrap, {**dict.fromkeys(topics.values(), 2), settings.topic("dlq"): 1})
    records = read_records(DataLayout.discover(salted_folder))
    with Publisher(kafka_bootstrap) as publisher:
        loader = Loader(publisher, topics, settings.topic("dlq"))
        for record in records:
            loader.send(record)

    assert all(c.reconciles for c in loader.counts.values())
    expected_dead = sum(r.rows for r in records if r.dead_letter)
    assert sum(c.rows_dead_lettered for c in loader.counts.values()) == expected_dead
    assert loader.counts["props"].rows_dead_lettered == len(BAD_PROPS)

    letters = [
        decode(m.value(), DeadLetter) for m in consume(kafka_bootstrap, settings.topic("dlq"), expected_dead)
    ]
    assert sum(letter.rows for letter in letters) == expected_dead
    by_original = {letter.original.decode(): letter for letter in letters}
    for row, reason in [*BAD_PROPS, *BAD_BOX_SCORES]:
        assert by_original[row].reason == reason
        assert by_original[row].detail
    for logical in INPUTS:
        published = consume(kafka_bootstrap, topics[logical], loader.counts[logical].events_published)
        assert len(published) == loader.counts[logical].events_published


@given(
    gaps=st.lists(st.integers(0, 3600), min_size=1, max_size=30),
    speed=st.floats(0.5, 10_000, allow_nan=False),
)
def test_pacer_waits_event_time_over_speed(gaps: list[int], speed: float) -> None:
    now = [0.0]
    pacer = Pacer(speed, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    ts = datetime(2025, 11, 1, tzinfo=UTC)
    pacer.wait_for(ts)
    for gap in gaps:
        ts += timedelta(seconds=gap)
        pacer.wait_for(ts)
        assert now[0] == pytest.approx((ts - datetime(2025, 11, 1, tzinfo=UTC)).total_seconds() / speed)


def test_pacer_rejects_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        Pacer(0)
