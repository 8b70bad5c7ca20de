"""The engine without Bytewax or Kafka: over the whole shipped history in event-time order
(what a replay's merge gives it: no rewind), then what the late-input rewind costs over the
history when batches split event times, and per batch of live line moves that arrive a little
out of order, as a live worker reading several partitions sees them.

The live part follows the history (the players and their features come from it), as the
line-move latency bench does: moves stamped by the wall clock 1 ms apart, each arriving up to
`JITTER_MS` after later ones, flushed in batches of `BATCH`; the first `WARMUP` batches (the
watermark's jump from the history to today, which expires it) are not counted. The GC policy is
the worker's (`flows.run`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.flow_bench import MARKET
from bench.history import shipped_stream
from flows.run import _tune_gc
from scoring.engine import Engine
from scoring.scorer import Scorer
from vocabulary.errors import EventError
from vocabulary.events import InputEvent, PropLine

__all__ = ["run"]

HISTORY_BATCH = 500  # events between batch ends over the history (each may split an event time)
MOVES, BATCH, JITTER_MS, WARMUP = 10_000, 20, 10, 10


def _apply(engine: Engine, event: InputEvent) -> None:
    with contextlib.suppress(EventError):  # refused as the flow would dead-letter it
        engine.apply(event)


def _moves(props: Sequence[PropLine], now: datetime) -> list[PropLine]:
    """`MOVES` main-line moves of the given props, stamped 1 ms apart from `now`, in the order
    they arrive (each up to `JITTER_MS` behind later ones)."""
    moves = [
        p.model_copy(
            update={
                "ts": now + timedelta(milliseconds=i),
                "tipoff": now + timedelta(hours=2),
                "line": p.line + (0.5 if i % 2 else -0.5),
                "is_main": True,
            }
        )
        for i, p in ((i, props[i % len(props)]) for i in range(MOVES))
    ]
    jitter = random.Random(1)  # noqa: S311 (a reproducible order, not a secret)
    return [moves[i] for i in sorted(range(MOVES), key=lambda i: i + jitter.uniform(0, JITTER_MS))]


def _in_order(events: Sequence[InputEvent], scorers: Sequence[Scorer]) -> float:
    """CPU seconds for the history in event-time order, best of two runs."""
    best = float("inf")
    for _ in range(2):
        engine, cpu = Engine(scorers), time.process_time()
        for event in events:
            _apply(engine, event)
        engine.flush()
        best = min(best, time.process_time() - cpu)
    return best


def run(events: Sequence[InputEvent], scorers: Sequence[Scorer]) -> dict[str, float]:
    _tune_gc()
    in_order = _in_order(events, scorers)
    engine = Engine(scorers)
    cpu = time.process_time()
    for i, event in enumerate(events):
        _apply(engine, event)
        if i % HISTORY_BATCH == HISTORY_BATCH - 1:
            engine.flush()
    engine.flush()
    history_cpu, history_rewinds = time.process_time() - cpu, engine.state.rewinds
    props = [e for e in events if isinstance(e, PropLine) and e.is_main and e.market == MARKET][-2000:]
    moves = _moves(props, datetime.now(UTC))
    batches: list[float] = []
    for start in range(0, MOVES, BATCH):
        t0 = time.perf_counter()
        for move in moves[start : start + BATCH]:
            _apply(engine, move)
        engine.flush()
        batches.append(1000 * (time.perf_counter() - t0))
    steady = sorted(batches[WARMUP:])
    return {
        "engine_in_order_cpu_s": in_order,
        "rewind_history_cpu_s": history_cpu,
        "rewind_history_rewinds": float(history_rewinds),
        "live_move_batch_ms_mean": statistics.mean(steady),
        "live_move_batch_ms_p99": steady[int(0.99 * (len(steady) - 1))],
        "live_move_rewinds": float(engine.state.rewinds - history_rewinds),
    }


def main(argv: list[str] | None = None) -> int:
    from cli.settings import SHIPPED_DATA, Settings  # noqa: PLC0415
    from scoring.model import Registry  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=Path, required=True, help="a registry with the points models")
    args = parser.parse_args(argv)
    registry = Registry(args.models)
    scorers = [Scorer(registry.load(name)) for name in Settings().models]
    events = [e for e, _ in shipped_stream(SHIPPED_DATA)]
    print(json.dumps(run(events, scorers), indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
