"""The shipped history as the benchmarks read it: one module, so a benchmark run alone and
`make bench` (bench/run.py) load it the same way without importing each other."""

from __future__ import annotations

from pathlib import Path

from connectors.adapters import read_records
from connectors.files import DataLayout
from features.identity import PlayerDirectory, resolve_props
from vocabulary.events import BoxScore, InputEvent, PropLine

__all__ = ["shipped_stream"]


def shipped_stream(data: Path) -> list[tuple[InputEvent, int | None]]:
    """The data folder's events in event-time order, props with their resolved player."""
    events = [r.event for r in read_records(DataLayout.discover(data)) if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    ids = {id(p): pid for pid, p in resolve_props(events, directory)}
    return [
        (e, ids.get(id(e)) if isinstance(e, PropLine) else None)
        for e in events
        if not isinstance(e, PropLine) or id(e) in ids
    ]
