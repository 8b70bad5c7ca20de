"""From a predicted points distribution to the probabilities of a prop's outcomes.

A model predicts a normal distribution N(loc, scale) of points, or of the square root of
points (`sqrt` scale: points are right-skewed counts, so their median sits below their mean;
on the square-root scale they are close to symmetric). Points are integers, so thresholds get
a continuity correction: over a half-point line L means points > L; on an integer line L,
over is points >= L + 1 (> L + 0.5), under is points <= L - 1 (< L - 0.5), the rest a push.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["Scale", "normal_cdf", "outcome_probabilities", "point_mean"]

Scale = Literal["points", "sqrt"]
_SQRT2 = math.sqrt(2.0)


def normal_cdf(x: float, mean: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mean) / (sigma * _SQRT2)))


def _on_scale(points: float, scale: Scale) -> float:
    return math.sqrt(max(points, 0.0)) if scale == "sqrt" else points


def outcome_probabilities(
    loc: float, sigma: float, line: float, scale: Scale = "points"
) -> tuple[float, float, float]:
    """(P(over), P(under), P(push)) for a line."""
    if line % 1:
        under = normal_cdf(_on_scale(line, scale), loc, sigma)
        return 1.0 - under, under, 0.0
    under = normal_cdf(_on_scale(line - 0.5, scale), loc, sigma)
    over = 1.0 - normal_cdf(_on_scale(line + 0.5, scale), loc, sigma)
    return over, under, max(0.0, 1.0 - over - under)


def point_mean(loc: float, sigma: float, scale: Scale = "points") -> float:
    """Expected points: loc itself, or E[Y^2] = loc^2 + sigma^2 on the square-root scale."""
    return loc * loc + sigma * sigma if scale == "sqrt" else loc
