from __future__ import annotations

import pytest

from connectors.adapters import Record
from connectors.events import BoxScore
from connectors.identity import PlayerDirectory
from features.store import FeatureStore
from scoring.training import TrainingSet, build_training_set


@pytest.fixture(scope="session")
def history(shipped_records: list[Record]) -> tuple[TrainingSet, FeatureStore, PlayerDirectory]:
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, store = build_training_set(events, directory)
    return data, store, directory
