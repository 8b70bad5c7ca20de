"""A worker stops cleanly on SIGTERM and SIGINT: the batch in flight is written, every shard
snapshotted, the run's counts printed, exit 0; a restart resumes where it stopped without
re-reading, and the tables equal an uninterrupted run's."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from cli.settings import Settings
from connectors.kafka_input import shard_partitions
from tests.flows.test_kafka_flows import GRADES, LATEST
from tests.stack import (
    caught_up,
    database,
    events_in,
    fetch,
    free_port,
    load,
    log_rows,
    run_cli,
    run_until,
    spawn,
    stop_worker,
)
from vocabulary.topics import INPUT_TOPICS


def test_sigterm_then_sigint_stop_cleanly_and_resume_exactly(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    load(stack, "--max-speed")
    clean = database(postgres_dsn, f"clean_{tmp_path.name[-12:]}".lower())
    total = events_in(run_cli(stack, "replay", "--source", "kafka", dsn=clean).stdout)
    stopped = database(postgres_dsn, f"stop_{tmp_path.name[-12:]}".lower())
    recovery = ("--recovery-dir", str(tmp_path / "recovery"))
    group = f"ops-{tmp_path.name[-12:]}"
    stack = stack | {"PROPSTREAM_CONSUMER_GROUP": group}

    first = spawn(stack, "worker", *recovery, dsn=stopped)
    try:  # stopped once part of the backlog is written
        run_until(first, lambda: log_rows(stopped) > 200, "writing 200 log rows")
    except BaseException:
        first.kill()
        raise
    first_out = stop_worker(first, signal.SIGTERM, frozen=True)
    first_in = events_in(first_out)
    assert "caught up" not in first_out  # stopped while behind (the lag is known from the start)
    partial = fetch(stopped, "SELECT count(*) FROM predictions_log")[0][0]

    committed_first = _committed(stack, group)
    port = free_port()
    health_env = stack | {"PROPSTREAM_HEALTH_INTERVAL_S": "1"}
    second = spawn(health_env, "worker", *recovery, "--metrics-port", str(port), dsn=stopped)
    try:
        caught_up(stopped, clean)
        time.sleep(2)  # a refresh of the coverage gauges after the last write
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    except BaseException:
        second.kill()
        raise
    second_out = stop_worker(second, signal.SIGINT)
    assert "resuming from the recovery store" in second_out
    assert "shard 0 caught up: " in second_out  # the caught-up line, with its lag per topic
    # the worker serves the alert rules' coverage gauge for the newest slate
    newest = fetch(stopped, "SELECT max(game_date) FROM predictions_latest")[0][0]
    gauge = [
        s
        for family in text_string_to_metric_families(metrics)
        if family.name == "propstream_slate_props_without_prediction"
        for s in family.samples
    ]
    assert gauge and {s.labels["game"][:8] for s in gauge} == {f"{newest:%Y%m%d}"}
    assert {s.labels["reason"] for s in gauge} >= {"market:unsupported"}

    # the configured group shows where each stop left the worker: part way, then at the end
    committed = _committed(stack, group)
    assert committed == _ends(stack, list(committed))
    assert 0 < sum(o for o in committed_first.values() if o > 0) < sum(committed.values())
    assert 0 < partial < fetch(clean, "SELECT count(*) FROM predictions_log")[0][0]
    assert 0 < first_in < total
    assert first_in + events_in(second_out) == total  # nothing read twice, nothing skipped
    assert fetch(stopped, LATEST) == fetch(clean, LATEST)
    assert fetch(stopped, GRADES) == fetch(clean, GRADES)
    duplicates = fetch(stopped, "SELECT prediction_id FROM predictions_log GROUP BY 1 HAVING count(*) > 1")
    assert duplicates == []


def _committed(stack: dict[str, str], group: str) -> dict[tuple[str, int], int]:
    """The offsets committed under `group`, through the admin API as lag tools read them."""
    bootstrap = stack["PROPSTREAM_KAFKA_BOOTSTRAP"]
    settings = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    parts = shard_partitions(bootstrap, {t: settings.topic(t) for t in INPUT_TOPICS}, 0, 1)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in parts])
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until its answer comes
    future = admin.list_consumer_group_offsets([request])[group]
    return {(tp.topic, tp.partition): tp.offset for tp in future.result(timeout=30).topic_partitions}


def _ends(stack: dict[str, str], parts: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": stack["PROPSTREAM_KAFKA_BOOTSTRAP"], "group.id": "probe"})
    try:
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=15)[1] for t, p in parts}
    finally:
        consumer.close()
