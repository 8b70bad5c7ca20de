"""Feature benchmarks: incremental update per event, the plain-Python floor, and the polars batch."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Sequence

from features.oracle import oracle_features
from features.store import FeatureStore
from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine

__all__ = ["run"]


def _incremental(stream: Sequence[tuple[InputEvent, int | None]]) -> tuple[list[int], float]:
    """Per event: apply it, and build the vector it changed (a prop whose main line moved).
    Returns per-event nanoseconds and the total wall time for the season."""
    store = FeatureStore()
    timings = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for event, player_id in stream:
        t0 = clock()
        for change in store.apply(event, player_id):
            if change.book is not None:  # a prop whose main line moved
                for quote in store.main_quotes(change):
                    store.vector(quote.target)
        timings.append(clock() - t0)
    return timings, time.perf_counter() - start


def _python_floor(stream: Sequence[tuple[InputEvent, int | None]]) -> list[int]:
    """The least a Python per-event step can cost: a keyed rolling mean over a deque."""
    windows: dict[object, deque[float]] = {}
    timings = []
    clock = time.perf_counter_ns
    for _, player_id in stream:
        t0 = clock()
        window = windows.get(player_id)
        if window is None:
            window = windows[player_id] = deque(maxlen=10)
        window.append(1.0)
        _ = sum(window) / len(window)
        timings.append(clock() - t0)
    return timings


def _batch_slate_ms(stream: Sequence[tuple[InputEvent, int | None]]) -> float:
    """Median over the 2025-26 game days: polars recomputing one day's slate from scratch
    (all history, that day's props), the batch approach this system replaces."""
    boxes = [e for e, _ in stream if isinstance(e, BoxScore)]
    games = [e for e, _ in stream if isinstance(e, Game)]
    lines = [e for e, _ in stream if isinstance(e, GameLine)]
    props = [(pid, e) for e, pid in stream if isinstance(e, PropLine) and pid is not None]
    days = sorted({p.game_date for _, p in props})
    times = []
    for day in days:
        slate = [(pid, p) for pid, p in props if p.game_date == day]
        t0 = time.perf_counter()
        oracle_features(boxes, games, lines, slate)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(stream: Sequence[tuple[InputEvent, int | None]]) -> dict[str, float]:
    timings, season_s = _incremental(stream)
    floor = _python_floor(stream)
    return {
        "features_us_per_event": statistics.median(timings) / 1000,
        "features_us_per_event_mean": statistics.fmean(timings) / 1000,
        "features_us_per_event_p99": statistics.quantiles(timings, n=100)[98] / 1000,
        "features_python_floor_us_per_event": statistics.median(floor) / 1000,
        "features_season_s": season_s,
        "features_batch_slate_ms": _batch_slate_ms(stream),
        "features_events": float(len(stream)),
    }
