"""Scoring benchmarks: the full scorer per prediction (batches of 64 and single) beside
CatBoost's own predict on one row."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from datetime import date

import numpy as np

from features.identity import PlayerDirectory
from scoring.evaluate import main_line_requests, make_model
from scoring.model import model_columns
from scoring.scorer import Request, Scorer
from scoring.training import build_training_set
from vocabulary.events import BoxScore, InputEvent
from vocabulary.records import Prediction

__all__ = ["run"]


def _per_item_us(fn, batches: Sequence[Sequence[object]], repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Median over `repeat` passes of the time per item, for `fn` called on each batch."""
    runs = []
    for _ in range(repeat):
        items = 0
        t0 = time.perf_counter()
        for batch in batches:
            fn(batch)
            items += len(batch)
        runs.append((time.perf_counter() - t0) / items * 1e6)
    return statistics.median(runs)


def run(events: Sequence[InputEvent]) -> tuple[dict[str, float], list[Prediction]]:
    """The figures, and the predictions made (real records for the sink benchmark)."""
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, store = build_training_set(events, directory)
    model, catboost_model = make_model("bench", "sqrt_uncertainty", data)
    requests: list[Request] = []
    for day in (date(2025, 11, d) for d in range(1, 16)):
        requests += main_line_requests(store, day)
    scorer = Scorer(model)
    batches64 = [requests[i : i + 64] for i in range(0, len(requests) - 63, 64)]
    singles = [[r] for r in requests[:2000]]
    rows = model_columns(np.asarray([r.vector.values for r in requests[:2000]]))
    catboost_single = _per_item_us(
        lambda batch: catboost_model.predict(batch[0]), [[row] for row in rows[:500]]
    )
    figures = {
        "score_us_per_prediction_batch64": _per_item_us(scorer.score, batches64),
        "score_us_per_prediction_single": _per_item_us(scorer.score, singles),
        "catboost_predict_us_single": catboost_single,
        "trees_us_per_row_batch64": _per_item_us(
            model.trees.raw, [rows[i : i + 64] for i in range(0, 1984, 64)]
        ),
        "score_requests": float(len(requests)),
    }
    return figures, scorer.score(requests)
