"""Live updates: predictions and grades from their Kafka topics, fanned out to every open page.

One consumer thread per server reads the output topics from their end (a page loads the
current state from Postgres, then applies what arrives). Each message is validated as the
record it claims to be; one that is not is counted and logged, never forwarded. The output
topics are at-least-once, so a record already forwarded with the same prediction id and the
same content is dropped (a correction, the same id with new content, goes on). Subscribers
are asyncio queues; a slow page that lets its queue fill loses the oldest updates and is told
to reload (`resync`), rather than slowing the others.

`status()` says what a page should show: `live`, `waiting` (the broker answers, the output
topics are not assigned yet) or `no broker` (the broker cannot be reached).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException
from pydantic import BaseModel, ValidationError

from connectors.kafka_config import client_config
from vocabulary.records import Grade, Prediction

__all__ = ["LiveFeed", "Update"]

logger = logging.getLogger(__name__)
_QUEUE_SIZE = 10_000
_SEEN = 200_000  # records remembered for deduplication: more than a day's slate emits
_PROBE_S = 3.0  # how often the feed asks the broker for metadata: no answer is "no broker"


@dataclass(frozen=True)
class Update:
    kind: str  # "prediction", "grade" or "resync"
    data: str  # the record as JSON


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Update] = field(default_factory=lambda: asyncio.Queue(_QUEUE_SIZE))

    def offer(self, update: Update) -> None:
        """Runs on the subscriber's loop."""
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
            update = Update("resync", "{}")
        self.queue.put_nowait(update)


class _Seen:
    """The content digest of the records forwarded lately, by (kind, prediction id)."""

    def __init__(self, size: int = _SEEN) -> None:
        self._size = size
        self._digests: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def fresh(self, key: tuple[str, str], digest: bytes) -> bool:
        """False for a redelivery of what was forwarded; remembers it otherwise."""
        known = self._digests.get(key) == digest
        self._digests[key] = digest
        self._digests.move_to_end(key)
        if len(self._digests) > self._size:
            self._digests.popitem(last=False)
        return not known


def _digest(record: BaseModel) -> bytes:
    """The record's content; the wall-clock emission time is not part of it."""
    text = record.model_dump_json(exclude={"emitted_at"})
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class LiveFeed:
    def __init__(self, bootstrap: str, predictions_topic: str, grades_topic: str) -> None:
        self._bootstrap = bootstrap
        self._records: dict[str, tuple[str, type[Prediction] | type[Grade]]] = {
            predictions_topic: ("prediction", Prediction),
            grades_topic: ("grade", Grade),
        }
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.assigned = threading.Event()
        self.forwarded = 0
        self.rejected = 0
        self.duplicates = 0
        self._seen = _Seen()
        self._seen_errors: set[int] = set()
        self._broker_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def subscribe(self) -> _Subscriber:
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def status(self) -> dict[str, object]:
        broker_error = self._broker_error
        connected = self.assigned.is_set() and broker_error is None
        return {
            "state": "no broker" if broker_error else "live" if connected else "waiting",
            "connected": connected,
            "error": broker_error,
            "subscribers": len(self._subscribers),
            "forwarded": self.forwarded,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
        }

    def _publish(self, update: Update) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for s in subscribers:
            try:
                s.loop.call_soon_threadsafe(s.offer, update)
            except RuntimeError:  # that page's loop has closed
                self.unsubscribe(s)
        self.forwarded += 1

    def _run(self) -> None:
        consumer = Consumer(
            client_config(
                self._bootstrap,
                {
                    "group.id": f"propstream-dashboard-{uuid.uuid4().hex}",  # every server sees everything
                    "auto.offset.reset": "latest",
                    "enable.auto.commit": False,
                    "topic.metadata.refresh.interval.ms": 5000,
                },
            )
        )
        consumer.subscribe(list(self._records), on_assign=lambda *_: self.assigned.set())
        logger.info("live updates from %s on %s", ", ".join(self._records), self._bootstrap)
        probed = 0.0
        try:
            while not self._stop.is_set():
                for message in consumer.consume(500, timeout=0.2):
                    error = message.error()
                    if error is not None:
                        self._report(error)
                        continue
                    self._forward(message.topic() or "", message.value())
                if time.monotonic() - probed > _PROBE_S:
                    probed = time.monotonic()
                    self._probe(consumer)
        finally:
            consumer.close()

    def _probe(self, consumer: Consumer) -> None:
        """Ask the broker for metadata: the answer, or its absence, is the broker's state."""
        try:
            consumer.list_topics(next(iter(self._records)), timeout=2.0)
        except KafkaException as exc:
            if self._broker_error is None:
                logger.warning("live feed: no broker at %s (%s)", self._bootstrap, exc)
            self._broker_error = str(exc)
            return
        if self._broker_error is not None:
            logger.info("live feed: the broker at %s answers again", self._bootstrap)
        self._broker_error = None

    def _report(self, error: KafkaError) -> None:
        """Each kind of error once at warning level (a missing topic repeats every few seconds
        until the worker creates it), then at debug."""
        if error.code() == KafkaError._PARTITION_EOF:
            return
        first = error.code() not in self._seen_errors
        self._seen_errors.add(error.code())
        logger.log(logging.WARNING if first else logging.DEBUG, "live feed: %s", error.str())

    def _forward(self, topic: str, value: bytes | None) -> None:
        try:
            kind, model = self._records[topic]
            record = model.model_validate_json(value or b"")
        except ValidationError as exc:
            self.rejected += 1
            logger.warning("live feed: not a valid record on %s: %s", topic, exc.errors()[:1])
            return
        if not self._seen.fresh((kind, record.prediction_id), _digest(record)):
            self.duplicates += 1
            return
        self._publish(Update(kind, json.dumps(record.model_dump(mode="json"))))
