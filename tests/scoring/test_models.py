"""The fast evaluator equals CatBoost on the whole shipped data; the registry guards the schema;
the scorer's outputs hang together; evaluation is reproducible."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from connectors.adapters import Record
from features.identity import PlayerDirectory
from features.schema import FEATURE_SCHEMA_VERSION, Target
from features.store import FeatureStore
from scoring.evaluate import main_line_requests, make_model, walk_forward
from scoring.exceptions import ModelNotFoundError, SchemaMismatchError
from scoring.model import Registry, model_columns
from scoring.scorer import Request, Scorer
from scoring.training import TrainingSet
from vocabulary.events import BoxScore

FAST = {"iterations": 120}


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, history: tuple[TrainingSet, FeatureStore, PlayerDirectory]
) -> Registry:
    data = history[0]
    registry = Registry(tmp_path_factory.mktemp("models"))
    for name, kind in (("champion", "sqrt_uncertainty"), ("shadow", "normal_constant_sigma")):
        model, catboost_model = make_model(name, kind, data, FAST)
        registry.save(catboost_model, model.meta)
    return registry


def _all_vectors(store: FeatureStore) -> np.ndarray:
    rows = []
    for (player, game, market_name), market in store.markets.items():
        if market_name != "points":
            continue
        for book, ladder in market.books.items():
            for line in ladder.quotes:
                rows.append(store.vector(Target(player, game, book, line, market_name)).values)
    return np.asarray(rows)


@pytest.mark.parametrize("name", ["champion", "shadow"])
def test_fast_evaluator_equals_catboost_on_all_shipped_data(
    registry: Registry, history: tuple[TrainingSet, FeatureStore, PlayerDirectory], name: str
) -> None:
    data, store, _ = history
    rows = np.vstack([data.features, model_columns(_all_vectors(store))])
    assert len(rows) == len(data) + 31_880
    assert np.isnan(rows).any()  # missing values take CatBoost's NaN path too
    ours = registry.load(name).trees.raw(rows)
    theirs = registry.catboost(name).predict(rows, prediction_type="RawFormulaVal").reshape(len(rows), -1)
    assert np.max(np.abs(ours - theirs)) <= 1e-9
    # a row's value is exactly the same whatever batch it is evaluated in (live batches are a
    # few rows, a replay's hundreds): one identity, one content
    trees, sizes = registry.load(name).trees, np.random.default_rng(7).integers(1, 300, 400)
    bounds = np.cumsum(sizes)
    batches = [trees.raw(rows[a:b]) for a, b in zip([0, *bounds[:-1]], bounds, strict=True) if a < len(rows)]
    assert np.array_equal(np.concatenate(batches), ours[: sum(len(b) for b in batches)])
    assert np.array_equal(
        np.vstack([trees.raw(rows[i : i + 1]) for i in range(0, len(rows), 97)]), ours[::97]
    )


def test_registry_refuses_a_mismatched_schema(registry: Registry, tmp_path: Path) -> None:
    (version,) = registry.version_names("champion")
    folder = Path("champion") / "versions" / version
    meta = json.loads((registry.root / folder / "metadata.json").read_text())
    assert meta["feature_schema_version"] == FEATURE_SCHEMA_VERSION and meta["rows"] > 20_000
    for i, change in enumerate(
        ({"feature_schema_version": "0"}, {"feature_names": meta["feature_names"][:-1]})
    ):
        copy = Registry(tmp_path / str(i))
        (copy.root / folder).mkdir(parents=True)
        for f in ("model.cbm", "model.json"):
            (copy.root / folder / f).write_bytes((registry.root / folder / f).read_bytes())
        (copy.root / folder / "metadata.json").write_text(json.dumps(meta | change))
        with pytest.raises(SchemaMismatchError, match="retrain it with `propstream train --name champion`"):
            copy.load("champion")
    with pytest.raises(ModelNotFoundError, match="champion, shadow"):
        registry.load("nope")
    legacy = Registry(tmp_path / "legacy")  # a model saved before versions: says to retrain
    (legacy.root / "champion").mkdir(parents=True)
    (legacy.root / "champion" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelNotFoundError, match="saved before model versions; retrain"):
        legacy.load("champion")


def test_scorer_outputs_hang_together(
    registry: Registry, history: tuple[TrainingSet, FeatureStore, PlayerDirectory]
) -> None:
    store = history[1]
    requests = main_line_requests(store, date(2025, 11, 10))
    assert len(requests) > 300
    predictions = Scorer(registry.load("champion")).score(requests)
    assert len({p.prediction_id for p in predictions}) == len(predictions)
    for p in predictions:
        assert p.p_over + p.p_under + p.p_push == pytest.approx(1.0)
        assert p.mean > 0 and p.sigma > 0
        if p.market_p_over is None:
            assert p.recommendation == "PASS" and "no_market_probability" in p.reasons
        else:
            assert p.edge == pytest.approx(p.p_over / (p.p_over + p.p_under) - p.market_p_over)
        if p.recommendation == "OVER":
            assert p.edge is not None and p.edge >= 0.03 and p.ev_over > 0
        if p.recommendation == "UNDER":
            assert p.edge is not None and p.edge <= -0.03 and p.ev_under is not None and p.ev_under > 0
        assert p.actionable == (not p.reasons)
    again = Scorer(registry.load("champion")).score(
        [Request(r.vector, r.over_price, r.under_price) for r in requests]
    )
    assert again == predictions


def test_evaluation_is_reproducible_on_a_real_slice(shipped_records: list[Record]) -> None:
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    window = (date(2025, 11, 11), date(2025, 11, 12))
    kinds = {"champion": "sqrt_uncertainty"}
    # The stage's record starts at the season's first props (2025-10-21): weekly retrains keep it short.
    first = walk_forward(events, directory, window, kinds, params=FAST, retrain_days=7)  # type: ignore[arg-type]
    second = walk_forward(events, directory, window, kinds, params=FAST, retrain_days=7)  # type: ignore[arg-type]
    assert first.overall == second.overall
    assert [g.model_dump() for g in first.grades] == [g.model_dump() for g in second.grades]
    assert first.stages == second.stages and first.stages["champion"][date(2025, 11, 11)].rows > 5_000
    perf = first.overall["champion"]
    assert perf.n_graded > 500
    assert 0.40 < perf.hit_rate < 0.56  # above 56% would be a leak to find, not a result
    assert 0.2 < perf.brier_market < 0.3
