"""A real Prometheus (Debian's binary, `make prometheus`) on a free loopback port, with its own
data folder, scrapes a process serving the dataflow's metrics under the job name of
ops/prometheus/prometheus.yml and evaluates ops/prometheus/rules.yml: the series arrive with
their labels and values, every rule evaluates without error, and every query of the Grafana
dashboard parses and runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ops import metrics_process as served
from tests.stack import REPO, free_port

OPS = REPO / "ops"
JOB = re.search(r"job_name:\s*(\S+)", (OPS / "prometheus" / "prometheus.yml").read_text()).group(1)  # type: ignore[union-attr]


def _api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def _wait(what: str, check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus scraping the metrics process every second; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Prometheus is not installed: run `make prometheus` (Debian's package)", pytrace=False)
    root = tmp_path_factory.mktemp("prometheus")
    metrics_port, web_port = free_port(), free_port()
    config = {  # JSON is YAML: the same settings as ops/prometheus/prometheus.yml, faster
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(OPS / "prometheus" / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{metrics_port}"], "labels": {"service": "propstream"}}
                ],
            }
        ],
    }
    (root / "prometheus.yml").write_text(json.dumps(config))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.metrics_process", str(metrics_port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "prometheus.log").open("w"),
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "serving"
        base = f"http://127.0.0.1:{web_port}"

        def scraped() -> bool:
            targets = _api(base, "targets")["activeTargets"]
            return any(t["health"] == "up" for t in targets)

        _wait("the first successful scrape", scraped)
        yield base
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _vector(base: str, query: str) -> dict[tuple[tuple[str, str], ...], float]:
    result = _api(base, "query", query=query)["result"]
    return {
        tuple(
            sorted(
                (k, v) for k, v in r["metric"].items() if k not in ("__name__", "instance", "job", "service")
            )
        ): float(r["value"][1])
        for r in result
    }


def test_scraped_series_carry_the_dataflow_metrics(prometheus: str) -> None:
    assert _vector(prometheus, f'up{{job="{JOB}"}}') == {(): 1.0}
    events = _vector(prometheus, "propstream_events_in_total")
    assert events == {(("topic", t),): n for t, n in served.EVENTS.items()}
    applied = _vector(prometheus, "sum(propstream_events_applied_total)")
    dead = _vector(prometheus, "sum by (reason) (propstream_dead_letters_total)")
    assert dead == {(("reason", r),): n for r, n in served.DEAD_LETTERS.items()}
    assert applied[()] + sum(dead.values()) == sum(served.EVENTS.values())  # in = applied + dead
    out = _vector(prometheus, "sum by (kind, model) (propstream_records_out_total)")
    assert out == {(("kind", k), ("model", m)): n for (k, m), n in served.RECORDS.items()}
    lag = _vector(prometheus, "propstream_consumer_lag")
    assert {dict(k)["partition"]: v for k, v in lag.items()} == {p: n for (_, p), n in served.LAG.items()}
    count = _vector(prometheus, "propstream_rescore_latency_seconds_count")
    assert list(count.values()) == [len(served.LATENCIES)]
    fast = _vector(prometheus, 'propstream_rescore_latency_seconds_bucket{le="0.025"}')
    assert list(fast.values()) == [2.0]  # 4 ms and 12 ms, not 300 ms
    assert list(_vector(prometheus, "propstream_watermark_seconds").values()) == [served.WATERMARK_S]


def test_alert_rules_load_and_evaluate(prometheus: str) -> None:
    def evaluated() -> list[dict[str, Any]]:
        rules = [r for g in _api(prometheus, "rules")["groups"] for r in g["rules"]]
        return rules if rules and all(r["health"] != "unknown" for r in rules) else []

    rules = _wait("every rule evaluated once", evaluated)
    assert {r["name"] for r in rules} == {
        "PropstreamWorkerDown",
        "PropstreamGameWithoutPredictions",
        "PropstreamConsumerLagHigh",
        "PropstreamStaleQuotes",
        "PropstreamDeadLetterRateHigh",
    }
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]

    def worker_down_state() -> str:
        groups = _api(prometheus, "rules")["groups"]
        return next(r["state"] for g in groups for r in g["rules"] if r["name"] == "PropstreamWorkerDown")

    # pending while no scrape had answered yet (absent(up)); inactive once the worker is up
    _wait("PropstreamWorkerDown inactive", lambda: worker_down_state() == "inactive")


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((OPS / "grafana" / "propstream.json").read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_dashboard_query_runs(prometheus: str) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 12
    for title, expr in queries:
        query = expr.replace("$__rate_interval", "1m")
        try:
            _api(prometheus, "query", query=query)  # parses and evaluates
        except urllib.error.HTTPError as exc:
            pytest.fail(f"panel {title!r}: Prometheus refuses {query}: {exc.read().decode()}")
    # the panels over metrics the worker serves today show data already
    for title, expr in queries:
        if "propstream_slate" in expr or "propstream_quote" in expr or "histogram_quantile" in expr:
            continue
        if "rate(" in expr or "increase(" in expr:
            continue  # one scrape a second for a few seconds: rates may be empty yet
        assert _api(prometheus, "query", query=expr)["result"], f"{title}: no data for {expr}"
