"""The engine's state after the whole shipped history, pickled as a shard's snapshot is: the
largest single player's or game's state, and the whole of it (DESIGN §7: bounded state)."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.engine import Engine
from scoring.scorer import Scorer
from vocabulary.errors import EventError
from vocabulary.events import InputEvent

__all__ = ["run"]


def run(events: Sequence[InputEvent], scorers: Sequence[Scorer]) -> dict[str, float]:
    engine = Engine(scorers)
    for event in sorted(events, key=lambda e: e.ts):
        try:
            engine.apply(event)
        except EventError:
            continue
    engine.flush()
    largest, total = engine.state.size_bytes()
    return {"state_bytes_max_key": float(largest), "state_bytes_total": float(total)}
