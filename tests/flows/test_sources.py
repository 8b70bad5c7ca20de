"""The merged Kafka input on the real broker: a partition that says nothing must not stop a
worker for good."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import TopicPartition

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
