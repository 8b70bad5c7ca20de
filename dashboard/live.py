"""Live updates: predictions and grades from their Kafka topics, fanned out to every open page.

One consumer thread per server reads the output topics from their end (a page loads the
current state from Postgres, then applies what arrives). Each message is validated as the
record it claims to be; one that is not is counted and logged, never forwarded. Subscribers
are asyncio queues; a slow page that lets its queue fill loses the oldest updates and is told
to reload (`resync`), rather than slowing the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError
from pydantic import BaseModel, ValidationError

from connectors.kafka_config import client_config
from vocabulary.records import Grade, Prediction

__all__ = ["LiveFeed", "Update"]

logger = logging.getLogger(__name__)
_QUEUE_SIZE = 10_000


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


class LiveFeed:
    def __init__(self, bootstrap: str, predictions_topic: str, grades_topic: str) -> None:
        self._bootstrap = bootstrap
        self._records: dict[str, tuple[str, type[BaseModel]]] = {
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
        self._seen_errors: set[int] = set()

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
        return {
            "connected": self.assigned.is_set(),
            "subscribers": len(self._subscribers),
            "forwarded": self.forwarded,
            "rejected": self.rejected,
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
        try:
            while not self._stop.is_set():
                for message in consumer.consume(500, timeout=0.2):
                    error = message.error()
                    if error is not None:
                        self._report(error)
                        continue
                    self._forward(message.topic() or "", message.value())
        finally:
            consumer.close()

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
        self._publish(Update(kind, json.dumps(record.model_dump(mode="json"))))
