"""What `propstream evaluate` prints and writes: tables per model and per day with player-game
bootstrap intervals, the edge-bucket table, the JSON, and an offline HTML page with its plots
(inline SVG: no CDN, no plotting library).

The JSON keeps its first keys (the champion's `Performance` figures, `champion`, `from`, `to`,
`command`, `models`, `by_day`): scripts read them. Everything newer sits beside them.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cli.evaluation_plots import bucket_svg, calibration_svgs, profit_svg
from cli.evaluation_tables import (
    BUCKET_COLUMNS,
    DAY_COLUMNS,
    OVERALL_COLUMNS,
    Column,
    bucket_label,
    overall_rows,
    summary_text,
)
from scoring.betting import betting_summary, cumulative_profit, edge_buckets
from scoring.bootstrap import SEED
from scoring.calibration import Calibration
from scoring.evaluate import Evaluation, calibration, calibration_by_quantile, hit_rate_by_edge
from scoring.grading import performance, performance_by_model_and_day
from vocabulary.records import Grade, Prediction

__all__ = ["evaluation_json", "markets_json", "write_html", "write_json"]


# ---------------------------------------------------------------------------------------- figures
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


# ---------------------------------------------------------------------------------------- html
def _table(first: str, columns: Sequence[Column], rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in (first, *(c[0] for c in columns)))
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(c)}</td>" for c in (label, *(cell(row) for _, cell in columns)))
        + "</tr>"
        for label, row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _stage_text(payload: Mapping[str, Any]) -> str:
    stage = payload.get("stage")
    if not stage:
        return "No calibration stage: the model alone."
    weights = ", ".join(f"{n} {w:+.3f}" for n, w in zip(stage["inputs"], stage["weights"], strict=True))
    return (
        f"Stage of {payload['champion']} on {stage['day']}: logit P(over) = {weights} (inputs of "
        f"scoring.calibration); ridge {stage['ridge']}; min edge {stage['min_edge'] or 'none (no picks)'}; "
        f"fitted on {stage['rows']:,} graded props of {stage['days']} earlier days."
    )


def write_html(path: Path, payload: Mapping[str, Any]) -> None:
    models, champion = payload["models"], payload["champion"]
    buckets = "".join(
        f"<h3>{html.escape(name)}</h3>"
        + _table("|edge|", BUCKET_COLUMNS, [(bucket_label(b), b) for b in m["edge_buckets"]])
        for name, m in models.items()
    )
    days = [(f"{d['day']} {d['model']}", d) for d in payload["by_day"]]
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>propstream evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1500px}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{padding:3px 8px;text-align:right;"
        "border-bottom:1px solid #ddd;font-size:13px}td:first-child,th:first-child{text-align:left}"
        ".plots{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:16px}.plots svg{border:1px solid #eee}"
        "</style></head><body>"
        f"<h1>Walk-forward {html.escape(payload['from'])} → {html.escape(payload['to'])}</h1>"
        f"<p>{html.escape(summary_text(payload))}</p><p>{html.escape(_stage_text(payload))}</p>"
        "<p>95% intervals resample whole player-games (each is graded once per book; seeded, so a "
        "run repeats). Hit rate: the favoured side, pushes and voids excluded. ROI: per unit staked at "
        "the posted price on the recommended bets; <i>its side</i>: one unit on the favoured side of "
        "every prop; <i>mkt fav</i>: one unit on the market's favourite side of every prop.</p>"
        f"{_table('model', OVERALL_COLUMNS, overall_rows(models))}"
        f"<div class='plots'>{calibration_svgs(models, champion)}</div>"
        f"<div class='plots'>{profit_svg(payload['cumulative_profit'])}</div>"
        f"<div class='plots'>{bucket_svg(models, 'hit_rate', 'Hit rate by |edge|', 'hit rate of its side')}"
        f"{bucket_svg(models, 'roi', 'ROI by |edge|', 'ROI per unit staked')}</div>"
        f"<h2>By |edge|</h2>{buckets}"
        f"<h2>By day</h2>{_table('day', (('model', lambda r: r['model']), *DAY_COLUMNS), days)}"
        f"<p>Made by <code>{html.escape(payload['command'])}</code>.</p></body></html>\n"
    )
