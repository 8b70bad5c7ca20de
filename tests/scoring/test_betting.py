"""What a bettor reads: player-game bootstrap intervals (seeded, and wider than the row-wise
Wilson interval on the shipped data), the edge-bucket table and profit by day."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta

import pytest

from connectors.adapters import Record
from features.identity import PlayerDirectory
from features.store import FeatureStore
from scoring.betting import EDGE_BUCKETS, betting_summary, cumulative_profit, edge_buckets, favourite_profit
from scoring.bootstrap import cluster_bootstrap
from scoring.evaluate import main_line_requests, make_model
from scoring.grading import grade, performance
from scoring.scorer import Scorer
from scoring.training import TrainingSet
from vocabulary.events import BoxScore
from vocabulary.records import Grade, Prediction

Pairs = list[tuple[Prediction, Grade]]


@pytest.fixture(scope="module")
def graded(
    history: tuple[TrainingSet, FeatureStore, PlayerDirectory], shipped_records: list[Record]
) -> Pairs:
    """Every book's main line of 2025-11-01 → 11-15, scored by a small model trained before
    them (the model alone: its picks and edges are large) and graded."""
    data, store, _ = history
    boxes = {(e.player_id, e.game_key): e for r in shipped_records if isinstance(e := r.event, BoxScore)}
    scorer = Scorer(
        make_model("champion", "sqrt_uncertainty", data.before(date(2025, 11, 1)), {"iterations": 60})[0]
    )
    pairs = []
    for offset in range(15):
        for p in scorer.score(main_line_requests(store, date(2025, 11, 1) + timedelta(days=offset))):
            pairs.append((p, grade(p, boxes.get((p.player_id, p.game_key)))))
    return pairs


def test_bootstrap_is_deterministic_with_a_seed() -> None:
    clusters = [i // 7 for i in range(700)]
    hits = [float((i // 7) % 3 == 0) for i in range(700)]
    first = cluster_bootstrap(clusters, hits, [1.0] * 700, seed=5)
    assert cluster_bootstrap(clusters, hits, [1.0] * 700, seed=5) == first
    assert cluster_bootstrap(clusters, hits, [1.0] * 700, seed=6) != first
    assert first[0] < sum(hits) / 700 < first[1]
    assert cluster_bootstrap([], [], []) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_player_game_intervals_are_wider_than_wilson_on_the_shipped_data(graded: Pairs) -> None:
    grades = [g for _, g in graded]
    perf = performance(grades)
    summary = betting_summary(graded)
    assert summary == betting_summary(graded)  # seeded: the same rows, the same intervals
    hit = summary["hit_rate"]
    assert hit["value"] == pytest.approx(perf.hit_rate) and hit["n"] > 5_000
    assert hit["low"] < perf.hit_rate < hit["high"]
    wilson = perf.hit_rate_high - perf.hit_rate_low
    assert hit["high"] - hit["low"] > 1.2 * wilson  # about 7 rows a player-game: much wider
    roi = summary["roi"]
    assert roi["value"] == pytest.approx(perf.roi) and roi["n"] == perf.n_bets
    assert roi["low"] < roi["value"] < roi["high"]
    assert summary["share_recommended"] == pytest.approx(perf.n_bets / perf.n_graded)
    edges = [abs(p.edge) for p, _ in graded if p.edge is not None]
    assert summary["mean_abs_edge"] == pytest.approx(sum(edges) / len(edges))


def test_edge_bucket_table(graded: Pairs) -> None:
    rows = edge_buckets(graded)
    assert len(rows) == len(EDGE_BUCKETS) - 1
    assert [(r["low"], r["high"]) for r in rows] == list(itertools.pairwise(EDGE_BUCKETS))
    keys = {"n", "hit_rate", "hit_rate_low", "hit_rate_high", "break_even", "roi", "roi_low", "roi_high",
            "n_bets", "bets_hit_rate", "bets_roi"}  # fmt: skip
    assert all(keys <= set(r) for r in rows)
    decided = [(p, g) for p, g in graded if p.edge is not None and g.result in ("WIN", "LOSS")]
    assert sum(r["n"] for r in rows) == len(decided)
    assert sum(r["n_bets"] for r in rows) == sum(g.recommendation != "PASS" for _, g in decided)
    for r in rows:
        if r["n"]:
            assert r["hit_rate_low"] <= r["hit_rate"] <= r["hit_rate_high"]
            assert 0.4 < r["break_even"] < 0.65
        if r["n_bets"]:
            assert -1.0 <= r["bets_roi"] <= 1.5


def test_cumulative_profit_ends_at_the_totals(graded: Pairs) -> None:
    shadow = [
        (p.model_copy(update={"model": "shadow"}), g.model_copy(update={"model": "shadow"}))
        for p, g in graded
    ]
    profit = cumulative_profit(graded + shadow)
    assert profit["days"] == sorted({g.game_date.isoformat() for _, g in graded})
    series = profit["series"]
    assert set(series) == {
        "champion picks",
        "champion side",
        "shadow picks",
        "shadow side",
        "market favourite",
    }
    assert series["champion picks"][-1] == pytest.approx(sum(g.profit for _, g in graded))
    assert series["champion picks"] == pytest.approx(series["shadow picks"])
    assert series["market favourite"][-1] == pytest.approx(
        sum(favourite_profit(p, g) or 0 for p, g in graded)
    )
    assert profit["bets"]["champion picks"] == sum(
        g.recommendation != "PASS" and g.result != "VOID" for _, g in graded
    )
