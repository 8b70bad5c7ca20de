"""Kafka I/O for the loader: topic creation and an ordered, checked producer."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel

from connectors.exceptions import BrokerUnreachableError, PublishError
from connectors.kafka_config import REACH_TIMEOUT_S, client_config
from connectors.sinks import Backpressure, Item, Sink, SinkError
from vocabulary.events import DeadLetter
from vocabulary.letters import DeadLetters, each_record

__all__ = ["KafkaRecordSink", "Publisher", "delete_topics", "ensure_topics"]

logger = logging.getLogger(__name__)
_WAIT_STEP_S = (
    1.0  # how long one wait for acknowledgements lasts before the sink looks at the time and a stop
)


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


def delete_topics(bootstrap: str, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with `prefix` (a run's own topics, when it is
    done with them); returns their names."""
    if not prefix:
        raise ValueError("an empty prefix would name every topic")
    admin = AdminClient(client_config(bootstrap))
    reach_s = min(timeout_s, REACH_TIMEOUT_S)
    try:
        names = sorted(t for t in admin.list_topics(timeout=reach_s).topics if t.startswith(prefix))
    except KafkaException as exc:
        raise BrokerUnreachableError(bootstrap, reach_s, exc.args[0].str()) from exc
    for name, future in admin.delete_topics(names, operation_timeout=timeout_s).items() if names else []:
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise PublishError(f"could not delete topic {name}: {exc}") from exc
    return names


