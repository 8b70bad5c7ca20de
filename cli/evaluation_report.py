"""What `propstream evaluate` prints and writes: the table, the JSON and an offline HTML page
with a calibration plot and a hit-rate-by-edge plot (inline SVG: no CDN, no plotting library)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from scoring.evaluate import Evaluation, calibration, hit_rate_by_edge
from scoring.grading import Performance

__all__ = ["evaluation_json", "performance_table", "print_evaluation", "write_html"]

_COLUMNS = (
    ("n_graded", "graded", "{:,.0f}"),
    ("n_bets", "bets", "{:,.0f}"),
    ("hit_rate", "hit", "{:.1%}"),
    ("brier_model", "Brier", "{:.4f}"),
    ("brier_market", "mkt", "{:.4f}"),
    ("logloss_model", "LL", "{:.4f}"),
    ("logloss_market", "mkt", "{:.4f}"),
    ("mae_model", "MAE", "{:.2f}"),
    ("mae_line", "line", "{:.2f}"),
    ("roi", "ROI", "{:+.1%}"),
)


def _fmt(value: float, pattern: str) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else pattern.format(value)


def performance_table(title: str, rows: Sequence[tuple[str, Performance]]) -> Table:
    """Fits 80 columns (cli.tables' style): short headers, explained in the caption."""
    legend = "hit: hit rate, LL: log-loss, mkt: the market's (de-vigged), line: line's MAE"
    table = Table(
        title=title,
        caption=legend,
        min_width=len(legend),  # the caption on one line, however narrow the figures
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=0,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("")
    for _, label, _ in _COLUMNS:
        table.add_column(label, justify="right")
    for label, perf in rows:
        values = perf.as_dict()
        table.add_row(label, *(_fmt(values[key], pattern) for key, _, pattern in _COLUMNS))
    return table


def print_evaluation(console: Console, result: Evaluation, champion: str) -> None:
    console.print(
        performance_table(f"Walk-forward {result.start} → {result.end}", list(result.overall.items()))
    )
    by_day = [(f"{day}", perf) for (model, day), perf in result.by_day.items() if model == champion]
    console.print(performance_table(f"{champion} by day", by_day))
    perf = result.overall[champion]
    interval = f"{perf.hit_rate_low:.1%}–{perf.hit_rate_high:.1%}"
    console.print(
        f"{champion}: hit rate {perf.hit_rate:.1%} (95% CI {interval}); "
        f"Brier {perf.brier_model:.4f} vs the market's {perf.brier_market:.4f}"
    )


def evaluation_json(result: Evaluation, champion: str, command: str) -> dict[str, Any]:
    """Top-level keys are the champion's figures; every model and day is below them."""
    models = {
        name: perf.as_dict()
        | {
            "calibration": calibration([g for g in result.grades if g.model == name]),
            "hit_rate_by_edge": hit_rate_by_edge([g for g in result.grades if g.model == name]),
        }
        for name, perf in result.overall.items()
    }
    return {
        **result.overall[champion].as_dict(),
        "champion": champion,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "command": command,
        "models": models,
        "by_day": [
            {"model": model, "day": day.isoformat(), **perf.as_dict()}
            for (model, day), perf in result.by_day.items()
        ],
    }


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    path.write_text(json.dumps(clean(payload), indent=2) + "\n")


def _svg(title: str, points: Mapping[str, Sequence[tuple[float, float]]], x_label: str, y_label: str) -> str:
    """A small line chart on [0, 1] x [0, 1] with a diagonal reference."""
    size, pad = 360, 40
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")

    def xy(x: float, y: float) -> str:
        return f"{pad + x * (size - 2 * pad):.1f},{size - pad - y * (size - 2 * pad):.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" '
        'fill="none" stroke="#999"/>',
        f'<polyline points="{xy(0, 0)} {xy(1, 1)}" stroke="#ccc" stroke-dasharray="4" fill="none"/>',
        f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle" font-size="12">'
        f"{html.escape(x_label)}</text>",
        f'<text x="12" y="{size / 2}" font-size="12" transform="rotate(-90 12 {size / 2})" '
        f'text-anchor="middle">{html.escape(y_label)}</text>',
    ]
    for i, (name, series) in enumerate(points.items()):
        colour = colours[i % len(colours)]
        coords = " ".join(xy(x, y) for x, y in series if not math.isnan(y))
        parts.append(f'<polyline points="{coords}" stroke="{colour}" stroke-width="2" fill="none"/>')
        label = html.escape(name)
        parts.append(
            f'<text x="{pad + 6}" y="{pad + 16 + 14 * i}" fill="{colour}" font-size="12">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def write_html(path: Path, payload: Mapping[str, Any]) -> None:
    models = payload["models"]
    calibration_svg = _svg(
        "Calibration",
        {n: [(r["predicted"], r["observed"]) for r in m["calibration"]] for n, m in models.items()},
        "predicted P(over)",
        "observed over rate",
    )
    edge_svg = _svg(
        "Hit rate by edge",
        {
            n: [(min(r["low"] * 5, 1.0), r["hit_rate"]) for r in m["hit_rate_by_edge"]]
            for n, m in models.items()
        },
        "|edge| bucket start (x5: 0.2 = 4%)",
        "hit rate",
    )
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{html.escape(_fmt(m[key], pattern))}</td>" for key, _, pattern in _COLUMNS)
        + "</tr>"
        for name, m in models.items()
    )
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in _COLUMNS)
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>propstream evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;text-align:right}</style>"
        "</head><body>"
        f"<h1>Walk-forward {html.escape(payload['from'])} → {html.escape(payload['to'])}</h1>"
        f"<table><tr><th></th>{head}</tr>{rows}</table>"
        f"<h2>Calibration</h2>{calibration_svg}<h2>Hit rate by edge</h2>{edge_svg}"
        f"<p>Made by <code>{html.escape(payload['command'])}</code>.</p></body></html>\n"
    )
