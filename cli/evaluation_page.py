"""The offline page `propstream evaluate --html` writes: the summary, the stage, the tables
and the plots of `evaluation_json`'s payload in one HTML file (inline SVG: no CDN, no plotting
library, so it opens anywhere and can be attached as it is).
"""

from __future__ import annotations

import html
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

__all__ = ["write_html"]


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
