"""Grading rules on hand-made cases, and the performance arithmetic."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.distribution import outcome_probabilities
from scoring.grading import grade, performance, wilson_interval
from tests.vocabulary.test_events import BOX
from vocabulary.events import BoxScore
from vocabulary.records import Prediction, prediction_id

AS_OF = datetime(2025, 11, 1, 17, tzinfo=UTC)


def _prediction(
    line: float = 24.5,
    recommendation: str = "OVER",
    over: float = -110,
    under: float | None = -110,
    p_over: float = 0.6,
) -> Prediction:
    return Prediction.model_validate(
        {
            "prediction_id": "x",
            "model": "m",
            "player_id": 202695,
            "game_key": "20251101-UTA@LAC",
            "game_date": date(2025, 11, 1),
            "book": "draftkings",
            "market": "points",
            "line": line,
            "over_price": over,
            "under_price": under,
            "as_of": AS_OF,
            "mean": 26.0,
            "sigma": 6.0,
            "p_over": p_over,
            "p_under": 1 - p_over,
            "p_push": 0.0,
            "market_p_over": 0.5,
            "edge": p_over - 0.5,
            "ev_over": 0.1,
            "ev_under": -0.2,
            "recommendation": recommendation,
            "actionable": True,
            "reasons": (),
            "defaulted": (),
            "model_version": "20251101T0400Z",
            "in_sample": False,
            "tipoff": None,
        }
    )


def _box(points: int, minutes: float = 34.0) -> BoxScore:
    return BoxScore.model_validate(
        BOX | {"points": points, "fgm": 0, "fg3m": 0, "ftm": points, "fta": points, "minutes": minutes}
    )


def test_win_loss_on_a_half_point_line() -> None:
    win = grade(_prediction(24.5, "OVER"), _box(25))
    assert (win.result, win.side, win.actual, win.abs_error) == ("WIN", "OVER", 25.0, 1.0)
    assert win.profit == pytest.approx(100 / 110)
    loss = grade(_prediction(24.5, "OVER"), _box(24))
    assert (loss.result, loss.profit) == ("LOSS", -1.0)
    under = grade(_prediction(24.5, "UNDER", p_over=0.4), _box(24))
    assert (under.result, under.side) == ("WIN", "UNDER")


def test_push_on_an_integer_line_returns_the_stake() -> None:
    push = grade(_prediction(24.0, "OVER"), _box(24))
    assert (push.result, push.profit) == ("PUSH", 0.0)


def test_void_when_the_player_did_not_play() -> None:
    assert grade(_prediction(), _box(0, minutes=0.0)).result == "VOID"
    void = grade(_prediction(), None)
    assert (void.result, void.profit, void.actual, void.abs_error) == ("VOID", 0.0, None, None)


def test_profit_at_plus_and_minus_prices() -> None:
    assert grade(_prediction(over=+150), _box(30)).profit == pytest.approx(1.5)
    assert grade(_prediction(over=-200), _box(30)).profit == pytest.approx(0.5)
    assert grade(_prediction(24.5, "UNDER", under=+120, p_over=0.3), _box(10)).profit == pytest.approx(1.2)


def test_a_pass_is_graded_on_the_favoured_side_without_money() -> None:
    graded = grade(_prediction(recommendation="PASS", p_over=0.45), _box(10))
    assert (graded.side, graded.result, graded.profit) == ("UNDER", "WIN", 0.0)


def test_performance_figures() -> None:
    grades = [grade(_prediction(), _box(p)) for p in (30, 30, 20, 24)] + [grade(_prediction(), None)]
    perf = performance(grades)
    assert perf.n_graded == 4 and perf.n_bets == 4
    assert perf.hit_rate == 0.5
    assert perf.brier_model == pytest.approx((0.4**2 * 2 + 0.6**2 * 2) / 4)
    assert perf.brier_market == pytest.approx(0.25)
    assert perf.logloss_market == pytest.approx(math.log(2))
    assert perf.roi == pytest.approx((2 * 100 / 110 - 2) / 4)
    assert perf.mae_line == pytest.approx((5.5 + 5.5 + 4.5 + 0.5) / 4)


def test_wilson_interval() -> None:
    low, high = wilson_interval(55, 100)
    assert low == pytest.approx(0.4524, abs=1e-4) and high == pytest.approx(0.6438, abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_prediction_id_depends_on_identity_only() -> None:
    one = prediction_id(model="m", player_id=1, game_key="g", book="b", market="points", as_of=AS_OF)
    assert one == prediction_id(model="m", player_id=1, game_key="g", book="b", market="points", as_of=AS_OF)
    later = AS_OF.replace(minute=1)
    assert one != prediction_id(model="m", player_id=1, game_key="g", book="b", market="points", as_of=later)


@given(
    loc=st.floats(0.5, 60),
    sigma=st.floats(0.5, 20),
    line=st.integers(1, 120).map(lambda n: n / 2),
    scale=st.sampled_from(["points", "sqrt"]),
)
def test_outcome_probabilities(loc: float, sigma: float, line: float, scale: str) -> None:
    if scale == "sqrt":
        loc, sigma = math.sqrt(loc), sigma / 10
    over, under, push = outcome_probabilities(loc, sigma, line, scale)  # type: ignore[arg-type]
    assert over + under + push == pytest.approx(1.0)
    assert min(over, under, push) >= 0
    assert (push == 0.0) == bool(line % 1) or push < 1e-12
    higher_over, _, _ = outcome_probabilities(loc, sigma, line + 0.5, scale)  # type: ignore[arg-type]
    assert higher_over <= over + 1e-12
