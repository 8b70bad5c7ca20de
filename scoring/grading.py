"""Grading a prediction against the box score, and performance per model and day.

A prop is settled on its market's box-score statistic (vocabulary.markets). The graded side is
the recommendation, or for a PASS the side the model favoured; money
moves only on a recommended bet: a win pays the posted price, a loss costs the stake, a push
or a void returns it. VOID: the player did not play (no box score for the game, or 0 minutes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

from features.odds import profit_per_unit
from vocabulary.events import BoxScore
from vocabulary.markets import settle
from vocabulary.records import Grade, Prediction, Result, construct

__all__ = ["Performance", "grade", "performance", "performance_by_model_and_day", "wilson_interval"]

_EPS = 1e-6


def grade(prediction: Prediction, box: BoxScore | None, emitted_at: datetime | None = None) -> Grade:
    """The grade of `prediction` (emitted at `emitted_at`, the flow's clock, never identity)."""
    p = prediction
    side = p.recommendation if p.recommendation != "PASS" else ("OVER" if p.p_over >= p.p_under else "UNDER")
    played = box is not None and box.minutes > 0
    actual = settle(p.market, box) if box is not None and played else None
    if actual is None:
        result: Result = "VOID"
    elif actual == p.line:
        result = "PUSH"
    else:
        result = "WIN" if (actual > p.line) == (side == "OVER") else "LOSS"
    profit = 0.0
    if p.recommendation != "PASS" and result in ("WIN", "LOSS"):
        price = p.over_price if side == "OVER" else p.under_price
        profit = profit_per_unit(price) if result == "WIN" and price is not None else -1.0
    fields = {  # every value is ours: no validation on the hot path; a literal in the fields' order
        "prediction_id": p.prediction_id,
        "model": p.model,
        "player_id": p.player_id,
        "game_key": p.game_key,
        "game_date": p.game_date,
        "book": p.book,
        "market": p.market,
        "line": p.line,
        "as_of": p.as_of,
        "side": side,
        "recommendation": p.recommendation,
        "actual": actual,
        "result": result,
        "profit": profit,
        "abs_error": abs(p.mean - actual) if actual is not None else None,
        "p_over": p.p_over / (p.p_over + p.p_under),
        "market_p_over": p.market_p_over,
        "model_version": p.model_version,
        "in_sample": p.in_sample,
        "emitted_at": emitted_at,
        "player_name": p.player_name,
    }
    return construct(Grade, fields)


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a hit rate."""
    if n == 0:
        return math.nan, math.nan
    phat = hits / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@dataclass(frozen=True)
class Performance:
    n_graded: int
    n_bets: int
    hit_rate: float
    hit_rate_low: float
    hit_rate_high: float
    brier_model: float
    brier_market: float
    logloss_model: float
    logloss_market: float
    mae_model: float
    mae_line: float
    roi: float
    profit: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _logloss(p: float, outcome: bool) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return -math.log(p if outcome else 1 - p)


def performance(grades: Iterable[Grade]) -> Performance:
    """Hit rate (favoured side, pushes and voids excluded) with its 95% interval; Brier and
    log-loss of P(over) beside the book's de-vigged P(over) on the same decided props; MAE of
    the predicted mean beside the line's; ROI per unit staked on recommended bets."""
    graded = [g for g in grades if g.result != "VOID"]
    decided = [g for g in graded if g.result != "PUSH"]
    hits = sum(g.result == "WIN" for g in decided)
    low, high = wilson_interval(hits, len(decided))
    priced = [g for g in decided if g.market_p_over is not None]
    over = [g.actual is not None and g.actual > g.line for g in priced]
    bets = [g for g in graded if g.recommendation != "PASS"]
    profit = sum(g.profit for g in bets)
    return Performance(
        n_graded=len(graded),
        n_bets=len(bets),
        hit_rate=hits / len(decided) if decided else math.nan,
        hit_rate_low=low,
        hit_rate_high=high,
        brier_model=_mean([(g.p_over - o) ** 2 for g, o in zip(priced, over, strict=True)]),
        brier_market=_mean([(g.market_p_over - o) ** 2 for g, o in zip(priced, over, strict=True)]),  # type: ignore[operator]
        logloss_model=_mean([_logloss(g.p_over, o) for g, o in zip(priced, over, strict=True)]),
        logloss_market=_mean([_logloss(g.market_p_over, o) for g, o in zip(priced, over, strict=True)]),  # type: ignore[arg-type]
        mae_model=_mean([g.abs_error for g in graded if g.abs_error is not None]),
        mae_line=_mean([abs(g.line - g.actual) for g in graded if g.actual is not None]),
        roi=profit / len(bets) if bets else math.nan,
        profit=profit,
    )


def performance_by_model_and_day(grades: Iterable[Grade]) -> dict[tuple[str, date], Performance]:
    groups: dict[tuple[str, date], list[Grade]] = defaultdict(list)
    for g in grades:
        groups[(g.model, g.game_date)].append(g)
    return {key: performance(groups[key]) for key in sorted(groups)}
