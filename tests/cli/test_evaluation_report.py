"""`propstream evaluate`'s outputs: the JSON keeps its first keys and adds the new ones beside
them; the page has its plots (axes, ticks, counts, diagonal, break-even) and escapes names."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from cli.evaluation_figures import evaluation_json, write_json
from cli.evaluation_page import write_html
from cli.evaluation_tables import print_evaluation
from scoring.calibration import INPUTS, Calibration
from scoring.evaluate import Evaluation
from scoring.grading import grade, performance, performance_by_model_and_day
from tests.scoring.test_grading import _box, _prediction

FIRST_KEYS = ("n_graded", "n_bets", "hit_rate", "hit_rate_low", "hit_rate_high", "brier_model",
              "brier_market", "logloss_model", "logloss_market", "mae_model", "mae_line", "roi", "profit",
              "champion", "from", "to", "command", "models", "by_day")  # fmt: skip
NEW_KEYS = ("hit_rate_boot_low", "hit_rate_boot_high", "roi_boot_low", "roi_boot_high", "mean_abs_edge",
            "share_recommended", "favourite_roi", "edge_buckets", "cumulative_profit", "stage", "bootstrap",
            "brier_alone", "logloss_alone", "in_sample_left_out")  # fmt: skip
MODELS = ("champion", "sh<b>adow")


def _evaluation() -> Evaluation:
    rng = random.Random(3)
    start = date(2025, 11, 1)
    result = Evaluation(start, start + timedelta(days=2), [])
    for name in MODELS:
        result.stages[name] = {}
        for offset in range(3):
            day = start + timedelta(days=offset)
            result.stages[name][day] = Calibration(
                kind="logistic",
                inputs=INPUTS,
                weights=(0.1, -0.05, 0.02, 1.0),
                min_edge=0.03,
                rows=100 * offset,
            )
            for player in range(40):
                market = rng.uniform(0.4, 0.6)
                p_over = min(max(market + rng.gauss(0, 0.04), 0.05), 0.95)
                edge = p_over - market
                recommendation = "OVER" if edge >= 0.03 else "UNDER" if edge <= -0.03 else "PASS"
                p = _prediction(line=20.5, recommendation=recommendation, p_over=p_over).model_copy(
                    update={
                        "model": name,
                        "player_id": player,
                        "game_key": f"{day:%Y%m%d}-UTA@LAC",
                        "game_date": day,
                        "market_p_over": market,
                        "edge": edge,
                    }
                )
                for book in ("draftkings", "fanduel"):
                    quote = p.model_copy(update={"book": book})
                    result.predictions.append(quote)
                    result.grades.append(grade(quote, _box(rng.randint(10, 31))))
    result.alone = list(result.grades)
    result.overall = {n: performance(g for g in result.grades if g.model == n) for n in MODELS}
    result.by_day = performance_by_model_and_day(result.grades)
    return result


def test_json_keeps_its_first_keys_and_adds_the_new_ones(tmp_path: Path) -> None:
    payload = evaluation_json(
        _evaluation(), "champion", "propstream evaluate --from 2025-11-01 --to 2025-11-03"
    )
    assert list(payload)[: len(FIRST_KEYS)] == list(FIRST_KEYS)
    assert set(NEW_KEYS) <= set(payload)
    assert payload["n_graded"] == 240 and payload["models"]["champion"]["n_graded"] == 240
    assert payload["in_sample_left_out"] == 0
    for model in payload["models"].values():
        assert {"calibration", "hit_rate_by_edge", "edge_buckets", "alone", "stage_by_day"} <= set(model)
    assert len(payload["by_day"]) == 6 and {"hit_rate_boot_low", "roi_boot_high", "min_edge"} <= set(
        payload["by_day"][0]
    )
    assert payload["hit_rate_boot_low"] < payload["hit_rate"] < payload["hit_rate_boot_high"]
    assert payload["cumulative_profit"]["days"] == ["2025-11-01", "2025-11-02", "2025-11-03"]
    write_json(tmp_path / "eval.json", payload)
    again = json.loads((tmp_path / "eval.json").read_text())
    assert again["champion"] == "champion" and again["stage"]["inputs"] == list(INPUTS)


def test_page_has_readable_plots_and_escapes_names(tmp_path: Path) -> None:
    payload = evaluation_json(_evaluation(), "champion", "propstream evaluate <x>")
    write_html(tmp_path / "eval.html", payload)
    page = (tmp_path / "eval.html").read_text()
    assert page.count("<svg") == 5  # two calibration plots, profit by day, hit rate and ROI by edge
    for text in ("perfect calibration (diagonal)", "break-even hit rate", "break-even (ROI 0)",
                 "market&#x27;s favourite side", "observed over rate", "cumulative profit (units)", ">50%<",
                 ">11-02<", "sh&lt;b&gt;adow", "propstream evaluate &lt;x&gt;"):  # fmt: skip
        assert text in page
    assert "sh<b>adow" not in page
    console = Console(record=True, width=250)
    print_evaluation(console, payload)
    out = console.export_text()
    assert "champion by |edge|" in out and "champion by day" in out and "row-wise Wilson" in out
