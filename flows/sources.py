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
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, Message, TopicPartition
from prometheus_client import Gauge

from connectors.adapters import Record
from connectors.exceptions import MissingTopicError
from connectors.merge import TimeMerge
from connectors.serde import encode
from vocabulary.events import DeadLetter
from vocabulary.keys import message_key

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
_BUFFER_LIMIT = 10_000  # messages buffered per partition before it is paused
_MAX_SILENCE = timedelta(seconds=5)  # a tailing partition silent this long stops holding others back
_PART = "inputs"  # the one source partition: every input partition, merged

KAFKA_LAG = Gauge(
    "propstream_consumer_lag", "messages behind the end of each input partition", ["topic", "partition"]
)

_Part = tuple[str, int]  # (topic, partition)


def _raw(logical: str, message: Message) -> Raw:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:  # only error events lack them
        raise RuntimeError(f"Kafka returned a message without a position on {logical}")
    return Raw(logical, topic, partition, offset, message.key(), message.value())


class _MergedInput(StatefulSourcePartition[Raw, dict[str, int]]):
    """Every input partition through one consumer, in timestamp order (connectors.merge).

    Read side by side, partitions drift apart: a season replay read partition by partition
    emitted 834,899 predictions and 1,002,068 grades at 499 events/s, its props days ahead of
    the box scores; merged, 80,108 and 56,142 at 3,664 events/s, as the files replay in time
    order does. A worker catching up on a backlog gets the same order; once caught up, a
    partition at its end holds nobody back. A partition whose buffer runs ahead is paused, so
    memory stays bounded."""

    def __init__(
        self,
        consumer: Consumer,
        logical: Mapping[str, str],
        merge: TimeMerge[_Part, Raw],
        batch: int,
        max_wait: timedelta | None,
    ) -> None:
        self._consumer, self._logical, self._merge, self._batch = consumer, dict(logical), merge, batch
        self._max_wait = max_wait
        self._blocked_since: datetime | None = None
        self._paused: set[_Part] = set()
        self._awake: datetime | None = None

    def next_awake(self) -> datetime | None:
        return self._awake

    def _fetch(self) -> None:
        # never block: Bytewax polls every partition in turn and backs off by itself when idle
        for message in self._consumer.consume(self._batch, timeout=0):
            part = (str(message.topic()), int(message.partition() or 0))
            error, offset = message.error(), int(message.offset() or 0)
            if error is None:
                self._merge.add(part, offset, message.timestamp()[1], _raw(self._logical[part[0]], message))
            elif error.code() == KafkaError._PARTITION_EOF:
                self._merge.reached(part, offset)
            else:
                raise RuntimeError(f"Kafka error on {part[0]}[{part[1]}]: {error}")
        for part in self._merge.positions:
            hold = self._merge.buffered(part) >= _BUFFER_LIMIT or self._merge.fetched_all(part)
            if hold and part not in self._paused:
                self._consumer.pause([TopicPartition(*part)])
                self._paused.add(part)
            elif not hold and part in self._paused:
                self._consumer.resume([TopicPartition(*part)])
                self._paused.discard(part)

    def next_batch(self) -> list[Raw]:
        if self._merge.exhausted:
            raise StopIteration
        self._fetch()
        out = self._merge.take(self._batch)
        self._release_silent()
        # idle: look again in IDLE_POLL without blocking the worker (Bytewax's cooperative wait)
        self._awake = datetime.now(UTC) + IDLE_POLL if not out else None
        self._report_lag()
        return out

    def _report_lag(self) -> None:
        for (topic, partition), position in self._merge.positions.items():
            ends = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            high = ends[1] if ends else 0
            KAFKA_LAG.labels(topic, str(partition)).set(max(0, high - position))

    def _release_silent(self) -> None:
        """A worker must not stop because one partition went quiet without reporting its end
        (its leader unreachable): after `max_wait` the others go on, and the log says so."""
        blocking = self._merge.blocking()
        if not blocking or self._max_wait is None:
            self._blocked_since = None
            return
        now = datetime.now(UTC)
        self._blocked_since = self._blocked_since or now
        if now - self._blocked_since >= self._max_wait:
            for topic, partition in blocking:
                logger.warning(
                    "%s#%s has said nothing for %.0f s while other partitions have events: going "
                    "on without it, out of time order until it delivers again",
                    topic,
                    partition,
                    self._max_wait.total_seconds(),
                )
                self._merge.release((topic, partition))
            self._blocked_since = None

    def snapshot(self) -> dict[str, int]:
        return {
            f"{topic}#{partition}": offset for (topic, partition), offset in self._merge.positions.items()
        }

    def close(self) -> None:
        self._consumer.close()


class KafkaInput(FixedPartitionedSource[Raw, dict[str, int]]):
    """Every partition of the input topics, merged into timestamp order by one source
    partition: one worker reads, and the keyed steps spread the work over every worker.

    A first start begins at `start` (earliest, latest, or the offsets for a time); a resumed
    one at the offsets in the recovery snapshot. `tail=True` (the worker) reads on as the
    topics grow; `tail=False` (a replay) stops each partition at its end when the run started,
    or past `end`."""

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
                "enable.partition.eof": True,  # the merge must know when a partition is at its end
            }
        )

    def _partitions(self) -> list[str]:
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

    def list_parts(self) -> list[str]:
        self._partitions()  # a missing topic fails here, with a clear message
        return [_PART]

    def _first_offset(self, consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
        """Where a first start reads `tp` from, and the partition's end now."""
        if isinstance(self._start, datetime):
            tp.offset = int(self._start.timestamp() * 1000)
            found = consumer.offsets_for_times([tp], timeout=15)[0]
            offset = found.offset if found.offset >= 0 else OFFSET_END
        else:
            offset = OFFSET_BEGINNING if self._start == "earliest" else OFFSET_END
        low, high = consumer.get_watermark_offsets(tp, timeout=15)
        return {OFFSET_BEGINNING: low, OFFSET_END: high}.get(offset, offset), high

    def build_part(self, step_id: str, for_part: str, resume_state: dict[str, int] | None) -> _MergedInput:
        consumer = self._consumer()
        starts: dict[_Part, int] = {}
        stops: dict[_Part, int | None] = {}
        for name in self._partitions():
            topic, partition = name.rsplit("#", 1)
            tp = TopicPartition(topic, int(partition))
            first, high = self._first_offset(consumer, tp)
            # a partition added since the snapshot starts where a first start would
            starts[(topic, tp.partition)] = (resume_state or {}).get(name, first)
            stops[(topic, tp.partition)] = None if self._tail else high
        consumer.assign([TopicPartition(topic, p, offset) for (topic, p), offset in starts.items()])
        logger.info(
            "%s %s input partitions in timestamp order at offsets %s%s%s",
            "resuming" if resume_state else "reading",
            len(starts),
            ", ".join(f"{t}#{p}:{o}" for (t, p), o in starts.items()),
            "" if self._tail else " to their ends now",
            f", stopping past {self._end.isoformat()}" if self._end else "",
        )
        logical = {topic: next(k for k, v in self._topics.items() if v == topic) for topic, _ in starts}
        end_ms = int(self._end.timestamp() * 1000) if self._end else None
        # a replay's data is all there: it waits as long as it takes; a worker must go on
        max_wait = _MAX_SILENCE if self._tail else None
        return _MergedInput(consumer, logical, TimeMerge(starts, stops, end_ms), self._batch, max_wait)
