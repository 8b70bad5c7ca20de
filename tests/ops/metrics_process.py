"""A tiny process that serves the project's metrics, as a worker does, with known values:
`python -m tests.ops.metrics_process PORT`. The metric objects are the dataflow's own (imported
from flows.shard), so a renamed metric or label breaks the scrape test, not just this file."""

from __future__ import annotations

import sys
import time

from prometheus_client import start_http_server

from flows.shard import APPLIED, DEAD, EVENTS_IN, KAFKA_LAG, LATENCY, OUT, WATERMARK

# what the test expects to read back through Prometheus
EVENTS = {"props": 120, "game_lines": 30, "games": 4, "box_scores": 9}
DEAD_LETTERS = {"unknown_player": 2, "market:unsupported": 1}
APPLIED_EVENTS = {"props": 117, "game_lines": 30, "games": 4, "box_scores": 9}  # in = applied + dead
RECORDS = {("prediction", "champion"): 50, ("prediction", "shadow"): 50, ("grade", "champion"): 7}
LAG = {("odds.props", "0"): 42, ("odds.props", "1"): 0}
LATENCIES = (0.004, 0.012, 0.3)
WATERMARK_S = 1_762_819_200.0  # 2025-11-11T00:00:00Z


def serve(port: int) -> None:
    for topic, n in EVENTS.items():
        EVENTS_IN.labels(topic).inc(n)
        APPLIED.labels(topic).inc(APPLIED_EVENTS[topic])
    for reason, n in DEAD_LETTERS.items():
        DEAD.labels(reason).inc(n)
    for (kind, model), n in RECORDS.items():
        OUT.labels(kind, model).inc(n)
    for (topic, partition), n in LAG.items():
        KAFKA_LAG.labels(topic, partition).set(n)
    for seconds in LATENCIES:
        LATENCY.observe(seconds)
    WATERMARK.labels("0").set(WATERMARK_S)
    start_http_server(port, addr="127.0.0.1")
    print("serving", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
