"""The merged Kafka input on the real broker: a partition that says nothing must not stop a
worker for good."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.kafka import Publisher, ensure_topics
from connectors.merge import TimeMerge
from flows.sources import Raw, _MergedInput


def _read_for(partition: _MergedInput, seconds: float) -> list[Raw]:
    read: list[Raw] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        read += partition.next_batch()
        time.sleep(0.01)
    return read


def test_a_silent_partition_is_released_after_max_wait(
    kafka_bootstrap: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"{topic_prefix}props"
    ensure_topics(kafka_bootstrap, {topic: 1})
    with Publisher(kafka_bootstrap) as publisher:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        for i in range(3):
            publisher.publish(topic, b"k", b"{}", now_ms + i)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"{topic_prefix}silent",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    # a second partition the consumer never fetches: no message and no end ever comes from it,
    # as from a partition whose leader is unreachable
    silent = (f"{topic_prefix}box_scores", 0)
    merge: TimeMerge[tuple[str, int], Raw] = TimeMerge(
        {(topic, 0): 0, silent: 0}, {(topic, 0): None, silent: None}
    )
    logical = {topic: "props", silent[0]: "box_scores"}
    partition = _MergedInput(consumer, logical, merge, batch=100, max_wait=timedelta(seconds=1))
    try:
        assert _read_for(partition, 0.5) == []  # waiting for the silent one, in time order
        read = _read_for(partition, 2.0)
    finally:
        partition.close()
    assert [raw.offset for raw in read] == [0, 1, 2]
    assert f"{silent[0]}#0 has said nothing" in caplog.text
