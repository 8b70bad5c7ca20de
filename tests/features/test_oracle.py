"""The incremental features equal the independent polars oracle on every prop of the shipped data."""

from __future__ import annotations

import math

import polars as pl

from features.oracle import oracle_features
from features.schema import FEATURE_NAMES, Target
from tests.features.conftest import BoxScore, Game, GameLine, Season


def test_incremental_equals_oracle_on_the_whole_shipped_data(season: Season) -> None:
    oracle = oracle_features(season.of(BoxScore), season.of(Game), season.of(GameLine), season.props)
    # one row per distinct resolved prop quote; the shipped data has one snapshot per game
    quotes = {(pid, p.game_key, p.market, p.book, p.line) for pid, p in season.props}
    assert oracle.height == len(quotes)
    assert len({q for q in quotes if q[2] == "points"}) == 31_880

    mismatches = []
    defaulted = 0
    for row in oracle.iter_rows(named=True):
        target = Target(row["player_id"], row["game_key"], row["book"], row["line"], row["market"])
        vector = season.store.vector(target)
        assert vector.history_games == row["history_games"]
        for name, value, provenance in zip(FEATURE_NAMES, vector.values, vector.provenance, strict=True):
            expected = row[f"v_{name}"]
            same = (math.isnan(value) and math.isnan(expected)) or abs(value - expected) <= 1e-9
            if not same or provenance != row[f"prov_{name}"]:
                mismatches.append((target, name, value, expected))
            defaulted += provenance != "ok"
    assert mismatches == []
    assert defaulted > 0  # the comparison covers defaults too, not only measured values
    for stat in ("reb", "ast", "fg3m", "blk", "stl"):  # every graded stat's windows, measured
        for window in ("3", "5", "10", "season"):
            assert (
                oracle.filter(pl.col(f"prov_{stat}_mean_{window}") == "ok")[f"v_{stat}_mean_{window}"].mean()
                > 0
            )
    for market in ("points", "rebounds", "assists", "threes", "points_rebounds_assists", "blocks", "steals"):
        assert oracle.filter(pl.col("market") == market).height > 0  # every market's props compared
    gaps = oracle.filter(pl.col("prov_rest_days") == "default:missing_box_scores").height
    assert gaps > 0  # feed gaps (or games sat out) are defaults, checked against the oracle too
