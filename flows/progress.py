"""What a shard reading Kafka says while it catches up: a progress line every few seconds
(events read, events/s, lag per topic) while it is behind, and one "caught up" line with the
lag per topic when it reaches the end of its partitions (a worker) or the end it was given (a
replay). A worker that falls behind again by more than `BEHIND` messages says so again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

__all__ = ["BEHIND", "Watch"]

logger = logging.getLogger(__name__)

BEHIND = 1000  # messages of lag after which a caught-up worker reports progress again


def by_topic(lag: Mapping[tuple[str, int], int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for (topic, _), n in sorted(lag.items()):
        out[topic] = out.get(topic, 0) + n
    return out


def _describe(lag: Mapping[str, int]) -> str:
    return ", ".join(f"{topic} {n:,}" for topic, n in lag.items())


class Watch:
    """One shard's progress: `tick` after every batch with the events read so far and the
    reader's lag per partition (an empty lag, a files reader, says nothing)."""

    def __init__(self, shard: int, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._shard, self._every, self._clock = shard, every_s, clock
        self._started = self._last_at = clock()
        self._last_read = 0
        self._caught_up = False

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    def tick(self, read: int, lag: Mapping[tuple[str, int], int], *, at_end: bool = False) -> None:
        if not lag:
            return
        behind = sum(lag.values())
        now = self._clock()
        if not self._caught_up and (behind == 0 or at_end):
            self._caught_up = True
            elapsed = max(now - self._started, 1e-9)
            logger.info(
                "shard %s caught up: %s events read in %.1f s (%s events/s); lag per topic: %s",
                self._shard,
                f"{read:,}",
                elapsed,
                f"{read / elapsed:,.0f}",
                _describe(by_topic(lag)),
            )
            self._last_at, self._last_read = now, read
            return
        if self._caught_up and behind > BEHIND:
            self._caught_up = False  # fell behind: report progress until caught up again
            self._started, self._last_at, self._last_read = now, now, read
            logger.warning("shard %s is %s messages behind: catching up", self._shard, f"{behind:,}")
            return
        if self._caught_up or now - self._last_at < self._every:
            return
        rate = (read - self._last_read) / max(now - self._last_at, 1e-9)
        logger.info(
            "shard %s catching up: %s events read, %s events/s, lag %s (%s)",
            self._shard,
            f"{read:,}",
            f"{rate:,.0f}",
            f"{behind:,}",
            _describe({t: n for t, n in by_topic(lag).items() if n}),
        )
        self._last_at, self._last_read = now, read