class Publisher:
    """A producer that keeps per-key order (idempotent producer, acks=all) and fails loudly:
    `close()` flushes and raises `PublishError` if any message was not delivered."""

    def __init__(self, bootstrap: str, linger_ms: int = 5, *, retry_forever: bool = False) -> None:
        """`retry_forever`: librdkafka sends a message until the broker takes it, however long
        that is (no message timeout; its default gives up after 5 minutes): the caller decides
        how long to wait (`wait`)."""
        options: dict[str, Any] = {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "compression.type": "lz4",
        }
        if retry_forever:
            options["message.timeout.ms"] = 0
        self._producer = Producer(client_config(bootstrap, options))
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
        *,
        while_full: Callable[[int], None] | None = None,
    ) -> None:
        """Queue one message; `on_error` may take a failed delivery (returning True) so it is
        not counted as an error by `flush`. While the local queue is full (the broker takes
        nothing), `while_full` is told how many messages it holds, between waits of 0.1 s."""
        report = self._on_delivery if on_error is None else functools.partial(self._on_failure, on_error)
        while True:
            try:
                self._producer.produce(topic, value, key, timestamp=timestamp_ms, on_delivery=report)
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain
                if while_full is not None:
                    while_full(len(self._producer))
        self._producer.poll(0)

    def _on_failure(
        self, on_error: Callable[[KafkaError], bool], error: KafkaError | None, message: Message
    ) -> None:
        if error is not None and on_error(error):
            return
        self._on_delivery(error, message)

    def wait(self, timeout_s: float) -> int:
        """Serve deliveries for up to `timeout_s`; returns how many messages are still queued
        (0: every one is delivered or refused; `check` says which)."""
        return int(self._producer.flush(timeout_s))

    def check(self) -> None:
        """Raise `PublishError` if any message was refused."""
        if self._errors:
            raise PublishError(f"{len(self._errors)} messages not delivered; first: {self._errors[0]}")

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every queued message; raise `PublishError` if any was not delivered."""
        remaining = self.wait(timeout_s)
        if remaining:
            self._errors.append(f"{remaining} messages still queued after {timeout_s}s")
        self.check()

    def close(self, timeout_s: float = 60.0) -> None:
        self.flush(timeout_s)

    def discard(self) -> None:
        """Drop whatever is still queued, undelivered, without waiting for the broker."""
        self._producer.purge()
        self._producer.flush(0)

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


# A deleted topic shows as any of these, depending on what the producer's metadata knows yet.
# `_DESTROY` is librdkafka freeing a removed partition with messages still in its queue
# (`rd_kafka_toppar_destroy_final`): the sink's producer is alive until `close`, so it never
# means the producer itself is going (CI, 2026-11-28: both records after a deletion failed so).
_MISSING_TOPIC = (
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._DESTROY,
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
    50 ms), 28% of a live worker's time at 1,000 line moves a second (docs/operations.md).

    A broker that takes nothing (stopped, unreachable) holds `flush`, and so the input: the
    producer sends for as long as it takes (no message timeout); beyond `retry_for_s` the wait
    says so (`Backpressure`: an ERROR line once a minute, `propstream_sink_waiting{sink="kafka"}`
    at 1) or, without `wait`, raises `SinkError`. `stop` is asked while it waits: once it says
    yes, `SinkStopped`, the records not acknowledged left unwritten."""

    pacing = "snapshot"

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[type[BaseModel], str],
        *,
        partitions: int = 1,
        topic_wait_s: float = 120.0,
        retry_for_s: float = 60.0,
        wait: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """A missing output topic (deleted while the worker runs) is recreated with `partitions`
        and the undelivered records are sent again, for up to `topic_wait_s`."""
        if retry_for_s < 0:
            raise ValueError(f"retry_for_s must be >= 0, got {retry_for_s}")
        self._bootstrap = bootstrap
        self._topics = dict(topics)
        self._partitions, self._topic_wait_s = partitions, topic_wait_s
        self._retry_for_s, self._wait = retry_for_s, wait
        self._backpressure = Backpressure("kafka", logger, stop)
        # dead letters come as records or as a batch's columns (sent as records)
        self.accepts = (*self._topics, DeadLetters) if DeadLetter in self._topics else tuple(self._topics)
        self._publisher: Publisher | None = None
        self._lost: list[BaseModel] = []  # records whose topic was missing, to send again
        self._waiting_since: float | None = None  # when the broker last left records unacknowledged

    def setup(self) -> None:
        self._publisher = Publisher(self._bootstrap, linger_ms=1, retry_forever=True)

    def _started(self) -> Publisher:
        if self._publisher is None:
            self.setup()
        if self._publisher is None:
            raise SinkError("Kafka publisher did not start")
        return self._publisher

    def write_batch(self, records: Sequence[Item]) -> None:
        publisher = self._started()
        for record in each_record(records):
            topic = self._topics.get(type(record))
            if topic is None:
                raise SinkError(f"no topic configured for {type(record).__name__}")
            key, stamp = _key_and_stamp(record)
            take = functools.partial(_take_missing_topic, self._lost, record)
            try:
                publisher.publish(
                    topic,
                    key.encode(),
                    record.model_dump_json().encode(),
                    stamp,
                    take,
                    while_full=self._unacknowledged,
                )
            except KafkaException as exc:  # refused at once: the topic is known to be gone
                if not take(exc.args[0]):
                    raise

    def flush(self) -> None:
        """Wait until the broker has every record written; raises on a delivery error, and
        recreates a missing topic and sends its records again first."""
        publisher, deadline = self._started(), time.monotonic() + self._topic_wait_s
        while True:
            while queued := publisher.wait(_WAIT_STEP_S):
                self._unacknowledged(queued)
            publisher.check()  # raises on any other delivery error
            if self._waiting_since is not None:
                self._waiting_since = None
                self._backpressure.released(f"Kafka at {self._bootstrap} acknowledges again")
            lost, self._lost = self._lost, []
            if not lost:
                return
            self._recreate(lost, deadline)
            self.write_batch(lost)

    def _unacknowledged(self, queued: int) -> None:
        """Between two waits for a broker that has `queued` records unacknowledged: a stop ends
        the wait; beyond the retry window, hold (`wait`) or raise."""
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        self._backpressure.check_stop(queued, f"Kafka at {self._bootstrap} has not acknowledged them")
        waited = now - self._waiting_since
        if waited < self._retry_for_s:
            return
        unacknowledged = f"Kafka at {self._bootstrap} has not acknowledged {queued} records"
        if not self._wait:
            raise SinkError(f"{unacknowledged} within the {self._retry_for_s:g}s retry window")
        self._backpressure.hold(
            f"{unacknowledged} for {waited:.0f}s, beyond the {self._retry_for_s:g}s retry window: "
            "holding them and the input (backpressure) until it does"
        )

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
        """Flush, then free the producer; what a stopped flush left queued is dropped
        (`SinkStopped`: the run ends before those records count as written, and the restart
        writes them again)."""
        if self._publisher is not None:
            try:
                self.flush()
            finally:
                self._publisher.discard()
                self._publisher = None
