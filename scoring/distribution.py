"""From a predicted distribution of a box-score stat to the probabilities of a prop's outcomes.

A model predicts one of four distributions of its market's stat Y (points, rebounds, ...):

- `points` scale: a normal N(loc, scale) of Y itself;
- `sqrt` scale: a normal of sqrt(Y) (counts are right-skewed, so their median sits below their
  mean; on the square-root scale they are close to symmetric);
- `poisson`: Y ~ Poisson(loc), `sigma` its standard deviation sqrt(loc);
- `negbin`: Y ~ negative binomial with mean `loc` and standard deviation `sigma` (variance
  loc + loc^2 / r, so r = loc^2 / (sigma^2 - loc); sigma^2 <= loc falls back to Poisson).

The two count distributions carry (mean, standard deviation) in the same two numbers the normal
does, so a scorer reads every model the same way. The stat is an integer, so for the normals
thresholds get a continuity correction: over a half-point line L means Y > L; on an integer line
L, over is Y >= L + 1 (> L + 0.5), under is Y <= L - 1 (< L - 0.5), the rest a push. The count
distributions give those probabilities exactly from their cumulative distribution.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["COUNT_SCALES", "Scale", "count_cdf", "normal_cdf", "outcome_probabilities", "point_mean"]

Scale = Literal["points", "sqrt", "poisson", "negbin"]
COUNT_SCALES: tuple[Scale, ...] = ("poisson", "negbin")
_SQRT2 = math.sqrt(2.0)
_MIN_MEAN = 1e-6


def normal_cdf(x: float, mean: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mean) / (sigma * _SQRT2)))


def _on_scale(points: float, scale: Scale) -> float:
    return math.sqrt(max(points, 0.0)) if scale == "sqrt" else points


def count_cdf(k: int, mean: float, sigma: float, scale: Scale) -> float:
    """P(Y <= k) for the Poisson or negative binomial of mean `mean` and std `sigma`."""
    if k < 0:
        return 0.0
    mu = max(mean, _MIN_MEAN)
    variance = sigma * sigma
    if scale == "negbin" and variance > mu * (1.0 + 1e-9):
        r = mu * mu / (variance - mu)
        p = r / (r + mu)  # success probability: P(Y = 0) = p^r
        pmf = math.exp(r * math.log(p))
        total = pmf
        for j in range(1, k + 1):
            pmf *= (j - 1 + r) / j * (1.0 - p)
            total += pmf
        return min(1.0, total)
    log_pmf = -mu  # Poisson: P(Y = 0) = e^-mu, then pmf_j = pmf_{j-1} * mu / j
    pmf = math.exp(log_pmf)
    total = pmf
    for j in range(1, k + 1):
        pmf *= mu / j
        total += pmf
    return min(1.0, total)


def outcome_probabilities(
    loc: float, sigma: float, line: float, scale: Scale = "points"
) -> tuple[float, float, float]:
    """(P(over), P(under), P(push)) for a line."""
    if scale in COUNT_SCALES:
        if line % 1:
            under = count_cdf(math.floor(line), loc, sigma, scale)
            return 1.0 - under, under, 0.0
        k = int(line)
        under = count_cdf(k - 1, loc, sigma, scale)
        at_most = count_cdf(k, loc, sigma, scale)
        return 1.0 - at_most, under, max(0.0, at_most - under)
    if line % 1:
        under = normal_cdf(_on_scale(line, scale), loc, sigma)
        return 1.0 - under, under, 0.0
    under = normal_cdf(_on_scale(line - 0.5, scale), loc, sigma)
    over = 1.0 - normal_cdf(_on_scale(line + 0.5, scale), loc, sigma)
    return over, under, max(0.0, 1.0 - over - under)


def point_mean(loc: float, sigma: float, scale: Scale = "points") -> float:
    """The expected stat: loc itself (normal, Poisson, negative binomial), or
    E[Y] = loc^2 + sigma^2 on the square-root scale."""
    return loc * loc + sigma * sigma if scale == "sqrt" else loc
