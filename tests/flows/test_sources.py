"""The merged Kafka input on the real broker: a partition that says nothing must not stop a
worker for good, and a partition held back must be read on exactly where it stopped."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer, TopicPartition

from connectors import kafka_input
from connectors.inputs import Raw
from connectors.kafka import Publisher, ensure_topics
from connectors.kafka_input import KafkaReader


def _read_for(reader: KafkaReader, seconds: float) -> list[Raw]:
    read: list[Raw] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        read += reader.take(100)
        time.sleep(0.01)
    return read


def test_a_silent_partition_is_released_after_max_wait(
    kafka_bootstrap: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    props, boxes = f"{topic_prefix}props", f"{topic_prefix}box_scores"
    ensure_topics(kafka_bootstrap, {props: 1, boxes: 1})
    with Publisher(kafka_bootstrap) as publisher:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        for i in range(3):
            publisher.publish(props, b"k", b"{}", now_ms + i)
    topics = {"props": props, "box_scores": boxes}
    reader = KafkaReader(kafka_bootstrap, topics, [(props, 0), (boxes, 0)], tail=True)
    # the box-score partition is never fetched: no message and no end ever comes from it, as
    # from a partition whose leader is unreachable
    reader._consumer.pause([TopicPartition(boxes, 0)])
    try:
        assert _read_for(reader, 1.0) == []  # waiting for the silent one, in time order
        read = _read_for(reader, 6.0)
    finally:
        reader.close()
    assert [raw.offset for raw in read] == [0, 1, 2]
    assert f"{boxes}#0 has said nothing" in caplog.text


def test_a_partition_held_back_is_read_on_where_its_fetch_stopped(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a read-ahead of 20 messages a partition, the reader holds partitions back and lets
    them go again hundreds of times (unassigned, then assigned at the merge's next offset);
    every message still comes exactly once, in the merged order (timestamp, then partition).
    Letting go now fetches at once: with librdkafka's pause and resume this read took 3.4 s
    against 0.6 (a resume while every other partition was paused waited for the fetcher's
    idle second); that is the bench's to show (docs/operations.md), not a timed test's."""
    monkeypatch.setattr(kafka_input, "_BUFFER_LIMIT", 20)
    monkeypatch.setattr(kafka_input, "_RESUME_BELOW", 10)
    props = f"{topic_prefix}props"
    ensure_topics(kafka_bootstrap, {props: 2})
    base_ms = int(datetime(2025, 11, 1, tzinfo=UTC).timestamp() * 1000)
    sent = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for p in range(2):
        for i in range(2000):  # 1 KB each: a fetch brings part of a partition, not all of it
            ts = base_ms + 1000 * (i // 7 if p == 0 else i)  # runs of one time in partition 0
            producer.produce(props, f"{p}:{i}".encode().ljust(1000, b"."), b"k", partition=p, timestamp=ts)
            sent.append((ts, p, i))
    assert producer.flush(15) == 0
    reader = KafkaReader(kafka_bootstrap, {"props": props}, [(props, p) for p in range(2)], tail=False)
    read: list[Raw] = []
    holds, held = 0, set[tuple[str, int]]()
    try:
        while not reader.exhausted:
            read += reader.take(25)
            holds += len(reader._held - held)
            held = set(reader._held)
    finally:
        reader.close()
    assert holds > 10, f"held back {holds} times: the test does not exercise the read-ahead bound"
    assert [(raw.value or b"").split(b".")[0] for raw in read] == [
        f"{p}:{i}".encode() for _, p, i in sorted(sent)
    ]
