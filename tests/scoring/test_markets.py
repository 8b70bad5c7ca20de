"""Every market: grading from its own box-score column on real rows, count distributions, training
rows and registry entries per market, and walk-forward evaluation per market."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from scipy import stats

from connectors.adapters import Record
from features.identity import PlayerDirectory, resolve_props
from scoring.distribution import count_cdf, outcome_probabilities
from scoring.evaluate import main_line_requests, make_model, walk_forward
from scoring.grading import grade
from scoring.model import Registry
from scoring.scorer import Scorer
from scoring.training import TrainingSet, dispersion
from vocabulary.events import BoxScore, PropLine
from vocabulary.markets import MARKETS
from vocabulary.records import Prediction

FAST = {"iterations": 30}

# the box-score fields each market settles on (summed), written out here independently of settle()
FIELDS: dict[str, tuple[str, ...]] = {
    "points": ("points",),
    "rebounds": ("rebounds",),
    "assists": ("assists",),
    "threes": ("fg3m",),
    "points_rebounds_assists": ("points", "rebounds", "assists"),
    "blocks": ("blocks",),
    "steals": ("steals",),
}
COLUMNS: dict[str, Callable[[BoxScore], int]] = {
    market: (lambda b, fields=fields: sum(getattr(b, f) for f in fields)) for market, fields in FIELDS.items()
}


def _prediction(prop: PropLine, player_id: int, market: str) -> Prediction:
    return Prediction.model_validate(
        {
            "prediction_id": "x",
            "model": "m",
            "player_id": player_id,
            "game_key": prop.game_key,
            "game_date": prop.game_date,
            "book": prop.book,
            "market": market,
            "line": prop.line,
            "over_price": prop.over_price,
            "under_price": prop.under_price,
            "as_of": prop.ts,
            "mean": prop.line + 1,
            "sigma": 1.0,
            "p_over": 0.6,
            "p_under": 0.4,
            "p_push": 0.0,
            "market_p_over": 0.5,
            "edge": 0.1,
            "ev_over": 0.1,
            "ev_under": -0.2,
            "recommendation": "OVER",
            "actionable": True,
            "reasons": (),
            "defaulted": (),
            "model_version": "20251101T0400Z",
            "in_sample": False,
            "tipoff": None,
        }
    )


@pytest.fixture(scope="module")
def real_props(
    shipped_records: list[Record],
) -> tuple[list[tuple[int, PropLine]], dict[tuple[int, str], BoxScore]]:
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    boxes = {(e.player_id, e.game_key): e for e in events if isinstance(e, BoxScore)}
    return list(resolve_props(events, directory)), boxes


@pytest.mark.parametrize("market", MARKETS)
def test_each_market_is_graded_from_its_own_column_on_real_rows(market: str, real_props: tuple) -> None:  # type: ignore[type-arg]
    props, boxes = real_props
    played = [
        (pid, p, boxes[(pid, p.game_key)])
        for pid, p in props
        if p.market == market
        and p.is_main
        and (pid, p.game_key) in boxes
        and boxes[(pid, p.game_key)].minutes > 0
    ]
    assert len(played) > 500
    results = set()
    for pid, prop, box in played[:300]:
        g = grade(_prediction(prop, pid, market), box)
        expected = COLUMNS[market](box)
        assert g.actual == expected
        assert g.result == ("PUSH" if expected == prop.line else "WIN" if expected > prop.line else "LOSS")
        results.add(g.result)
    assert {"WIN", "LOSS"} <= results
    # a push: the shipped quotes are all half-point lines, so the real row's line is moved to the
    # integer the player landed on (books do quote integer lines): the stake comes back
    pid, prop, box = played[0]
    on_the_number = prop.model_copy(update={"line": float(COLUMNS[market](box))})
    g = grade(_prediction(on_the_number, pid, market), box)
    assert g.result == "PUSH" and g.profit == 0.0 and g.actual == on_the_number.line
    # a void: a real prop of a player who did not play (no minutes or no box score)
    voids = [
        (pid, p)
        for pid, p in props
        if p.market == market and ((pid, p.game_key) not in boxes or boxes[(pid, p.game_key)].minutes <= 0)
    ]
    assert voids
    pid, prop = voids[0]
    g = grade(_prediction(prop, pid, market), boxes.get((pid, prop.game_key)))
    assert g.result == "VOID" and g.actual is None and g.profit == 0.0


@pytest.mark.parametrize("mean", [0.05, 0.7, 1.6, 3.2, 11.0, 34.5])
@pytest.mark.parametrize("extra", [0.0, 0.15, 0.6])
def test_count_distributions_match_scipy(mean: float, extra: float) -> None:
    sd = math.sqrt(mean + extra * mean * mean)
    for k in range(0, 50):
        if extra:
            r = 1 / extra
            expected = stats.nbinom.cdf(k, r, r / (r + mean))
            assert count_cdf(k, mean, sd, "negbin") == pytest.approx(expected, abs=1e-9)
        assert count_cdf(k, mean, math.sqrt(mean), "poisson") == pytest.approx(
            stats.poisson.cdf(k, mean), abs=1e-9
        )
    for line in (0.5, 1.0, 2.0, 2.5, 7.0, 33.5):
        over, under, push = outcome_probabilities(mean, sd, line, "negbin" if extra else "poisson")
        assert over + under + push == pytest.approx(1.0)
        assert min(over, under, push) >= 0.0
        assert (push == 0.0) == bool(line % 1)
    # no extra variance: the negative binomial is the Poisson
    assert outcome_probabilities(2.0, math.sqrt(2.0), 1.5, "negbin") == outcome_probabilities(
        2.0, math.sqrt(2.0), 1.5, "poisson"
    )


def test_dispersion_by_moments() -> None:
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(0)
    mean = rng.uniform(0.5, 3.0, 200_000)
    r = 4.0
    y = rng.negative_binomial(r, r / (r + mean))
    assert dispersion(y.astype(float), mean) == pytest.approx(1 / r, rel=0.05)
    assert dispersion(rng.poisson(mean).astype(float), mean) < 0.01


def test_training_rows_per_market_share_the_features(history: tuple) -> None:  # type: ignore[type-arg]
    data: TrainingSet = history[0]
    assert data.market == "points" and set(data.targets) == set(MARKETS)
    for market in MARKETS:
        rows = data.for_market(market)
        assert rows.market == market and rows.features is data.features
        assert (rows.points == data.targets[market]).all()
    d = data.targets
    assert (d["points_rebounds_assists"] == d["points"] + d["rebounds"] + d["assists"]).all()
    early = data.for_market("blocks").before(date(2025, 11, 1))
    assert early.market == "blocks" and len(early.points) == len(early.targets["steals"]) == len(early)


def test_registry_keeps_models_by_market_and_name(history: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    data: TrainingSet = history[0]
    registry = Registry(tmp_path)
    for market, kind in (("points", "sqrt_uncertainty"), ("blocks", "negbin"), ("steals", "poisson")):
        model, catboost_model = make_model("champion", kind, data.for_market(market), FAST)  # type: ignore[arg-type]
        registry.save(catboost_model, model.meta)
    assert registry.names() == ["champion"] and registry.names("blocks") == ["champion"]
    blocks = registry.load("champion", "blocks")
    assert blocks.market == "blocks" and blocks.scale == "negbin"
    assert blocks.meta.dispersion is not None and blocks.meta.dispersion > 0
    assert registry.load("champion").market == "points"
    assert registry.load("champion", "steals").scale == "poisson"
    with pytest.raises(Exception, match="no rebounds model"):
        registry.load("champion", "rebounds")


def test_count_models_score_their_market_from_the_same_store(history: tuple) -> None:  # type: ignore[type-arg]
    data, store, _ = history
    model = make_model("champion", "negbin", data.for_market("threes").before(date(2025, 11, 10)), FAST)[0]
    requests = main_line_requests(store, date(2025, 11, 10), "threes")
    assert requests and all(r.vector.target.market == "threes" for r in requests)
    predictions = Scorer(model).score(requests)
    for p in predictions:
        assert p.market == "threes" and 0 < p.mean < 10 and p.sigma**2 >= p.mean
        assert p.p_over + p.p_under + p.p_push == pytest.approx(1.0)


def test_walk_forward_per_market_has_the_same_shape(shipped_records: list[Record], history: tuple) -> None:  # type: ignore[type-arg]
    from cli.evaluation_figures import evaluation_json, markets_json  # noqa: PLC0415

    events = [r.event for r in shipped_records if r.event is not None]
    data, store, directory = history
    window = (date(2025, 11, 12), date(2025, 11, 12))
    payloads = {}
    for market, kinds in (("points", {"champion": "sqrt_uncertainty"}), ("blocks", {"champion": "negbin"})):
        result = walk_forward(
            events,
            directory,
            window,
            kinds,
            params=FAST,
            retrain_days=30,
            stage=False,
            market=market,
            prepared=(data, store),  # type: ignore[arg-type]
        )
        assert {g.market for g in result.grades} == {market}
        payloads[market] = evaluation_json(result, "champion", "test")
        # the market's baseline is computed on the same graded rows as the model
        decided = [g for g in result.grades if g.result in ("WIN", "LOSS") and g.market_p_over is not None]
        over = [g.actual > g.line for g in decided]  # type: ignore[operator]
        brier_market = sum((g.market_p_over - o) ** 2 for g, o in zip(decided, over, strict=True)) / len(
            decided
        )  # type: ignore[operator]
        assert payloads[market]["brier_market"] == pytest.approx(brier_market)
        assert payloads[market]["n_graded"] > 20
    assert payloads["points"].keys() == payloads["blocks"].keys()
    assert payloads["points"]["models"]["champion"].keys() == payloads["blocks"]["models"]["champion"].keys()
    combined = json.loads(json.dumps(markets_json(payloads), default=str))  # what --json writes
    assert combined["market"] == "points" and combined["brier_model"] == payloads["points"]["brier_model"]
    assert set(combined["by_market"]) == {"points", "blocks"}
    for market, figures in combined["by_market"].items():
        assert figures["market"] == market and set(figures) == set(payloads[market]) | {"market"}
    assert set(combined) == set(payloads["points"]) | {"market", "by_market"}


def test_settings_give_each_market_its_models() -> None:
    from cli.settings import Settings  # noqa: PLC0415

    default = Settings()
    assert default.markets == list(MARKETS)
    assert default.models_of("points") == {"champion": "sqrt_uncertainty", "shadow": "normal_uncertainty"}
    assert default.models_of("blocks")["champion"] == "negbin"
    mine = Settings(models={"a": "poisson"}, champion="a", market_models={"rebounds": {"a": "negbin"}})
    assert mine.models_of("blocks") == {"a": "poisson"} and mine.models_of("rebounds") == {"a": "negbin"}
    with pytest.raises(ValueError, match="champion"):
        Settings(market_models={"steals": {"other": "poisson"}})
