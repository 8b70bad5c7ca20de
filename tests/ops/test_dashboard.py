"""The Grafana dashboard and the alert rules name only metrics that exist (the dataflow's and
the coverage gauges of `cli.health`, read from the registry), and the dashboard has a panel
for each thing an operator watches."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY

import cli.health  # noqa: F401  (registers the coverage and staleness gauges)
import flows.shard  # noqa: F401  (registers the dataflow's metrics)
from tests.stack import REPO

OPS = REPO / "ops"
EXPECTED = {"propstream_slate_props_without_prediction", "propstream_quote_stale"}  # cli.health's


def _served() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        if metric.name.startswith("propstream_"):
            names |= {s.name for s in metric.samples} | {metric.name}
            if metric.type == "counter":
                names.add(f"{metric.name}_total")
            if metric.type == "histogram":
                names |= {f"{metric.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return names


def _names(text: str) -> set[str]:
    return set(re.findall(r"\bpropstream_[a-z_]+\b", text))


def test_dashboard_and_rules_name_known_metrics() -> None:
    known = _served()
    assert known >= EXPECTED
    dashboard = (OPS / "grafana" / "propstream.json").read_text()
    rules = (OPS / "prometheus" / "rules.yml").read_text()
    assert _names(dashboard) <= known, _names(dashboard) - known
    rule_exprs = "\n".join(re.findall(r"expr:.*(?:\n {10,}.*)*", rules))
    assert _names(rule_exprs) <= known, _names(rule_exprs) - known
    assert _names(dashboard) >= EXPECTED and _names(rule_exprs) >= EXPECTED


def test_dashboard_has_a_panel_for_each_concern() -> None:
    dashboard = json.loads((OPS / "grafana" / "propstream.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    by_metric = {
        name: [p["title"] for p in panels if any(name in t["expr"] for t in p["targets"])]
        for name in (
            "propstream_events_in_total",
            "propstream_dead_letters_total",
            "propstream_consumer_lag",
            "propstream_rescore_latency_seconds_bucket",
            "propstream_records_out_total",
            "propstream_slate_props_without_prediction",
            "propstream_quote_stale",
            'up{job="propstream-worker"}',
        )
    }
    assert all(by_metric.values()), by_metric
    assert any(p["type"] == "heatmap" for p in panels)  # the latency histogram, as one
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)  # any Prometheus
    for panel in panels:  # inside the 24-column grid
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
