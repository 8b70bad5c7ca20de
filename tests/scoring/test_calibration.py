"""The calibration stage: no look-ahead (the stage for day D is a function of games before D
only), it starts from the market, finds a planted edge and refuses noise, and the scorer and
registry carry it."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connectors.adapters import Record
from features.identity import PlayerDirectory
from features.store import FeatureStore
from scoring.calibration import IDENTITY, INPUTS, MIN_EDGE, PRIOR, Calibration, GradedQuote, fit_stage
from scoring.evaluate import fit_stages, main_line_requests, make_model
from scoring.exceptions import SchemaMismatchError
from scoring.model import ModelKind, Registry
from scoring.scorer import Scorer
from scoring.training import TrainingSet
from vocabulary.events import BoxScore

START = date(2025, 10, 21)
PRICES = (-130.0, -120.0, -115.0, -110.0, -105.0, 100.0, 105.0, 110.0)


def _history(seed: int, rows: int, days: int, edge: float = 0.0) -> list[GradedQuote]:
    """Random graded quotes over `days` days. Outcomes follow the market, or the market moved
    by `edge` towards the model where the model disagrees by more than 0.1 (a real edge)."""
    rng = np.random.default_rng(seed)
    quotes = []
    for i in range(rows):
        market = float(rng.uniform(0.35, 0.65))
        model = float(np.clip(market + rng.normal(0, 0.12), 0.02, 0.98))
        truth = market + (math.copysign(edge, model - market) if abs(model - market) > 0.1 else 0.0)
        quotes.append(
            GradedQuote(
                game_date=START + timedelta(days=int(rng.integers(days))),
                player_id=int(rng.integers(40)),
                game_key=f"g{int(rng.integers(60))}",
                book=f"b{i % 7}",
                p_model=model,
                p_market=market,
                team_spread=float(rng.uniform(-14, 14)) if rng.random() > 0.1 else math.nan,
                game_total=float(rng.uniform(205, 245)) if rng.random() > 0.1 else math.nan,
                over_price=float(rng.choice(PRICES)),
                under_price=float(rng.choice(PRICES)),
                over=bool(rng.random() < truth),
            )
        )
    return quotes


@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 3_000),
    edge=st.sampled_from([0.0, 0.15]),
    day=st.integers(0, 14),
    future_seed=st.integers(0, 2**32 - 1),
    future_rows=st.integers(0, 400),
)
@example(seed=7, rows=3_000, edge=0.15, day=12, future_seed=1, future_rows=300)
def test_the_stage_for_day_d_depends_only_on_games_before_d(
    seed: int, rows: int, edge: float, day: int, future_seed: int, future_rows: int
) -> None:
    """Whatever happens on or after D (more games, other outcomes, other prices), and in
    whatever order the history arrives, the stage for D is the same."""
    history = _history(seed, rows, days=15, edge=edge)
    cutoff = START + timedelta(days=day)
    stage = fit_stage(history, cutoff)
    past = [q for q in history if q.game_date < cutoff]
    future = [
        GradedQuote(**{**_asdict(q), "game_date": cutoff + timedelta(days=(q.game_date - START).days % 5)})
        for q in _history(future_seed, future_rows, days=15)
    ]
    rewritten = [
        GradedQuote(**{**_asdict(q), "over": not q.over, "p_model": 1 - q.p_model})
        for q in history
        if q.game_date >= cutoff
    ]
    mixed = past + future + rewritten
    random.Random(future_seed).shuffle(mixed)
    assert fit_stage(mixed, cutoff) == stage
    assert fit_stage(past, cutoff) == stage
    assert stage.fitted_before == cutoff and stage.rows == len(past)
    if (seed, rows, day) == (7, 3_000, 12):  # the explicit example exercises the whole stage
        assert stage.ridge is not None and stage.ridge < 10_000 and stage.min_edge is not None


def _asdict(q: GradedQuote) -> dict[str, object]:
    return {name: getattr(q, name) for name in GradedQuote.__slots__}


def test_without_history_the_stage_is_the_market_and_picks_nothing() -> None:
    stage = fit_stage([], START)
    assert stage.weights == PRIOR and stage.min_edge is None and stage.rows == 0
    for model, market in ((0.1, 0.5), (0.9, 0.42), (0.5, 0.61)):
        assert stage.p_over(model, market, -7.5, 231.0) == pytest.approx(market)


def test_a_planted_edge_is_found_and_noise_is_refused() -> None:
    day = START + timedelta(days=30)
    noise = fit_stage(_history(1, 6_000, days=30), day)
    assert noise.min_edge is None  # outcomes follow the market: no threshold beats the vig
    assert abs(noise.weights[0]) < 0.1  # and the model's disagreement earns (almost) no weight
    planted = fit_stage(_history(1, 6_000, days=30, edge=0.12), day)
    assert planted.weights[0] > 0.2  # the model's disagreement now carries information
    assert planted.min_edge is not None
    assert planted.p_over(0.8, 0.5, math.nan, math.nan) > 0.53


def test_the_scorer_reads_the_stage_and_keeps_its_invariants(
    history: tuple[TrainingSet, FeatureStore, PlayerDirectory],
) -> None:
    data, store, _ = history
    requests = main_line_requests(store, date(2025, 11, 10))
    model = make_model("champion", "sqrt_uncertainty", data.before(date(2025, 11, 10)), {"iterations": 40})[0]
    alone = Scorer(model).score(requests)
    assert Scorer(model, calibration=IDENTITY).score(requests) == alone
    market = Scorer(model, calibration=fit_stage([], date(2025, 11, 10))).score(requests)
    stage = Calibration(kind="logistic", inputs=INPUTS, weights=(0.3, -0.1, 0.05, 1.0), min_edge=0.02)
    staged = Scorer(model, calibration=stage).score(requests)
    for a, m, s in zip(alone, market, staged, strict=True):
        assert a.prediction_id == m.prediction_id == s.prediction_id and a.mean == s.mean
        assert s.p_over + s.p_under + s.p_push == pytest.approx(1.0)
        assert s.p_push == pytest.approx(a.p_push)
        if a.market_p_over is None:
            assert s.p_over == a.p_over and s.recommendation == "PASS"
            continue
        assert m.edge == pytest.approx(0.0, abs=1e-9)
        assert m.recommendation == "PASS" and m.reasons[0] == "no_proven_edge"
        assert s.edge == pytest.approx(s.p_over / (s.p_over + s.p_under) - s.market_p_over)
        if s.recommendation != "PASS":
            assert abs(s.edge) >= 0.02  # type: ignore[arg-type]
    assert any(s.recommendation != "PASS" for s in staged)
    assert Scorer(model).min_edge == MIN_EDGE


def test_the_registry_keeps_the_stage_beside_the_model(
    tmp_path: Path, history: tuple[TrainingSet, FeatureStore, PlayerDirectory]
) -> None:
    registry = Registry(tmp_path)
    model, catboost_model = make_model("champion", "sqrt_uncertainty", history[0], {"iterations": 20})
    registry.save(catboost_model, model.meta)
    assert registry.calibration("champion") == IDENTITY  # a version saved without a stage: served as it is
    stage = fit_stage(_history(3, 800, days=10), START + timedelta(days=10))
    registry.save_calibration("champion", stage)
    assert registry.calibration("champion") == stage
    (tmp_path / "champion" / "versions" / model.meta.version / "calibration.json").write_text(
        stage.model_copy(update={"inputs": ("market",)}).model_dump_json()
    )
    with pytest.raises(SchemaMismatchError, match="retrain"):
        registry.calibration("champion")


def test_the_served_stage_is_fitted_on_the_record_before_until(
    history: tuple[TrainingSet, FeatureStore, PlayerDirectory], shipped_records: list[Record]
) -> None:
    data, store, _ = history
    boxes = {(e.player_id, e.game_key): e for r in shipped_records if isinstance(e := r.event, BoxScore)}
    kinds: dict[str, ModelKind] = {"champion": "sqrt_uncertainty"}
    stage = fit_stages(data, store, boxes, kinds, date(2025, 10, 25), params={"iterations": 30})["champion"]
    assert stage.fitted_before == date(2025, 10, 25) and stage.days == 4 and stage.rows > 1_500
    before_props = fit_stages(data, store, boxes, kinds, date(2025, 10, 21))["champion"]
    assert before_props == fit_stage([], date(2025, 10, 21))  # nothing graded yet: the market itself
