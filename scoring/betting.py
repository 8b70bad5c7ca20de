"""What a bettor reads off graded predictions: intervals that respect player-games, the edge
table, and profit by day beside betting the market's favourite.

Three ways to stake one unit at the posted price on a prop:
- the model's **picks**: only the recommended bets (`Grade.profit`);
- the model's **side** on every prop: the side it favours, recommended or not (`side_profit`);
- the **market's favourite**: the side whose de-vigged probability is at least one half
  (the over on an exact tie), on every priced prop (`favourite_profit`).
A push or a void returns the stake. Intervals resample whole player-games
(`scoring.bootstrap`): a player-game is graded once per book, and those rows share one outcome.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from features.odds import profit_per_unit
from scoring.bootstrap import SEED, cluster_bootstrap
from vocabulary.records import Grade, Prediction

__all__ = [
    "EDGE_BUCKETS",
    "betting_summary",
    "break_even",
    "cumulative_profit",
    "edge_buckets",
    "favourite_profit",
    "side_profit",
]

EDGE_BUCKETS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 1.0)

Pair = tuple[Prediction, Grade]


def _price(p: Prediction, side: str) -> float | None:
    return p.over_price if side == "OVER" else p.under_price


def _settle(p: Prediction, side: str, actual: float | None) -> float:
    """Profit of one unit on `side` at the posted price (0 for a push, a void or no price)."""
    price = _price(p, side)
    if actual is None or actual == p.line or price is None:
        return 0.0
    return profit_per_unit(price) if (actual > p.line) == (side == "OVER") else -1.0


def side_profit(p: Prediction, g: Grade) -> float:
    """One unit on the side the model favours (its graded side), whether recommended or not."""
    return _settle(p, g.side, g.actual)


def favourite_profit(p: Prediction, g: Grade) -> float | None:
    """One unit on the market's favourite side; None when the quote has no de-vigged price."""
    if p.market_p_over is None:
        return None
    return _settle(p, "OVER" if p.market_p_over >= 0.5 else "UNDER", g.actual)


def break_even(p: Prediction, side: str) -> float:
    """The hit rate at which a bet on `side` at the posted price breaks even."""
    price = _price(p, side)
    return 1.0 / (1.0 + profit_per_unit(price)) if price is not None else math.nan


def _cluster(g: Grade) -> tuple[int, str]:
    return (g.player_id, g.game_key)


def _ratio(pairs: Sequence[Pair], hits: bool, profit: Any, seed: int) -> dict[str, float]:
    """n, rate and bootstrap interval of hits (decided rows) or of profit per unit staked (a
    push stakes a unit and returns it, as in `scoring.grading.performance`)."""
    if hits:
        rows = [(g, float(g.result == "WIN"), 1.0) for _, g in pairs if g.result in ("WIN", "LOSS")]
    else:
        rows = [(g, profit(p, g), 1.0) for p, g in pairs]
        rows = [r for r in rows if r[1] is not None]
    top, bottom = sum(r[1] for r in rows), sum(r[2] for r in rows)
    low, high = cluster_bootstrap(
        [_cluster(r[0]) for r in rows], [r[1] for r in rows], [r[2] for r in rows], seed=seed
    )
    return {"n": len(rows), "value": top / bottom if bottom else math.nan, "low": low, "high": high}


def betting_summary(pairs: Sequence[Pair], seed: int = SEED) -> dict[str, Any]:
    """Hit rate of the favoured side and ROI of the picks, of the model's side on every prop and
    of the market's favourite, each with its player-game bootstrap interval; the mean |edge|
    over priced props and the share of graded props recommended."""
    graded = [(p, g) for p, g in pairs if g.result != "VOID"]
    picks = [(p, g) for p, g in graded if g.recommendation != "PASS"]
    edges = [abs(p.edge) for p, _ in pairs if p.edge is not None]
    return {
        "hit_rate": _ratio(graded, True, None, seed),
        "roi": _ratio(picks, False, lambda p, g: g.profit, seed),
        "side_roi": _ratio(graded, False, side_profit, seed),
        "favourite_roi": _ratio(graded, False, favourite_profit, seed),
        "mean_abs_edge": sum(edges) / len(edges) if edges else math.nan,
        "share_recommended": len(picks) / len(graded) if graded else math.nan,
    }


def edge_buckets(
    pairs: Sequence[Pair], buckets: Sequence[float] = EDGE_BUCKETS, seed: int = SEED
) -> list[dict[str, float]]:
    """By |edge|: every decided priced prop bet flat on the model's side (n, hit rate, ROI, each
    with its player-game interval, and the mean break-even hit rate of those prices), and the
    picks among them (their number, hit rate and ROI)."""
    priced = [(p, g, abs(p.edge)) for p, g in pairs if p.edge is not None and g.result in ("WIN", "LOSS")]
    rows = []
    for low, high in itertools.pairwise(buckets):
        last = high == buckets[-1]
        members = [(p, g) for p, g, e in priced if low <= e < high or (last and e == high)]
        hit = _ratio(members, True, None, seed)
        roi = _ratio(members, False, side_profit, seed)
        picks = [(p, g) for p, g in members if g.recommendation != "PASS"]
        pick_wins = sum(g.result == "WIN" for _, g in picks)
        rows.append(
            {
                "low": low,
                "high": high,
                "n": len(members),
                "hit_rate": hit["value"],
                "hit_rate_low": hit["low"],
                "hit_rate_high": hit["high"],
                "break_even": (
                    sum(break_even(p, g.side) for p, g in members) / len(members) if members else math.nan
                ),
                "roi": roi["value"],
                "roi_low": roi["low"],
                "roi_high": roi["high"],
                "n_bets": len(picks),
                "bets_hit_rate": pick_wins / len(picks) if picks else math.nan,
                "bets_roi": sum(g.profit for _, g in picks) / len(picks) if picks else math.nan,
            }
        )
    return rows


def cumulative_profit(pairs: Iterable[Pair]) -> dict[str, Any]:
    """Units won by the end of each day: per model its picks and its side on every prop, and
    the market's favourite on the same props (counted once, from the first model's rows);
    `bets` counts each model's picks."""
    daily: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    bets: dict[str, int] = defaultdict(int)
    first_model: str | None = None
    for p, g in pairs:
        first_model = first_model or g.model
        daily[f"{g.model} picks"][g.game_date] += g.profit
        bets[f"{g.model} picks"] += g.recommendation != "PASS" and g.result != "VOID"
        daily[f"{g.model} side"][g.game_date] += side_profit(p, g)
        if g.model == first_model:
            daily["market favourite"][g.game_date] += favourite_profit(p, g) or 0.0
    days = sorted({d for series in daily.values() for d in series})
    return {
        "days": [d.isoformat() for d in days],
        "series": {
            name: list(itertools.accumulate(series[d] for d in days)) for name, series in daily.items()
        },
        "bets": dict(bets),
    }
