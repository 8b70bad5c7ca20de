"""The stage between the model and the bettor: it starts from the market.

The points model alone loses to the book (docs/model.md): read at a line, its distribution is
overconfident exactly where it disagrees with the quote. The stage turns the model's
P(over | no push) at the quote's line into the probability a bettor sees, starting from the
de-vigged price of that same quote:

    logit P(over) = w1 * (logit p_model - logit p_market)
                  + w2 * team_spread / 10 + w3 * (game_total - 225) / 10
                  + w4 * logit p_market

a logistic regression on graded history, penalised towards the market (w = 0, 0, 0, 1) with a
ridge `lambda * |w - prior|^2 / 2`. With no history the stage *is* the market; history moves it
only as far as it earns. Every input is one the prediction is rescored on (its own quote, the
model's reading of the player, the game's lines), so the rescoring rule and DESIGN section 3
hold: no other book's quote enters.

Fitted walk-forward (`fit_stage`): the stage for day D is a function of the graded quotes of
games before D only. That history is the walk-forward record of the 2025-26 props (the 2024-25
season has no props: it trains the points model, never the stage). The ridge is chosen among
`RIDGES` by the out-of-sample log-loss of the earlier days (each scored by a stage fitted on the
days before it), the largest ridge while fewer than `MIN_SCORED` rows have been scored. The
edge a pick needs is chosen on the same out-of-sample record: the smallest of
`EDGE_THRESHOLDS` whose past bets (at least `MIN_BETS`) show a return whose player-game
bootstrap 95% interval lies above zero; none (`min_edge = None`: no picks) until one does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from features.odds import profit_per_unit
from scoring.bootstrap import cluster_bootstrap

__all__ = [
    "EDGE_THRESHOLDS",
    "IDENTITY",
    "INPUTS",
    "MIN_BETS",
    "MIN_EDGE",
    "MIN_SCORED",
    "PRIOR",
    "RIDGES",
    "Calibration",
    "GradedQuote",
    "fit_stage",
]

MIN_EDGE = 0.03  # the model alone (identity stage): the edge a pick needs, as before the stage
INPUTS = ("model_vs_market", "team_spread", "game_total", "market")
PRIOR = (0.0, 0.0, 0.0, 1.0)  # the market itself
RIDGES = (10.0, 100.0, 1_000.0, 10_000.0)
MIN_SCORED = 500  # out-of-sample rows before the ridge is chosen by them (else the largest)
EDGE_THRESHOLDS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10)
MIN_BETS = 100
TOTAL_CENTRE = 225.0
_CLIP = 0.01  # probabilities enter the logit within [0.01, 0.99]


@dataclass(frozen=True, slots=True)
class GradedQuote:
    """One decided prop of a past day, as the model alone saw it before the game: the model's
    P(over | no push) at the quote's line, the quote's de-vigged P(over) and prices, the game's
    lines (NaN when unknown), and whether it went over."""

    game_date: date
    player_id: int
    game_key: str
    book: str
    p_model: float
    p_market: float
    team_spread: float
    game_total: float
    over_price: float
    under_price: float
    over: bool

    def sort_key(self) -> tuple[object, ...]:
        nan_free = [-math.inf if math.isnan(v) else v for v in (self.team_spread, self.game_total)]
        return (self.game_date, self.player_id, self.game_key, self.book, self.p_model, self.p_market,
                *nan_free, self.over_price, self.under_price, self.over)  # fmt: skip


class Calibration(BaseModel):
    """A fitted stage (or the identity: the model's own probability, picks at `MIN_EDGE`).

    `min_edge` is the edge a pick needs; None means history has not shown any edge beyond
    noise, so nothing is recommended. Saved beside the model in the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["identity", "logistic"] = "identity"
    inputs: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    ridge: float | None = None
    min_edge: float | None = MIN_EDGE
    fitted_before: date | None = None
    rows: int = 0
    days: int = 0

    @property
    def is_identity(self) -> bool:
        return self.kind == "identity"

    def p_over(self, p_model: float, p_market: float, team_spread: float, game_total: float) -> float:
        """The probability a bettor sees, P(over | no push)."""
        if self.is_identity:
            return p_model
        market = _logit_one(p_market)
        inputs = (
            _logit_one(p_model) - market,
            0.0 if math.isnan(team_spread) else team_spread / 10.0,
            0.0 if math.isnan(game_total) else (game_total - TOTAL_CENTRE) / 10.0,
            market,
        )  # one row of `_design`, in plain Python: this runs once per prediction
        z = math.fsum(w * v for w, v in zip(self.weights, inputs, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


IDENTITY = Calibration()


def _logit_one(p: float) -> float:
    p = min(max(p, _CLIP), 1.0 - _CLIP)
    return math.log(p / (1.0 - p))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _CLIP, 1.0 - _CLIP)
    return np.log(p / (1.0 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _design(p_model: np.ndarray, p_market: np.ndarray, spread: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Rows of INPUTS; an unknown spread or total enters as its neutral value (0)."""
    market = _logit(p_market)
    return np.column_stack(
        [
            _logit(p_model) - market,
            np.nan_to_num(spread / 10.0, nan=0.0),
            np.nan_to_num((total - TOTAL_CENTRE) / 10.0, nan=0.0),
            market,
        ]
    )


def _fit(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Penalised logistic regression by Newton's method, starting from (and shrunk to) PRIOR."""
    prior = np.asarray(PRIOR)
    theta = prior.copy()
    if not len(y):
        return theta
    eye = np.eye(len(prior))
    for _ in range(100):
        p = _sigmoid(x @ theta)
        gradient = x.T @ (p - y) + ridge * (theta - prior)
        hessian = x.T @ (x * (p * (1.0 - p))[:, None]) + ridge * eye
        step = np.linalg.solve(hessian, gradient)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta


def _logloss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.sum(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def fit_stage(history: Iterable[GradedQuote], day: date) -> Calibration:
    """The stage for day `day`, from the graded quotes of games before it (the rest is ignored)."""
    past = sorted((q for q in history if q.game_date < day), key=GradedQuote.sort_key)
    if not past:
        return Calibration(kind="logistic", inputs=INPUTS, weights=PRIOR, min_edge=None, fitted_before=day)
    x = _design(
        np.array([q.p_model for q in past]),
        np.array([q.p_market for q in past]),
        np.array([q.team_spread for q in past]),
        np.array([q.game_total for q in past]),
    )
    y = np.array([q.over for q in past], dtype=np.float64)
    dates = np.array([q.game_date for q in past], dtype="datetime64[D]")
    days = np.unique(dates)
    # Each past day scored by the stage of every ridge fitted on the days before it.
    scored = {ridge: np.empty(len(y)) for ridge in RIDGES}
    for d in days:
        before, on = dates < d, dates == d
        for ridge in RIDGES:
            scored[ridge][on] = _sigmoid(x[on] @ _fit(x[before], y[before], ridge))

    def ridge_before(d: np.datetime64) -> float:
        before = dates < d
        if before.sum() < MIN_SCORED:
            return RIDGES[-1]
        losses = {ridge: _logloss(scored[ridge][before], y[before]) for ridge in RIDGES}
        return min(reversed(RIDGES), key=lambda r: losses[r])  # ties go to the larger ridge

    # The out-of-sample record of the stage itself: each day by the stage it would have had.
    record = np.empty(len(y))
    for d in days:
        record[dates == d] = scored[ridge_before(d)][dates == d]
    ridge = ridge_before(np.datetime64(day))
    weights = _fit(x, y, ridge)
    return Calibration(
        kind="logistic",
        inputs=INPUTS,
        weights=tuple(float(w) for w in weights),
        ridge=ridge,
        min_edge=_threshold(past, record),
        fitted_before=day,
        rows=len(past),
        days=len(days),
    )


def _threshold(past: Sequence[GradedQuote], p: np.ndarray) -> float | None:
    """The smallest edge whose past bets beat the vig beyond noise, or None."""
    market = np.array([q.p_market for q in past])
    over = np.array([q.over for q in past])
    over_pays = np.array([profit_per_unit(q.over_price) for q in past])
    under_pays = np.array([profit_per_unit(q.under_price) for q in past])
    edge = p - market
    side_over = edge > 0
    ev = np.where(side_over, p * over_pays - (1 - p), (1 - p) * under_pays - p)
    won = side_over == over
    profit = np.where(won, np.where(side_over, over_pays, under_pays), -1.0)
    clusters = [(q.player_id, q.game_key) for q in past]
    for threshold in EDGE_THRESHOLDS:
        bets = np.flatnonzero((np.abs(edge) >= threshold) & (ev > 0))
        if len(bets) < MIN_BETS:
            continue
        low, _ = cluster_bootstrap([clusters[i] for i in bets], profit[bets], np.ones(len(bets)))
        if low > 0:
            return threshold
    return None
