"""Scoring: feature vectors in, predictions out, in batches.

The model's distribution is read at the quote's line (P(over), P(under), P(push)); a
calibration stage (`scoring.calibration`, the identity unless one is given) turns its
P(over | no push) into the probability a bettor sees, starting from the quote's de-vigged
price; P(push) stays the model's. The edge is that P(over | no push) minus the book's
de-vigged P(over); expected value is per unit staked at the posted price. A recommendation
needs an edge of at least `min_edge` (the stage's unless given; none when the stage has not
seen an edge beyond noise) and a positive expected value on that side; it is actionable when
the quality gate also passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from features.odds import devig_over, profit_per_unit
from features.schema import FEATURE_NAMES, FeatureVector, QualityGate
from scoring.calibration import IDENTITY, MIN_EDGE, Calibration
from scoring.distribution import outcome_probabilities, point_mean
from scoring.model import PointsModel, model_columns
from vocabulary.records import Prediction, Recommendation, construct, prediction_id

__all__ = [
    "MIN_EDGE",
    "NO_STAMP",
    "Request",
    "Scorer",
    "Stamp",
]

_SPREAD, _TOTAL = FEATURE_NAMES.index("team_spread"), FEATURE_NAMES.index("game_total")


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the flow sets beside a record's identity: when it was emitted (the wall clock, read
    by the flow only) and the players' names (display only)."""

    emitted_at: datetime | None = None
    name: Callable[[int], str | None] = lambda _player_id: None


NO_STAMP = Stamp()


@dataclass(frozen=True, slots=True)
class Request:
    """One quote to score: its feature vector (which knows the event time it is as of) and
    the quote's prices."""

    vector: FeatureVector
    over_price: float
    under_price: float | None


class Scorer:
    def __init__(
        self,
        model: PointsModel,
        gate: QualityGate | None = None,
        min_edge: float | None = None,
        calibration: Calibration = IDENTITY,
    ) -> None:
        if min_edge is not None and not 0 <= min_edge < 0.5:
            raise ValueError(f"min_edge must be in [0, 0.5), got {min_edge}")
        self.model = model
        self.gate = gate or QualityGate()
        self.calibration = calibration
        self.min_edge = calibration.min_edge if min_edge is None else min_edge

    def score(self, requests: Sequence[Request], stamp: Stamp = NO_STAMP) -> list[Prediction]:
        """One tree evaluation for every request; `stamp` sets the emit time and the player's
        name beside each prediction's identity (the flow's, never part of it)."""
        if not requests:
            return []
        vectors = np.asarray([r.vector.values for r in requests], dtype=np.float64)
        locs, sigmas = self.model.predict(model_columns(vectors))
        return [
            self._prediction(r, float(m), float(s), stamp)
            for r, m, s in zip(requests, locs, sigmas, strict=True)
        ]

    def _prediction(self, request: Request, loc: float, sigma: float, stamp: Stamp) -> Prediction:
        vector, target = request.vector, request.vector.target
        p_over, p_under, p_push = outcome_probabilities(loc, sigma, target.line, self.model.scale)
        market = (
            devig_over(request.over_price, request.under_price) if request.under_price is not None else None
        )
        decided = p_over + p_under
        if market is not None and decided > 0 and not self.calibration.is_identity:
            values = vector.values
            p = self.calibration.p_over(p_over / decided, market, values[_SPREAD], values[_TOTAL])
            p_over, p_under = p * decided, (1.0 - p) * decided
        edge = p_over / decided - market if market is not None else None
        ev_over = p_over * profit_per_unit(request.over_price) - p_under
        ev_under = (
            p_under * profit_per_unit(request.under_price) - p_over
            if request.under_price is not None
            else None
        )
        recommendation: Recommendation = "PASS"
        min_edge = self.min_edge
        if edge is not None and min_edge is not None:
            if edge >= min_edge and ev_over > 0:
                recommendation = "OVER"
            elif -edge >= min_edge and ev_under is not None and ev_under > 0:
                recommendation = "UNDER"
        reasons = list(self.gate.reasons(vector))
        if recommendation == "PASS":
            if market is None:
                reasons.insert(0, "no_market_probability")
            else:
                reasons.insert(0, "no_proven_edge" if min_edge is None else f"edge<{min_edge}")
        return construct(
            Prediction,
            dict(  # every value is ours, typed above: no validation
                prediction_id=prediction_id(
                    model=self.model.name,
                    player_id=target.player_id,
                    game_key=target.game_key,
                    book=target.book,
                    market=target.market,
                    as_of=request.vector.as_of,
                ),
                model=self.model.name,
                player_id=target.player_id,
                game_key=target.game_key,
                game_date=_game_date(target.game_key),
                book=target.book,
                market=target.market,
                line=target.line,
                as_of=request.vector.as_of,
                over_price=request.over_price,
                under_price=request.under_price,
                mean=point_mean(loc, sigma, self.model.scale),
                sigma=sigma,
                p_over=p_over,
                p_under=p_under,
                p_push=p_push,
                market_p_over=market,
                edge=edge,
                ev_over=ev_over,
                ev_under=ev_under,
                recommendation=recommendation,
                actionable=not reasons,
                reasons=tuple(reasons),
                defaulted=vector.defaulted,
                withdrawn=False,
                emitted_at=stamp.emitted_at,
                player_name=stamp.name(target.player_id),
            ),
        )


def _game_date(game_key: str) -> date:
    return date(int(game_key[:4]), int(game_key[4:6]), int(game_key[6:8]))
