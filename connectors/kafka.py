"""Kafka I/O for the loader: topic creation and an ordered, checked producer."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel

from connectors.exceptions import BrokerUnreachableError, PublishError
from connectors.kafka_config import REACH_TIMEOUT_S, client_config
from connectors.sinks import Sink, SinkError
from vocabulary.events import DeadLetter

__all__ = ["KafkaRecordSink", "Publisher", "ensure_topics"]

logger = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, topics: dict[str, int], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics with the given partition counts; returns those it created.
    An existing topic is left as it is (its partition count is not changed)."""
    admin = AdminClient(client_config(bootstrap))
    reach_s = min(timeout_s, REACH_TIMEOUT_S)
    try:
        existing = set(admin.list_topics(timeout=reach_s).topics)
    except KafkaException as exc:
        raise BrokerUnreachableError(bootstrap, reach_s, exc.args[0].str()) from exc
    wanted = [
        NewTopic(name, num_partitions=n, replication_factor=1)
        for name, n in topics.items()
        if name not in existing
    ]
    created = []
    for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items() if wanted else []:
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PublishError(f"could not create topic {name}: {exc}") from exc
    if created:
        logger.info("created topics %s", ", ".join(sorted(created)))
    return created


class Publisher:
    """A producer that keeps per-key order (idempotent producer, acks=all) and fails loudly:
    `close()` flushes and raises `PublishError` if any message was not delivered."""

    def __init__(self, bootstrap: str, linger_ms: int = 5) -> None:
        self._producer = Producer(
            client_config(
                bootstrap,
                {
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": linger_ms,
                    "compression.type": "lz4",
                },
            )
        )
        self._errors: list[str] = []
        self.delivered = 0

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")
        else:
            self.delivered += 1

    def publish(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        timestamp_ms: int,
        on_error: Callable[[KafkaError], bool] | None = None,
    ) -> None:
        """Queue one message; `on_error` may take a failed delivery (returning True) so it is
        not counted as an error by `flush`."""
        report = self._on_delivery if on_error is None else functools.partial(self._on_failure, on_error)
        while True:
            try:
                self._producer.produce(topic, value, key, timestamp=timestamp_ms, on_delivery=report)
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain
        self._producer.poll(0)

    def _on_failure(
        self, on_error: Callable[[KafkaError], bool], error: KafkaError | None, message: Message
    ) -> None:
        if error is not None and on_error(error):
            return
        self._on_delivery(error, message)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every queued message; raise `PublishError` if any was not delivered."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self._errors.append(f"{remaining} messages still queued after {timeout_s}s")
        if self._errors:
            raise PublishError(f"{len(self._errors)} messages not delivered; first: {self._errors[0]}")

    def close(self, timeout_s: float = 60.0) -> None:
        self.flush(timeout_s)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _key_and_stamp(record: BaseModel) -> tuple[str, int]:
    """The message key and time of an output record: a prediction or grade at its `as_of`, but
    never later than now (the broker refuses a time more than
    `message.timestamp.after.max.ms`, one hour by default, ahead of its clock); a dead letter
    at now."""
    now_ms = int(time.time() * 1000)
    if isinstance(record, DeadLetter):
        return record.source, now_ms
    as_of_ms = int(record.as_of.timestamp() * 1000)  # type: ignore[attr-defined]
    return str(record.player_id), min(as_of_ms, now_ms)  # type: ignore[attr-defined]


# a deleted topic shows as any of these, depending on what the producer's metadata knows yet
_MISSING_TOPIC = (
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
)


def _take_missing_topic(lost: list[BaseModel], record: BaseModel, error: KafkaError) -> bool:
    """A delivery that failed because its topic is missing: kept to be sent again."""
    if error.code() in _MISSING_TOPIC:
        lost.append(record)
        return True
    return False


class KafkaRecordSink(Sink):
    """Predictions, grades and dead letters as JSON for live consumers (the dashboard):
    predictions and grades keyed by player id with their `as_of` as the message time, dead
    letters keyed by source. At-least-once: consumers key on the record's identity.

    `write_batch` hands the records to the producer, which sends them at once (`linger.ms` 1);
    `flush` waits until the broker has them. The flow flushes at its snapshots, not after each
    batch: a flush per batch waited ~1 ms for the broker's acknowledgement (and at times
    50 ms), 28% of a live worker's time at 1,000 line moves a second (docs/operations.md)."""

    pacing = "snapshot"

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[type[BaseModel], str],
        *,
        partitions: int = 1,
        topic_wait_s: float = 120.0,
    ) -> None:
        """A missing output topic (deleted while the worker runs) is recreated with `partitions`
        and the undelivered records are sent again, for up to `topic_wait_s`."""
        self._bootstrap = bootstrap
        self._topics = dict(topics)
        self._partitions, self._topic_wait_s = partitions, topic_wait_s
        self.accepts = tuple(self._topics)
        self._publisher: Publisher | None = None
        self._lost: list[BaseModel] = []  # records whose topic was missing, to send again

    def setup(self) -> None:
        self._publisher = Publisher(self._bootstrap, linger_ms=1)

    def _started(self) -> Publisher:
        if self._publisher is None:
            self.setup()
        if self._publisher is None:
            raise SinkError("Kafka publisher did not start")
        return self._publisher

    def write_batch(self, records: Sequence[BaseModel]) -> None:
        publisher = self._started()
        for record in records:
            topic = self._topics.get(type(record))
            if topic is None:
                raise SinkError(f"no topic configured for {type(record).__name__}")
            key, stamp = _key_and_stamp(record)
            take = functools.partial(_take_missing_topic, self._lost, record)
            try:
                publisher.publish(topic, key.encode(), record.model_dump_json().encode(), stamp, take)
            except KafkaException as exc:  # refused at once: the topic is known to be gone
                if not take(exc.args[0]):
                    raise

    def flush(self) -> None:
        """Wait until the broker has every record written; raises on a delivery error, and
        recreates a missing topic and sends its records again first."""
        publisher, deadline = self._started(), time.monotonic() + self._topic_wait_s
        while True:
            publisher.flush()  # raises on any other delivery error
            lost, self._lost = self._lost, []
            if not lost:
                return
            self._recreate(lost, deadline)
            self.write_batch(lost)

    def _recreate(self, lost: Sequence[BaseModel], deadline: float) -> None:
        topics = sorted({self._topics[type(record)] for record in lost})
        if time.monotonic() > deadline:
            raise SinkError(f"output topics {topics} stayed missing for {self._topic_wait_s:.0f}s")
        logger.warning(
            "output topics %s are missing (deleted?): recreating them and sending %s records again",
            topics,
            len(lost),
        )
        ensure_topics(self._bootstrap, dict.fromkeys(topics, self._partitions))
        time.sleep(1)  # let the new topic's metadata reach the producer

    def close(self) -> None:
        if self._publisher is not None:
            try:
                self.flush()
            finally:
                self._publisher.close()
                self._publisher = None
