"""The evaluation page's plots, as inline SVG: calibration beside the diagonal, hit rate and
ROI by |edge| bucket beside break-even, and cumulative profit by day beside the market's
favourite. Each reads the payload of `evaluation_json`, so the page needs nothing but it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cli.evaluation_tables import bucket_label
from cli.svg_chart import Chart, fraction_ticks, nice_ticks

__all__ = ["bucket_svg", "calibration_svgs", "profit_svg"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_MARKET_COLOUR = "#222"


def _calibration_svg(title: str, series: Sequence[tuple[str, Sequence[Mapping[str, Any]], str]]) -> str:
    """Mean prediction against the observed over rate per bin, each point labelled with its
    count, beside the diagonal; the axes cover the points (rounded to 5%)."""
    values = [v for _, rows, _ in series for r in rows for v in (r["predicted"], r["observed"])]
    low = math.floor(min([0.45, *values]) * 20) / 20
    high = math.ceil(max([0.55, *values]) * 20) / 20
    ticks = fraction_ticks(low, high)
    ticks = [(t, label) for t, label in ticks if low - 1e-9 <= t <= high + 1e-9]
    chart = Chart(
        title,
        (low, high),
        (low, high),
        "predicted P(over | no push), mean of the bin (label: props in the bin)",
        "observed over rate",
        x_ticks=ticks,
        y_ticks=ticks,
        size=(520, 480),
    )
    chart.line([(low, low), (high, high)], "#999", "perfect calibration (diagonal)", dash="5 4")
    for i, (label, rows, colour) in enumerate(series):
        chart.line([(r["predicted"], r["observed"]) for r in rows], colour, label)
        chart.dots([(r["predicted"], r["observed"], f"{r['n']:,}") for r in rows], colour, above=i % 2 == 0)
    return chart.render()


def calibration_svgs(models: Mapping[str, Any], champion: str) -> str:
    top = models[champion]
    return _calibration_svg(
        "Calibration after the stage (deciles of the prediction)",
        [
            (f"{champion} with the stage", top["calibration_deciles"], _COLOURS[0]),
            ("market (de-vigged)", top["market_calibration_deciles"], _MARKET_COLOUR),
        ],
    ) + _calibration_svg(
        "Calibration of the model alone (deciles of the prediction)",
        [(f"{champion} alone (no stage)", top["alone"]["calibration_deciles"], _COLOURS[1])],
    )


def bucket_svg(models: Mapping[str, Any], key: str, title: str, y_label: str) -> str:
    """Hit rate or ROI by |edge| bucket per model, with intervals and the break-even line."""
    names = list(models)
    buckets = models[names[0]]["edge_buckets"]
    values = [
        v
        for m in models.values()
        for b in m["edge_buckets"]
        for v in (b[key], b[f"{key}_low"], b[f"{key}_high"], b.get("break_even", math.nan))
        if v is not None and not math.isnan(v)
    ]
    if key == "roi":
        low, high = min([-0.1, *values]), max([0.1, *values])
    else:
        low, high = min([0.4, *values]), max([0.6, *values])
    ticks = fraction_ticks(low, high)
    chart = Chart(
        title,
        (0.0, float(len(buckets))),
        (ticks[0][0], ticks[-1][0]),
        "|edge| = |P(over) − market P(over)| (n = props; flat 1 unit on the model's side)",
        y_label,
        x_ticks=[(i + 0.5, bucket_label(b)) for i, b in enumerate(buckets)],
        y_ticks=ticks,
        size=(640, 420),
    )
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        colour = _COLOURS[j % len(_COLOURS)]
        for i, b in enumerate(models[name]["edge_buckets"]):
            x0 = i + 0.1 + j * width
            interval = (_nan(b[f"{key}_low"]), _nan(b[f"{key}_high"]))
            chart.bar((x0, x0 + width), _nan(b[key]), colour, interval)
            if b["n"]:
                chart.text(x0 + width / 2, ticks[0][0] + 0.02 * (ticks[-1][0] - ticks[0][0]), f"{b['n']:,}")
        chart.legend.append((name, colour, ""))
    if key == "roi":
        chart.line([(0, 0), (len(buckets), 0)], "#d62728", "break-even (ROI 0)", dash="6 3")
    else:
        points = []
        for i, b in enumerate(buckets):
            if not math.isnan(_nan(b["break_even"])):
                points += [(i + 0.05, b["break_even"]), (i + 0.95, b["break_even"])]
        chart.line(points, "#d62728", "break-even hit rate at the posted prices", dash="6 3")
    return chart.render()


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def profit_svg(profit: Mapping[str, Any]) -> str:
    """Cumulative units by day: each model's picks and side, beside the market's favourite."""
    days = [date.fromisoformat(d) for d in profit["days"]]
    series: Mapping[str, list[float]] = profit["series"]
    if not days:
        return ""
    values = [v for s in series.values() for v in s]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]))
    step = max(1, len(days) // 8)
    chart = Chart(
        "Cumulative profit by day (units, 1 unit per bet at the posted price)",
        (0.0, float(max(len(days) - 1, 1))),
        (ticks[0], ticks[-1]),
        "game day",
        "cumulative profit (units)",
        x_ticks=[(i, d.strftime("%m-%d")) for i, d in enumerate(days) if i % step == 0],
        y_ticks=[(t, f"{t:+,.0f}" if t else "0") for t in ticks],
        size=(1060, 420),
    )
    chart.line([(0, 0), (len(days) - 1, 0)], "#bbb", None)
    models = sorted({name.rsplit(" ", 1)[0] for name in series if name != "market favourite"})
    for j, model in enumerate(models):
        colour = _COLOURS[j % len(_COLOURS)]
        picks = f"picks ({profit.get('bets', {}).get(f'{model} picks', 0):,} bets)"
        for suffix, dash, text in (("picks", "", picks), ("side", "5 4", "its side of every prop")):
            if f"{model} {suffix}" in series:
                chart.line(list(enumerate(series[f"{model} {suffix}"])), colour, f"{model}: {text}", dash)
    if "market favourite" in series:
        chart.line(
            list(enumerate(series["market favourite"])),
            _MARKET_COLOUR,
            "market's favourite side of every prop",
        )
    return chart.render()
