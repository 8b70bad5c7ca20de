"""Intervals that respect how the rows hang together: a cluster bootstrap of a ratio.

Every player-game is graded about once per book (seven or eight rows that share one outcome),
so an interval over rows is too narrow. Resampling whole clusters (player-games by default)
with replacement, and taking the ratio of the summed numerators to the summed denominators
in each resample, gives percentile intervals for a hit rate (hits / decided) or an ROI
(profit / bets). The seed fixes the draws: the same rows give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["DRAWS", "SEED", "cluster_bootstrap"]

SEED = 20251028
DRAWS = 2000
_CELLS = 2_000_000


def cluster_bootstrap(
    clusters: Sequence[Hashable],
    numerators: npt.ArrayLike,
    denominators: npt.ArrayLike,
    *,
    seed: int = SEED,
    draws: int = DRAWS,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of sum(numerators) / sum(denominators), resampling clusters.

    Rows with the same cluster key move together. (nan, nan) without rows; resamples whose
    denominator is zero are left out."""
    top_rows = np.asarray(numerators, dtype=np.float64)
    bottom_rows = np.asarray(denominators, dtype=np.float64)
    if not len(clusters) == len(top_rows) == len(bottom_rows):
        raise ValueError("clusters, numerators and denominators must have the same length")
    if not len(clusters):
        return math.nan, math.nan
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in clusters), dtype=np.intp)
    k = len(index)
    num = np.bincount(codes, weights=top_rows, minlength=k)
    den = np.bincount(codes, weights=bottom_rows, minlength=k)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CELLS // k)  # resamples at a time: the counts matrix stays small
    tops, bottoms = [], []
    for start in range(0, draws, chunk):
        counts = rng.multinomial(k, np.full(k, 1.0 / k), size=min(chunk, draws - start))
        tops.append(counts @ num)
        bottoms.append(counts @ den)
    top, bottom = np.concatenate(tops), np.concatenate(bottoms)
    ratios = top[bottom > 0] / bottom[bottom > 0]
    if not len(ratios):
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)
