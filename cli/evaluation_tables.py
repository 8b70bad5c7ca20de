"""The figures of `propstream evaluate` as tables: each column named once (header, key and
format), printed in the terminal with rich and written into the evaluation page as HTML, so
the two never disagree. Also the graded table that `replay` and the `demo` print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from scoring.grading import Performance

__all__ = [
    "BUCKET_COLUMNS",
    "DAY_COLUMNS",
    "OVERALL_COLUMNS",
    "Column",
    "bucket_label",
    "overall_rows",
    "performance_table",
    "print_evaluation",
    "summary_text",
]

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


def _fmt(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return pattern.format(value)


def _interval(low: Any, high: Any, pattern: str = "{:.1%}") -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "-"
    return f"{pattern.format(low)}–{pattern.format(high)}"


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


Column = tuple[str, Callable[[Mapping[str, Any]], str]]


def _num(key: str, pattern: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: _fmt(row.get(key), pattern)


def _ci(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: _interval(row.get(f"{key}_low"), row.get(f"{key}_high"))


def _min_edge(row: Mapping[str, Any]) -> str:
    return "none" if row.get("min_edge") is None else _fmt(row["min_edge"], "{:.2f}")


_GRADED: tuple[Column, ...] = (("graded", _num("n_graded", "{:,.0f}")), ("bets", _num("n_bets", "{:,.0f}")))
_SCORES: tuple[Column, ...] = (
    ("hit rate", _num("hit_rate", "{:.1%}")),
    ("hit rate 95% CI", _ci("hit_rate_boot")),
    ("Brier", _num("brier_model", "{:.4f}")),
    ("Brier mkt", _num("brier_market", "{:.4f}")),
    ("log-loss", _num("logloss_model", "{:.4f}")),
    ("log-loss mkt", _num("logloss_market", "{:.4f}")),
    ("ROI", _num("roi", "{:+.1%}")),
    ("ROI 95% CI", _ci("roi_boot")),
)
OVERALL_COLUMNS: tuple[Column, ...] = (
    *_GRADED,
    ("share bet", _num("share_recommended", "{:.1%}")),
    ("mean |edge|", _num("mean_abs_edge", "{:.3f}")),
    *_SCORES,
    ("ROI its side", _num("side_roi", "{:+.1%}")),
)
DAY_COLUMNS: tuple[Column, ...] = (
    *_GRADED,
    ("min edge", _min_edge),
    ("mean |edge|", _num("mean_abs_edge", "{:.3f}")),
    *_SCORES,
    ("Brier alone", _num("brier_alone", "{:.4f}")),
    ("ROI its side", _num("side_roi", "{:+.1%}")),
    ("ROI mkt fav", _num("favourite_roi", "{:+.1%}")),
)
BUCKET_COLUMNS: tuple[Column, ...] = (
    ("props", _num("n", "{:,.0f}")),
    ("hit rate", _num("hit_rate", "{:.1%}")),
    ("hit rate 95% CI", _ci("hit_rate")),
    ("break-even", _num("break_even", "{:.1%}")),
    ("ROI", _num("roi", "{:+.1%}")),
    ("ROI 95% CI", _ci("roi")),
    ("picks", _num("n_bets", "{:,.0f}")),
    ("picks hit", _num("bets_hit_rate", "{:.1%}")),
    ("picks ROI", _num("bets_roi", "{:+.1%}")),
)


def bucket_label(b: Mapping[str, Any]) -> str:
    return f"{b['low']:.0%}–{b['high']:.0%}"


def overall_rows(models: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for name, m in models.items():
        rows += [(name, m), (f"{name} alone", m["alone"])]
    return rows


def _rich(
    title: str, first: str, columns: Sequence[Column], rows: Sequence[tuple[str, Mapping[str, Any]]]
) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    for header, _ in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for label, row in rows:
        table.add_row(label, *(cell(row) for _, cell in columns))
    return table


def print_evaluation(console: Console, payload: Mapping[str, Any]) -> None:
    """The tables of `evaluation_json`'s payload: models, the champion by day, its edge buckets."""
    champion, models = payload["champion"], payload["models"]
    window = f"{payload['from']} → {payload['to']}"
    console.print(
        _rich(
            f"Walk-forward {window} (95% CI: player-game bootstrap)",
            "",
            [c for c in OVERALL_COLUMNS if c[0] not in ("share bet", "mean |edge|", "ROI its side")],
            overall_rows(models),
        )
    )
    days = [(d["day"], d) for d in payload["by_day"] if d["model"] == champion]
    day_columns = [c for c in DAY_COLUMNS if c[0] not in ("Brier alone", "ROI its side", "ROI mkt fav")]
    console.print(_rich(f"{champion} by day", "day", day_columns, days))
    buckets = [(bucket_label(b), b) for b in models[champion]["edge_buckets"]]
    title = f"{champion} by |edge|: flat on its side of every decided prop; its picks"
    console.print(_rich(title, "|edge|", BUCKET_COLUMNS, buckets))
    console.print(summary_text(payload))


def summary_text(payload: Mapping[str, Any]) -> str:
    champion = payload["champion"]
    top = payload["models"][champion]
    return (
        f"{champion}: Brier {_fmt(top['brier_model'], '{:.4f}')} vs the market's "
        f"{_fmt(top['brier_market'], '{:.4f}')}, log-loss {_fmt(top['logloss_model'], '{:.4f}')} vs "
        f"{_fmt(top['logloss_market'], '{:.4f}')} on the same {top['n_graded']:,} props; mean |edge| "
        f"{_fmt(top['mean_abs_edge'], '{:.3f}')}; {_fmt(top['share_recommended'], '{:.1%}')} of props "
        f"recommended ({top['n_bets']:,}); hit rate {_fmt(top['hit_rate'], '{:.1%}')} (player-game 95% CI "
        f"{_ci('hit_rate_boot')(top)}; row-wise Wilson {_ci('hit_rate')(top)}); "
        f"flat on the market's favourite: ROI {_fmt(top['favourite_roi'], '{:+.1%}')} "
        f"({_ci('favourite_roi')(top)}); {payload['in_sample_left_out']:,} in-sample predictions "
        "left out (every model is trained on games before the day it grades)"
    )
