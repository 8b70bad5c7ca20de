"""Inputs of the dataflow: the input topics, or the data folder as if it were those topics.

Both yield `Raw` wire messages (bytes as on Kafka), so decoding, validation and dead-lettering
are the same path in every mode. Positions (offsets) live in Bytewax's recovery store: a
resumed run continues where the last complete snapshot was, never re-reading silently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition
from prometheus_client import Gauge

from connectors.adapters import Record
from connectors.events import DeadLetter
from connectors.exceptions import MissingTopicError
from connectors.loader import message_key
from connectors.serde import encode

__all__ = ["FileSource", "KafkaInput", "Raw"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Raw:
    """One input message: its logical topic (`props`, `game_lines`, ...), where it was read,
    and its bytes."""

    logical: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone, dead-lettered as `empty_message`


Item = Raw | DeadLetter


class _FilePartition(StatefulSourcePartition[Item, int]):
    def __init__(
        self, items: Sequence[Item], position: int, batch: int, progress: Callable[[int], None] | None
    ) -> None:
        self._items, self._position, self._batch, self._progress = items, position, batch, progress

    def next_batch(self) -> list[Item]:
        if self._position >= len(self._items):
            raise StopIteration
        batch = list(self._items[self._position : self._position + self._batch])
        self._position += len(batch)
        if self._progress is not None:
            self._progress(len(batch))
        return batch

    def snapshot(self) -> int:
        return self._position


class FileSource(FixedPartitionedSource[Item, int]):
    """The data folder's records, in event-time order, as wire messages of the input topics
    (dead letters of rows that are not events come through as they are)."""

    def __init__(
        self,
        records: Sequence[Record],
        topics: Mapping[str, str],
        window: tuple[date | None, date | None] = (None, None),
        batch: int = 1000,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        start, end = window
        self.items: list[Item] = []
        for i, record in enumerate(records):
            day = record.event.game_date if record.event is not None else record.day
            if day is not None and ((start and day < start) or (end and day > end)):
                continue
            if record.event is not None:
                event = record.event
                self.items.append(
                    Raw(record.topic, topics[record.topic], 0, i, message_key(event), encode(event))
                )
            elif record.dead_letter is not None:
                self.items.append(record.dead_letter)
        self._batch, self._progress = batch, progress

    def list_parts(self) -> list[str]:
        return ["files"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _FilePartition:
        return _FilePartition(self.items, resume_state or 0, self._batch, self._progress)


Start = Literal["earliest", "latest"] | datetime
IDLE_POLL = timedelta(milliseconds=10)

KAFKA_LAG = Gauge(
    "propstream_consumer_lag", "messages behind the end of each input partition", ["topic", "partition"]
)


class _KafkaPartition(StatefulSourcePartition[Raw, int]):
    def __init__(
        self,
        consumer: Consumer,
        tp: TopicPartition,
        logical: str,
        *,
        stop_at: int | None,
        end: datetime | None,
        batch: int,
    ) -> None:
        self._consumer, self._tp, self._logical = consumer, tp, logical
        self._stop_at, self._end_ms = stop_at, int(end.timestamp() * 1000) if end else None
        self._position, self._batch = tp.offset, batch
        self._awake: datetime | None = None

    def next_awake(self) -> datetime | None:
        return self._awake

    def next_batch(self) -> list[Raw]:
        if self._stop_at is not None and self._position >= self._stop_at:
            raise StopIteration
        out = []
        # never block: Bytewax polls every partition in turn and backs off by itself when idle
        for message in self._consumer.consume(self._batch, timeout=0):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"Kafka error on {self._tp.topic}[{self._tp.partition}]: {error}")
            if self._end_ms is not None and message.timestamp()[1] > self._end_ms:
                self._stop_at = self._position  # past --to: this partition is done
                break
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is None or partition is None or offset is None:  # only error events lack them
                raise RuntimeError(f"Kafka returned a message without a position on {self._tp.topic}")
            self._position = offset + 1
            out.append(
                Raw(
                    self._logical,
                    topic,
                    partition,
                    offset,
                    message.key(),
                    message.value(),
                )
            )
        # idle: look again in IDLE_POLL without blocking the worker (Bytewax's cooperative wait)
        self._awake = datetime.now(UTC) + IDLE_POLL if not out else None
        _, high = self._consumer.get_watermark_offsets(self._tp, cached=True) or (0, 0)
        KAFKA_LAG.labels(self._tp.topic, str(self._tp.partition)).set(max(0, high - self._position))
        return out

    def snapshot(self) -> int:
        return self._position

    def close(self) -> None:
        self._consumer.close()


class KafkaInput(FixedPartitionedSource[Raw, int]):
    """Every partition of the input topics. A first start begins at `start` (earliest, latest,
    or the offsets for a time); a resumed one at the offsets in the recovery snapshot. With
    `tail=False` each partition stops at its end when the run started, or past `end`."""

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[str, str],
        *,
        start: Start = "earliest",
        end: datetime | None = None,
        tail: bool = True,
        batch: int = 1000,
    ) -> None:
        self._bootstrap, self._topics = bootstrap, dict(topics)
        self._start, self._end, self._tail, self._batch = start, end, tail, batch

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": f"propstream-{uuid.uuid4().hex}",  # offsets live in the recovery store
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )

    def list_parts(self) -> list[str]:
        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(timeout=15)
        finally:
            consumer.close()
        parts = []
        for name in self._topics.values():
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                raise MissingTopicError(
                    f"input topic {name!r} does not exist on {self._bootstrap}; publish data first "
                    "(propstream load) or check PROPSTREAM_TOPIC_PREFIX"
                )
            parts += [f"{name}#{p}" for p in sorted(topic.partitions)]
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _KafkaPartition:
        name, partition = for_part.rsplit("#", 1)
        logical = next(k for k, v in self._topics.items() if v == name)
        consumer = self._consumer()
        tp = TopicPartition(name, int(partition))
        if resume_state is not None:
            tp.offset = resume_state
            logger.info("resuming %s at offset %s", for_part, resume_state)
        elif isinstance(self._start, datetime):
            tp.offset = int(self._start.timestamp() * 1000)
            found = consumer.offsets_for_times([tp], timeout=15)[0]
            tp.offset = found.offset if found.offset >= 0 else OFFSET_END
        else:
            tp.offset = OFFSET_BEGINNING if self._start == "earliest" else OFFSET_END
        low, high = consumer.get_watermark_offsets(tp, timeout=15)
        if tp.offset == OFFSET_BEGINNING:
            tp.offset = low
        elif tp.offset == OFFSET_END:
            tp.offset = high
        consumer.assign([tp])
        stop_at = None if self._tail else high
        logger.info("reading %s from offset %s%s", for_part, tp.offset, "" if self._tail else f" to {high}")
        return _KafkaPartition(consumer, tp, logical, stop_at=stop_at, end=self._end, batch=self._batch)
