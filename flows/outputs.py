"""Bytewax adapter for propstream sinks: the only place outputs meet Bytewax.

Each worker builds its own sink; Bytewax hands it batches and the sink's idempotent,
monotonic writes make Bytewax's at-least-once delivery safe (see connectors.sinks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from pydantic import BaseModel

from connectors.sinks import Sink

logger = logging.getLogger(__name__)

__all__ = ["SinkAdapter"]


class _Partition(StatelessSinkPartition[Any]):
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._sink.setup()

    def write_batch(self, items: list[BaseModel]) -> None:
        mine = [item for item in items if isinstance(item, self._sink.accepts)]
        if not mine:
            return
        try:
            self._sink.write_batch(mine)
            self._sink.flush()
        except Exception:
            # Bytewax reports an exception here only as a Rust panic: say what failed first.
            logger.exception("%s failed to write %s records", type(self._sink).__name__, len(mine))
            raise

    def close(self) -> None:
        self._sink.close()


class SinkAdapter(DynamicSink[Any]):
    """`op.output("pg", stream, SinkAdapter(lambda: PostgresSink(dsn)))`."""

    def __init__(self, factory: Callable[[], Sink]) -> None:
        self._factory = factory

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self._factory())
