"""One shard's input partitions read through one consumer, merged into timestamp order.

Read side by side, partitions drift apart: a season replay read partition by partition emitted
834,899 predictions and 1,002,068 grades at 499 events/s, its props days ahead of the box
scores; merged, 80,108 and 56,142 at 3,664 events/s, as the files replay in time order does. A
worker catching up on a backlog gets the same order; once caught up, a partition at its end
holds nobody back. A partition whose buffer runs ahead is held back (unassigned, then assigned
again where its fetch stopped), so memory stays bounded.

A shard reads every partition of the game-level topics and the partitions of the player-keyed
topics whose number is its own modulo the shard count: props and box scores are keyed by the
canonical player (vocabulary.keys), so with equal partition counts a player's events share a
partition number, and so a shard.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from connectors.exceptions import MissingTopicError
from connectors.inputs import Raw
from connectors.merge import TimeMerge
from vocabulary.topics import PLAYER_TOPICS

__all__ = ["IDLE_WAIT_S", "KafkaReader", "Part", "Start", "commit_positions", "shard_partitions"]

logger = logging.getLogger(__name__)

Start = Literal["earliest", "latest"]
Part = tuple[str, int]  # (topic, partition)
IDLE_WAIT_S = 0.01  # how long a take waits for a message when none is ready
# Read-ahead, bounded whatever the backlog: a partition is held back once the merge holds
# _BUFFER_LIMIT of its messages and let go below _RESUME_BELOW (`TimeMerge.wants`: holding back
# drops librdkafka's prefetch of the partition, which letting go fetches again, so the gap keeps
# that rare), and librdkafka prefetches at most _PREFETCH_KIB for all partitions together.
# Holding back is an unassignment, not librdkafka's pause: a resume does not wake its fetcher,
# which, when every other partition was paused or at its end, slept up to a second before it
# fetched again; a replay's merge waited 0.3-0.4 s so in one process and 0.8 s in each of two
# (docs/operations.md, "Held back, not paused"). An assignment starts the fetcher at once.
# Its default, 64 MiB, held most of the shipped history's 57 MB of input, and the merge held
# up to 10,000 messages a partition: a worker's memory after catching up grew with the
# backlog it had read (docs/operations.md, "Memory"). The limit must clear the longest run of
# one timestamp a partition holds (a day's props at 17:00: up to 2,243 in one of four) by a
# margin: at 2,000 the merge waited on such runs in 540 of 630 takes, half a replay's time
# (14,500 events/s; at 5,000: 28,000, 11 MiB more at its peak).
_BUFFER_LIMIT = 5_000
_RESUME_BELOW = 2_500
_PREFETCH_KIB = 8_192
# At the live edge, one fetch a message (librdkafka's default: answered at the first byte, else
# after 500 ms) cost the broker 30% of a core at 1,000 messages a second, on the 2 cores the
# worker shares with it; fetches of 5 ms cost it 7%, and the latency bench's slowest move took
# 131-148 ms instead of 519-541 (docs/operations.md, "The live tail"). Fetches of 2 ms: the
# line-move p50 8.4-10.9 ms against 13.7-14.1 at 5 ms, the p99 23-39 against 27-31 (within the
# machine's noise), for about 6% of a core more in the broker and 12% in the worker (its
# batches are smaller).
_FETCH_WAIT_MS = 2
_FETCH_MIN_BYTES = 1 << 20
_MAX_SILENCE = timedelta(seconds=5)  # a tailing partition silent this long stops holding others back


def _consumer(bootstrap: str, group: str | None = None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            # offsets live in the recovery store; a named group only shows them to lag tools
            "group.id": group or f"propstream-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,  # the merge must know when a partition is at its end
            "queued.max.messages.kbytes": _PREFETCH_KIB,
            "queued.min.messages": _BUFFER_LIMIT,  # per partition (librdkafka's default: 100,000)
            # with the prefetch that small, librdkafka's default wait of 1 s before fetching again
            # a partition whose queue was full starved the merge: the shipped history took 30 s
            # to read instead of 2.7 s
            "fetch.queue.backoff.ms": 20,
            # the broker answers a fetch after _FETCH_WAIT_MS unless much is there (a backlog):
            # answered at the first byte, a live worker's fetches came one a message
            "fetch.wait.max.ms": _FETCH_WAIT_MS,
            "fetch.min.bytes": _FETCH_MIN_BYTES,
            "on_commit": _on_commit,  # the answer to a commit sent without waiting
            # how long a commit that waits (the last one, at a stop) waits for a broker that is
            # away: librdkafka's default, 45 s, held a worker stopped during an outage that
            # long (the reader joins no group, so nothing else reads it)
            "session.timeout.ms": 6_000,
        }
    )


def shard_partitions(bootstrap: str, topics: Mapping[str, str], shard: int, shards: int) -> list[Part]:
    """The input partitions shard `shard` of `shards` reads; a missing topic, or player topics
    of different partition counts when the work is divided, fail with what to do."""
    consumer = _consumer(bootstrap)
    try:
        metadata = consumer.list_topics(timeout=15)
    finally:
        consumer.close()
    counts: dict[str, int] = {}
    for logical, name in topics.items():
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            raise MissingTopicError(
                f"input topic {name!r} does not exist on {bootstrap}; publish data first "
                "(propstream load) or check PROPSTREAM_TOPIC_PREFIX"
            )
        counts[logical] = len(topic.partitions)
    player_counts = {counts[t] for t in PLAYER_TOPICS if t in counts}
    if shards > 1 and len(player_counts) > 1:
        sizes = ", ".join(f"{topics[t]}: {counts[t]}" for t in PLAYER_TOPICS)
        raise MissingTopicError(
            f"the player topics have different partition counts ({sizes}): "
            "a player's props and box scores must share a partition number to be read by one "
            "shard; recreate them with the same count (propstream load --partitions N)"
        )
    return [
        (topics[logical], p)
        for logical, n in counts.items()
        for p in range(n)
        if logical not in PLAYER_TOPICS or p % shards == shard
    ]


class KafkaReader:
    """The merged input of one shard. A first start begins at `start` (earliest or latest); a
    resumed one at `positions` (from the recovery snapshot). `tail=True` (the worker) reads
    on as the topics grow; `tail=False` (a replay) stops each partition at its end when the
    run started."""

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[str, str],
        parts: list[Part],
        *,
        start: Start = "earliest",
        tail: bool = True,
        positions: Mapping[str, int] | None = None,
        group: str | None = None,
    ) -> None:
        self._consumer = _consumer(bootstrap, group)
        self._group = group
        self.tails = tail
        starts: dict[Part, int] = {}
        stops: dict[Part, int | None] = {}
        self._ends_at_start: dict[Part, int] = {}  # the lag's floor until the first fetch
        for topic, partition in parts:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            self._ends_at_start[(topic, partition)] = high
            first = low if start == "earliest" else high
            # a partition added since the snapshot starts where a first start would
            starts[(topic, partition)] = (positions or {}).get(f"{topic}#{partition}", first)
            stops[(topic, partition)] = None if tail else high
        self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
        logger.info(
            "%s %s input partitions in timestamp order at offsets %s%s",
            "resuming" if positions else "reading",
            len(starts),
            ", ".join(f"{t}#{p}:{o}" for (t, p), o in starts.items()),
            "" if tail else " to their ends now",
        )
        self._logical = {name: logical for logical, name in topics.items()}
        self._merge: TimeMerge[Part, Raw] = TimeMerge(starts, stops)
        self._max_wait = _MAX_SILENCE if tail else None  # a replay's data is all there: it waits
        self._blocked_since: datetime | None = None
        self._held: set[Part] = set()  # unassigned while the merge holds enough of them

    @property
    def exhausted(self) -> bool:
        return self._merge.exhausted

    @property
    def positions(self) -> dict[str, int]:
        """Where a resumed run continues, per `topic#partition`."""
        return {
            f"{topic}#{partition}": offset for (topic, partition), offset in self._merge.positions.items()
        }

    def take(self, limit: int) -> list[Raw]:
        """Whatever is ready, in timestamp order; when nothing is, what arrives within
        `IDLE_WAIT_S`. The wait is the consumer's (the GIL released), so a line move is taken
        the moment it arrives: the source slept 10 ms between empty looks before (Bytewax's
        `next_awake`), which was up to 10 ms of every move's latency."""
        self._fetch(limit)
        out = self._merge.take(limit)
        if not out:  # `consume(n, timeout)` waits for all n: wait for one, then take what is there
            self._fetch(1, IDLE_WAIT_S)
            self._fetch(limit)
            out = self._merge.take(limit)
        self._release_silent()
        return out

    def _fetch(self, limit: int, wait_s: float = 0) -> None:
        merge, logical = self._merge, self._logical
        part: Part | None = None
        run: list[tuple[int, int, Raw]] = []  # consecutive messages of one partition: added at once
        for message in self._consumer.consume(limit, timeout=wait_s):
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            error = message.error()
            if error is not None or (topic, partition) != part:
                if run:
                    merge.extend(part, run)  # type: ignore[arg-type]
                    run = []
                part = (str(topic), int(partition or 0))
            if error is None:
                if topic is None or partition is None or offset is None:  # only error events lack them
                    raise RuntimeError(f"Kafka returned a message without a position on {topic}")
                ts_ms = message.timestamp()[1]
                raw = Raw(logical[topic], topic, partition, offset, message.key(), message.value(), ts_ms)
                run.append((ts_ms, offset, raw))
            elif error.code() == KafkaError._PARTITION_EOF:
                merge.reached(part, int(offset or 0))
            else:
                raise RuntimeError(f"Kafka error on {part[0]}[{part[1]}]: {error}")
        if run:
            merge.extend(part, run)  # type: ignore[arg-type]
        for part in merge.positions:
            fetching = part not in self._held
            wanted = merge.wants(part, fetching, _BUFFER_LIMIT, _RESUME_BELOW)
            if fetching and not wanted:
                self._consumer.incremental_unassign([TopicPartition(*part)])
                self._held.add(part)
            elif wanted and not fetching:
                self._consumer.incremental_assign([TopicPartition(*part, merge.next_fetch(part))])
                self._held.discard(part)

    def _release_silent(self) -> None:
        """A worker must not stop because one partition went quiet without reporting its end
        (its leader unreachable): after the maximum wait the others go on, and the log says so."""
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

    def lag(self) -> dict[Part, int]:
        """Messages behind the end of each partition (from the consumer's cached ends, which
        know nothing before the first fetch: the ends read at start are the floor)."""
        out = {}
        for (topic, partition), position in self._merge.positions.items():
            ends = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            end = max(ends[1] if ends else 0, self._ends_at_start.get((topic, partition), 0))
            out[(topic, partition)] = max(0, end - position)
        return out

    def commit(self, positions: Mapping[str, int], *, wait: bool = False) -> None:
        """Commit `positions` (as `positions` gives them) under the reader's group, if it has
        one, so Kafka's lag tools see how far the worker is; resuming never reads them. Sent
        without waiting for the broker (a round trip at every snapshot held the batch behind
        it), but at the end of a run (`wait`): a failed commit is logged either way."""
        if self._group is None or not positions:
            return
        commit_positions(self._consumer, self._group, positions, wait=wait)

    def close(self) -> None:
        self._consumer.close()


def commit_positions(
    consumer: Consumer, group: str, positions: Mapping[str, int], *, wait: bool = True
) -> None:
    """A failed commit is logged, never fatal: the recovery store holds the truth (without
    `wait`, by the consumer's `on_commit` when the broker answers)."""
    offsets = []
    for key, offset in positions.items():
        topic, _, partition = key.rpartition("#")
        offsets.append(TopicPartition(topic, int(partition), offset))
    try:
        if wait:
            consumer.commit(offsets=offsets, asynchronous=False)
        else:
            consumer.commit(offsets=offsets, asynchronous=True)
    except KafkaException as exc:
        logger.warning("could not commit offsets under consumer group %s: %s", group, exc)
    else:
        logger.debug("committed %s offsets under consumer group %s", len(offsets), group)


def _on_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    if error is not None:
        logger.warning("could not commit offsets of %s partitions: %s", len(partitions), error)
