"""The incremental features equal the independent polars oracle on every prop of the shipped data."""

from __future__ import annotations

import math

from features.oracle import oracle_features
from features.schema import FEATURE_NAMES, Target
from tests.features.conftest import BoxScore, Game, GameLine, Season


def test_incremental_equals_oracle_on_the_whole_shipped_data(season: Season) -> None:
    oracle = oracle_features(season.of(BoxScore), season.of(Game), season.of(GameLine), season.props)
    # one row per distinct resolved prop quote; the shipped data has one snapshot per game
    assert oracle.height == len({(pid, p.game_key, p.book, p.line) for pid, p in season.props}) == 31_880

    mismatches = []
    defaulted = 0
    for row in oracle.iter_rows(named=True):
        vector = season.store.vector(Target(row["player_id"], row["game_key"], row["book"], row["line"]))
        assert vector.history_games == row["history_games"]
        for name, value, provenance in zip(FEATURE_NAMES, vector.values, vector.provenance, strict=True):
            expected = row[f"v_{name}"]
            same = (math.isnan(value) and math.isnan(expected)) or abs(value - expected) <= 1e-9
            if not same or provenance != row[f"prov_{name}"]:
                mismatches.append((row["player_id"], row["game_key"], row["book"], name, value, expected))
            defaulted += provenance != "ok"
    assert mismatches == []
    assert defaulted > 0  # the comparison covers defaults too, not only measured values
