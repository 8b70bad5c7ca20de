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

import functools
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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
    "Version",
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
    tipoff: datetime | None = None  # the game's, as the input events give it (display: the close)


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a model as it is served: the model and its calibration stage."""

    model: PointsModel
    calibration: Calibration = IDENTITY
    min_edge: float | None = None  # the stage's unless given


@dataclass(frozen=True, slots=True)
class _Served:
    """A version with what each of its predictions reads, worked out once."""

    model: PointsModel
    calibration: Calibration
    min_edge: float | None
    name: str
    trained_from: date  # a game inside [trained_from, trained_to] is in-sample
    trained_to: date


class Scorer:
    def __init__(
        self,
        model: PointsModel,
        gate: QualityGate | None = None,
        min_edge: float | None = None,
        calibration: Calibration = IDENTITY,
    ) -> None:
        self._serve([Version(model, calibration, min_edge)], gate)

    @classmethod
    def of_versions(cls, versions: Sequence[Version], gate: QualityGate | None = None) -> Scorer:
        """A scorer of every version of one model (in any order; activation times distinct)."""
        scorer = cls.__new__(cls)
        scorer._serve(versions, gate)
        return scorer

    def _serve(self, versions: Sequence[Version], gate: QualityGate | None) -> None:
        if not versions:
            raise ValueError("a scorer needs at least one model version")
        if len({(v.model.name, v.model.market) for v in versions}) != 1:
            raise ValueError("the versions of a scorer must be of one model and market")
        if len({v.model.meta.active_from for v in versions}) != len(versions):
            raise ValueError("two versions of one model share an activation time")
        for v in versions:
            if v.min_edge is not None and not 0 <= v.min_edge < 0.5:
                raise ValueError(f"min_edge must be in [0, 0.5), got {v.min_edge}")
        self.gate = gate or QualityGate()
        ordered = sorted(versions, key=lambda v: v.model.meta.active_from)
        self._starts = [v.model.meta.active_from for v in ordered]
        self._served = [
            _Served(
                v.model,
                v.calibration,
                v.calibration.min_edge if v.min_edge is None else v.min_edge,
                m.version,
                m.trained_from,
                m.trained_to,
            )
            for v in ordered
            for m in (v.model.meta,)
        ]
        latest = self._served[-1]  # what `model`, `calibration` and `min_edge` name
        self.model, self.calibration, self.min_edge = latest.model, latest.calibration, latest.min_edge

    def score(self, requests: Sequence[Request], stamp: Stamp = NO_STAMP) -> list[Prediction]:
        """One tree evaluation per version for the requests; `stamp` sets the emit time and
        the player's name beside each prediction's identity (the flow's, never part of it)."""
        if len(self._served) == 1:
            return self._score(self._served[0], requests, stamp)
        chosen: dict[datetime, int] = {}
        groups: dict[int, list[int]] = {}
        for i, request in enumerate(requests):
            as_of = request.vector.as_of
            index = chosen.get(as_of)
            if index is None:  # the version active at as_of; before the first activation, the first
                index = chosen[as_of] = max(0, bisect_right(self._starts, as_of) - 1)
            groups.setdefault(index, []).append(i)
        if len(groups) == 1:
            return self._score(self._served[next(iter(groups))], requests, stamp)
        out: list[Prediction] = [None] * len(requests)  # type: ignore[list-item]
        for index, positions in groups.items():
            scored = self._score(self._served[index], [requests[i] for i in positions], stamp)
            for i, prediction in zip(positions, scored, strict=True):
                out[i] = prediction
        return out

    def _score(self, version: _Served, requests: Sequence[Request], stamp: Stamp) -> list[Prediction]:
        if not requests:
            return []
        vectors = np.asarray([r.vector.values for r in requests], dtype=np.float64)
        locs, sigmas = version.model.predict(model_columns(vectors))
        # the arrays as Python floats at once (the same values `float` gives one by one)
        return [
            self._prediction(version, r, m, s, stamp)
            for r, m, s in zip(requests, locs.tolist(), sigmas.tolist(), strict=True)
        ]

    def _prediction(
        self, version: _Served, request: Request, loc: float, sigma: float, stamp: Stamp
    ) -> Prediction:
        vector, target = request.vector, request.vector.target
        model, calibration = version.model, version.calibration
        scale, over_price, under_price = model.scale, request.over_price, request.under_price
        p_over, p_under, p_push = outcome_probabilities(loc, sigma, target.line, scale)
        market = devig_over(over_price, under_price) if under_price is not None else None
        decided = p_over + p_under
        if market is not None and decided > 0 and not calibration.is_identity:
            values = vector.values
            p = calibration.p_over(p_over / decided, market, values[_SPREAD], values[_TOTAL])
            p_over, p_under = p * decided, (1.0 - p) * decided
        edge = p_over / decided - market if market is not None else None
        ev_over = p_over * profit_per_unit(over_price) - p_under
        ev_under = p_under * profit_per_unit(under_price) - p_over if under_price is not None else None
        recommendation: Recommendation = "PASS"
        min_edge = version.min_edge
        if edge is not None and min_edge is not None:
            if edge >= min_edge and ev_over > 0:
                recommendation = "OVER"
            elif -edge >= min_edge and ev_under is not None and ev_under > 0:
                recommendation = "UNDER"
        reasons = self.gate.reasons(vector)
        if recommendation == "PASS":
            if market is None:
                reasons = ("no_market_probability", *reasons)
            else:
                reasons = ("no_proven_edge" if min_edge is None else f"edge<{min_edge}", *reasons)
        game_date = _game_date(target.game_key)
        player_id, as_of = target.player_id, vector.as_of
        # every value is ours, typed above: no validation; a literal in the fields' order
        fields: dict[str, Any] = {
            "prediction_id": prediction_id(
                model=model.name,
                player_id=player_id,
                game_key=target.game_key,
                book=target.book,
                market=target.market,
                as_of=as_of,
            ),
            "model": model.name,
            "player_id": player_id,
            "game_key": target.game_key,
            "game_date": game_date,
            "book": target.book,
            "market": target.market,
            "line": target.line,
            "as_of": as_of,
            "over_price": over_price,
            "under_price": under_price,
            "mean": point_mean(loc, sigma, scale),
            "sigma": sigma,
            "p_over": p_over,
            "p_under": p_under,
            "p_push": p_push,
            "market_p_over": market,
            "edge": edge,
            "ev_over": ev_over,
            "ev_under": ev_under,
            "recommendation": recommendation,
            "actionable": not reasons,
            "reasons": reasons,
            "defaulted": vector.defaulted,
            "model_version": version.name,
            "in_sample": version.trained_from <= game_date <= version.trained_to,
            "tipoff": request.tipoff,
            "withdrawn": False,
            "emitted_at": stamp.emitted_at,
            "player_name": stamp.name(player_id),
        }
        return construct(Prediction, fields)


@functools.lru_cache(maxsize=4096)  # a batch's predictions share a few games
def _game_date(game_key: str) -> date:
    return date(int(game_key[:4]), int(game_key[4:6]), int(game_key[6:8]))
