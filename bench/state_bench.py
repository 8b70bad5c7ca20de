"""The engine's state over the whole shipped history, pickled as a shard's snapshot is: the
largest single player's or game's state, and the whole of it, at their peaks (sampled at the
first event of every week of event time) and at the end (DESIGN §7: bounded state)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from scoring.engine import Engine
from scoring.scorer import Scorer
from vocabulary.errors import EventError
from vocabulary.events import InputEvent

__all__ = ["run"]

_SAMPLE_EVERY = timedelta(days=7)


def run(events: Sequence[InputEvent], scorers: Sequence[Scorer]) -> dict[str, float]:
    engine = Engine(scorers)
    peak_key = peak_total = 0
    next_sample = None
    for event in sorted(events, key=lambda e: e.ts):
        if next_sample is None or event.ts >= next_sample:
            largest, total = engine.state.size_bytes()
            peak_key, peak_total = max(peak_key, largest), max(peak_total, total)
            next_sample = event.ts + _SAMPLE_EVERY
        try:
            engine.apply(event)
        except EventError:
            continue
    engine.flush()
    largest, total = engine.state.size_bytes()
    return {
        "state_bytes_max_key": float(max(peak_key, largest)),
        "state_bytes_total": float(max(peak_total, total)),
        "state_bytes_total_at_end": float(total),
    }
