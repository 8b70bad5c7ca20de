"""What the health report reads from Kafka: the newest event per input topic, and the games
topic's schedule (tip-off and status per game). Both read with a throwaway consumer that
commits nothing: health only looks."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime

from confluent_kafka import Consumer, TopicPartition

from connectors.kafka_config import client_config
from connectors.serde import decode
from vocabulary.errors import DecodeError
from vocabulary.events import Game

__all__ = ["schedule", "topic_freshness"]


def _reader(bootstrap: str) -> Consumer:
    return Consumer(
        client_config(
            bootstrap, {"group.id": f"propstream-health-{uuid.uuid4().hex}", "enable.auto.commit": False}
        )
    )


def topic_freshness(bootstrap: str, topics: list[str], timeout_s: float = 10) -> dict[str, str | None]:
    """The newest message's event time (its Kafka timestamp: the loader and the producers stamp
    event time) per topic, ISO UTC; None for an empty topic. Reads the last message of each
    partition."""
    consumer = _reader(bootstrap)
    newest: dict[str, int | None] = dict.fromkeys(topics)
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        assignment = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions if topic in metadata.topics else ():
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s
                )
                if high > low:
                    assignment.append(TopicPartition(topic, partition, high - 1))
        consumer.assign(assignment)
        remaining = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(len(remaining), timeout=1):
                if message.error() is not None or message.topic() is None:
                    continue
                topic, stamp = str(message.topic()), message.timestamp()[1]
                remaining.discard((topic, int(message.partition() or 0)))
                newest[topic] = max(newest[topic] or stamp, stamp)
    finally:
        consumer.close()
    return {
        t: None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()
        for t, ms in newest.items()
    }


def schedule(
    bootstrap: str, topic: str, day: date, timeout_s: float = 10
) -> dict[str, tuple[datetime | None, str]]:
    """Tip-off and status (`scheduled`, `final`) of the day's games: the newest message per game
    (by event time) of the games topic, read whole (a season is a few thousand messages)."""
    consumer = _reader(bootstrap)
    out: dict[str, tuple[datetime | None, str]] = {}
    newest: dict[str, datetime] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
        ends: dict[int, int] = {}
        assignment = []
        for partition in metadata.topics[topic].partitions if topic in metadata.topics else ():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1):
                if message.error() is not None:
                    continue
                partition, offset = int(message.partition() or 0), int(message.offset() or 0)
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
                try:
                    game = decode(message.value(), Game)
                except DecodeError:
                    continue
                if game.game_date != day:
                    continue
                if game.ts >= newest.get(game.game_key, game.ts):
                    newest[game.game_key] = game.ts
                    out[game.game_key] = (game.tipoff, game.status)
    finally:
        consumer.close()
    return out
