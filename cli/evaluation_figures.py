"""The figures of `propstream evaluate` as one JSON payload: the champion's figures at the top,
every model and day below them, and several markets side by side (`markets_json`). The
terminal tables and the page are drawn from this payload alone.

The JSON keeps its first keys (the champion's `Performance` figures, `champion`, `from`, `to`,
`command`, `models`, `by_day`): scripts read them. Everything newer sits beside them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scoring.betting import betting_summary, cumulative_profit, edge_buckets
from scoring.bootstrap import SEED
from scoring.calibration import Calibration
from scoring.evaluate import Evaluation, calibration, calibration_by_quantile, hit_rate_by_edge
from scoring.grading import performance, performance_by_model_and_day
from vocabulary.records import Grade, Prediction

__all__ = ["evaluation_json", "markets_json", "write_json"]


def _pairs(result: Evaluation, model: str) -> list[tuple[Prediction, Grade]]:
    return [(p, g) for p, g in zip(result.predictions, result.grades, strict=True) if g.model == model]


def _intervals(summary: Mapping[str, Any]) -> dict[str, float]:
    """A betting summary flattened to the keys beside a `Performance`."""
    return {
        "hit_rate_boot_low": summary["hit_rate"]["low"],
        "hit_rate_boot_high": summary["hit_rate"]["high"],
        "roi_boot_low": summary["roi"]["low"],
        "roi_boot_high": summary["roi"]["high"],
        "side_roi": summary["side_roi"]["value"],
        "side_roi_low": summary["side_roi"]["low"],
        "side_roi_high": summary["side_roi"]["high"],
        "favourite_roi": summary["favourite_roi"]["value"],
        "favourite_roi_low": summary["favourite_roi"]["low"],
        "favourite_roi_high": summary["favourite_roi"]["high"],
        "mean_abs_edge": summary["mean_abs_edge"],
        "share_recommended": summary["share_recommended"],
    }


def _deciles(grades: Sequence[Grade], *, market: bool = False) -> list[dict[str, float]]:
    """Calibration in deciles of the decided props: the model's P(over), or the market's."""
    pairs = []
    for g in grades:
        p = g.market_p_over if market else g.p_over
        if g.result in ("WIN", "LOSS") and g.actual is not None and p is not None:
            pairs.append((p, g.actual > g.line))
    return calibration_by_quantile(pairs)


def _stage_json(stage: Calibration) -> dict[str, Any]:
    return stage.model_dump(mode="json")


def evaluation_json(result: Evaluation, champion: str, command: str) -> dict[str, Any]:
    """Top-level keys are the champion's figures; every model and day is below them."""
    alone_grades = {name: [g for g in result.alone if g.model == name] for name in result.overall}
    alone = {name: performance(alone_grades[name]) for name in result.overall}
    alone_by_day = performance_by_model_and_day(result.alone)
    models: dict[str, Any] = {}
    for name, perf in result.overall.items():
        pairs = _pairs(result, name)
        grades = [g for _, g in pairs]
        summary = betting_summary(pairs)
        stages = result.stages.get(name, {})
        models[name] = (
            perf.as_dict()
            | {
                "calibration": calibration(grades),
                "hit_rate_by_edge": hit_rate_by_edge(grades),
            }
            | _intervals(summary)
            | {
                "edge_buckets": edge_buckets(pairs),
                "alone": alone[name].as_dict()
                | {
                    "calibration": calibration(alone_grades[name]),
                    "calibration_deciles": _deciles(alone_grades[name]),
                },
                "calibration_deciles": _deciles(grades),
                "market_calibration_deciles": _deciles(grades, market=True),
                "stage_by_day": [{"day": d.isoformat(), **_stage_json(s)} for d, s in sorted(stages.items())],
            }
        )
    by_day = []
    for (model, day), perf in result.by_day.items():
        pairs = [(p, g) for p, g in _pairs(result, model) if g.game_date == day]
        stage = result.stages.get(model, {}).get(day)
        by_day.append(
            {"model": model, "day": day.isoformat(), **perf.as_dict()}
            | _intervals(betting_summary(pairs))
            | {
                "brier_alone": alone_by_day[(model, day)].brier_model,
                "logloss_alone": alone_by_day[(model, day)].logloss_model,
                "min_edge": stage.min_edge if stage else None,
            }
        )
    top = models[champion]
    return {
        **result.overall[champion].as_dict(),
        "champion": champion,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "command": command,
        "models": models,
        "by_day": by_day,
        **{key: top[key] for key in _intervals(betting_summary([])) if key in top},
        "bootstrap": {"unit": "player-game", "seed": SEED, "level": 0.95},
        "edge_buckets": top["edge_buckets"],
        "brier_alone": top["alone"]["brier_model"],
        "logloss_alone": top["alone"]["logloss_model"],
        "stage": top["stage_by_day"][-1] if top["stage_by_day"] else None,
        "cumulative_profit": cumulative_profit(zip(result.predictions, result.grades, strict=True)),
        "in_sample_left_out": result.in_sample,
    }


def markets_json(by_market: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The figures of several markets in one payload: the top-level keys stay the points
    figures (the first market's without points), and `by_market` has every market's, each
    under the same keys (with its `market`)."""
    markets = {market: payload | {"market": market} for market, payload in by_market.items()}
    top = markets["points"] if "points" in markets else next(iter(markets.values()))
    return top | {"by_market": markets}


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    path.write_text(json.dumps(clean(payload), indent=2) + "\n")
