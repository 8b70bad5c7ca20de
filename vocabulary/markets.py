"""Player prop markets and the box-score statistic that settles each.

The market is part of every key that holds a line: a rebounds line is never read as a points
line, and a prediction or grade names its market. `settle` is the one place that says which
box-score column a market is graded on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from vocabulary.events import BoxScore, Market

__all__ = ["MARKETS", "Market", "settle"]

MARKETS: tuple[Market, ...] = get_args(Market)

_STATS: dict[str, Callable[[BoxScore], int]] = {
    "points": lambda b: b.points,
    "rebounds": lambda b: b.rebounds,
    "assists": lambda b: b.assists,
    "threes": lambda b: b.fg3m,
    "points_rebounds_assists": lambda b: b.points + b.rebounds + b.assists,
    "blocks": lambda b: b.blocks,
    "steals": lambda b: b.steals,
}
if set(_STATS) != set(MARKETS):
    raise RuntimeError("settle() is out of step with the Market literal")


def settle(market: str, box: BoxScore) -> float:
    """The box-score value a prop of `market` is graded against."""
    return float(_STATS[market](box))
