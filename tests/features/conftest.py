from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.adapters import Record
from features.identity import PlayerDirectory, resolve_props
from features.store import FeatureStore
from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine


@dataclass
class Season:
    events: list[InputEvent]
    props: list[tuple[int, PropLine]]
    store: FeatureStore

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture(scope="session")
def season(shipped_records: list[Record]) -> Season:
    """The shipped data run through the store in event-time order."""
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    props = list(resolve_props(events, directory))
    ids = {id(p): pid for pid, p in props}
    store = FeatureStore()
    for event in events:
        if isinstance(event, PropLine):
            if id(event) in ids:
                store.apply(event, ids[id(event)])
        else:
            store.apply(event)
    return Season(events, props, store)


__all__ = ["BoxScore", "Game", "GameLine", "Season"]
