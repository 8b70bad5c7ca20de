"""Publishing the data folder's records to the input topics, counting everything.

Each event goes to its topic keyed by `vocabulary.keys.message_key` (props and box scores
by the canonical player, games by the game key), with the Kafka timestamp equal to its event time.
Every dead letter goes to the dead-letter topic. For each topic:
rows read = rows published + rows dead-lettered + rows outside the --from/--to window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.adapters import Record
from connectors.kafka import Publisher
from connectors.serde import encode
from vocabulary.keys import message_key
from vocabulary.window import Window

__all__ = ["Loader", "Pacer", "TopicCounts", "timestamp_ms"]


def timestamp_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


@dataclass
class TopicCounts:
    rows_read: int = 0
    rows_published: int = 0
    events_published: int = 0
    rows_dead_lettered: int = 0
    rows_outside_window: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_published + self.rows_dead_lettered + self.rows_outside_window


class Pacer:
    """Replays event time at `speed` times real time: the gap between two events' times,
    divided by `speed`, is waited on the wall clock. Only the loader reads the clock."""

    def __init__(
        self,
        speed: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._speed, self._clock, self._sleep = speed, clock, sleep
        self._origin: tuple[float, float] | None = None

    def wait_for(self, ts: datetime) -> None:
        event_s = ts.timestamp()
        if self._origin is None:
            self._origin = (event_s, self._clock())
            return
        due = self._origin[1] + (event_s - self._origin[0]) / self._speed
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


@dataclass
class Loader:
    """Sends records to Kafka through `publisher`; `counts` reconcile per topic."""

    publisher: Publisher
    topics: Mapping[str, str]
    dlq_topic: str
    window: Window = field(default_factory=Window)
    pacer: Pacer | None = None
    counts: dict[str, TopicCounts] = field(default_factory=dict)
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    def _in_window(self, record: Record) -> bool:
        if record.event is not None:
            return record.event.ts in self.window
        return record.day is None or self.window.covers_day(record.day)

    def send(self, record: Record) -> None:
        counts = self.counts.setdefault(record.topic, TopicCounts())
        counts.rows_read += record.rows
        if not self._in_window(record):
            counts.rows_outside_window += record.rows
        elif record.event is not None:
            if self.pacer is not None:
                self.pacer.wait_for(record.event.ts)
            self.publisher.publish(
                self.topics[record.topic],
                message_key(record.event),
                encode(record.event),
                timestamp_ms(record.event.ts),
            )
            counts.rows_published += record.rows
            counts.events_published += 1
        elif record.dead_letter is not None:
            letter = record.dead_letter
            self.publisher.publish(
                self.dlq_topic, letter.source.encode(), encode(letter), int(time.time() * 1000)
            )
            counts.rows_dead_lettered += record.rows
            self.dead_letter_reasons[letter.reason] = (
                self.dead_letter_reasons.get(letter.reason, 0) + record.rows
            )
