"""Dataflow benchmarks on the real broker: replay throughput (Parquet, Postgres, two processes)
beside a plain confluent-kafka consumer (the I/O floor), and line-move latency with a live
worker while 200 line updates a second are published."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from bench.scratch import scratch_database
from cli.settings import Settings
from connectors.kafka import Publisher, ensure_topics
from connectors.parquet import ParquetSink
from connectors.postgres import PostgresSink
from connectors.serde import encode
from flows.dataflow import build_decode_flow, build_flow
from flows.run import Cluster, counts, execute
from flows.sources import KafkaInput
from scoring.scorer import Scorer
from vocabulary.events import PropLine
from vocabulary.keys import message_key

__all__ = ["run"]

REPO = Path(__file__).resolve().parent.parent
INPUTS = ("games", "game_lines", "props", "box_scores")
RATE = re.compile(r"replayed ([\d,]+) events in ([\d.]+) s")


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    return (
        env
        | {
            "PROPSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "PROPSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "PROPSTREAM_MODELS_DIR": str(settings.models_dir),
            "PROPSTREAM_POSTGRES_READER_DSN": settings.postgres_reader_dsn.get_secret_value(),
        }
        | extra
    )


def _source(settings: Settings) -> KafkaInput:
    return KafkaInput(settings.kafka_bootstrap, {t: settings.topic(t) for t in INPUTS}, tail=False)


def _rate(settings: Settings, flow: object) -> float:
    """Events per second through `flow`, read from this process's input counter."""
    before = counts()
    t0 = time.perf_counter()
    execute(flow, Cluster(), recovery_dir=settings.recovery_dir, epoch_s=settings.snapshot_interval_s)
    elapsed = time.perf_counter() - t0
    return sum(counts(before).events_in.values()) / elapsed


def _replay_rate(settings: Settings, directory, scorers: Sequence[Scorer], sink) -> float:  # type: ignore[no-untyped-def]
    return _rate(
        settings, build_flow(_source(settings), directory, scorers, [sink], snapshots=settings.snapshots)
    )


def _decode_rate(settings: Settings, directory) -> float:  # type: ignore[no-untyped-def]
    """The same input and decode step with nothing after it: the ceiling of any flow that
    validates its input, in this process."""
    return _rate(settings, build_decode_flow(_source(settings), directory))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _two_processes(settings: Settings, dsn: str, out: Path) -> float:
    addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(2))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "replay",
                "--source",
                "kafka",
                "--parquet",
                str(out),
                "-i",
                str(i),
                "-a",
                addresses,
            ],
            env=_env(settings, PROPSTREAM_POSTGRES_DSN=dsn),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    results = []
    for proc in procs:
        output, _ = proc.communicate(timeout=900)
        match = RATE.search(output)
        if proc.returncode != 0 or match is None:
            raise RuntimeError(f"two-process replay failed: {output[-2000:]}")
        results.append((int(match.group(1).replace(",", "")), float(match.group(2))))
    return sum(n for n, _ in results) / max(s for _, s in results)


def _consume_floor(settings: Settings) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"floor-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    parts, remaining = [], 0
    for logical in INPUTS:
        name = settings.topic(logical)
        for p in consumer.list_topics(name, timeout=10).topics[name].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            remaining += high - low
            parts.append(TopicPartition(name, p, OFFSET_BEGINNING))
    consumer.assign(parts)
    total, t0 = 0, time.perf_counter()
    while total < remaining:
        total += sum(1 for m in consumer.consume(1000, timeout=1.0) if not m.error())
    elapsed = time.perf_counter() - t0
    consumer.close()
    return total / elapsed


def _latency(
    settings: Settings,
    dsn: str,
    props: Sequence[tuple[int, PropLine]],
    seconds: float = 15,
    warmup_s: float = 3,
) -> tuple[float, float, float]:
    """Producer timestamp of a line move to its prediction on the output topic, at 200/s, in
    steady state: moves published in the first `warmup_s` are not counted (the worker's first
    batches open its sinks' connections and touch every player's state for the first time:
    about half a second, which alone was the whole p99 before)."""
    recovery = Path(tempfile.mkdtemp()) / "recovery"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "worker",
            "--start-at",
            "latest",
            "--recovery-dir",
            str(recovery),
        ],
        env=_env(settings, PROPSTREAM_POSTGRES_DSN=dsn),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out_topic = settings.topic("predictions")
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"lat-{uuid.uuid4().hex}"}
    )
    try:
        deadline = time.monotonic() + 120
        while out_topic not in consumer.list_topics(timeout=5).topics and time.monotonic() < deadline:
            time.sleep(1)
        consumer.assign([TopicPartition(out_topic, p, OFFSET_END) for p in range(settings.partitions)])
        time.sleep(15)  # the worker reads its player directory and models, then assigns partitions
        latencies: list[float] = []
        warmup: list[float] = []
        with Publisher(settings.kafka_bootstrap, linger_ms=0) as publisher:
            interval, start, i = 1 / 200, time.monotonic(), 0
            measured_from = time.time() + warmup_s
            while time.monotonic() - start < warmup_s + seconds:
                _, prop = props[i % len(props)]
                now = datetime.now(UTC)
                moved = prop.model_copy(
                    update={"ts": now, "line": prop.line + (0.5 if i % 2 else -0.5), "is_main": True}
                )
                publisher.publish(
                    settings.topic("props"), message_key(moved), encode(moved), int(now.timestamp() * 1000)
                )
                i += 1
                for message in consumer.consume(100, timeout=0):
                    if not message.error():
                        sent = message.timestamp()[1] / 1000
                        (latencies if sent >= measured_from else warmup).append(time.time() - sent)
                time.sleep(max(0.0, start + i * interval - time.monotonic()))
        drain = time.monotonic() + 10
        while time.monotonic() < drain:
            for m in consumer.consume(500, timeout=0.5):
                if not m.error():
                    sent = m.timestamp()[1] / 1000
                    (latencies if sent >= measured_from else warmup).append(time.time() - sent)
    finally:
        worker.kill()
        worker.wait(timeout=30)
        consumer.close()
    if len(latencies) < 100:
        raise RuntimeError(f"only {len(latencies)} predictions came back from the worker")
    ms = sorted(1000 * x for x in latencies)
    return statistics.median(ms), ms[int(0.99 * (len(ms) - 1))], 1000 * max(warmup, default=0.0)


def run(
    base: Settings,
    models_dir: Path,
    directory,
    scorers: Sequence[Scorer],
    props: Sequence[tuple[int, PropLine]],
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Load the shipped 2025-26 season into fresh topics, then measure side by side."""
    settings = base.model_copy(
        update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.", "models_dir": models_dir}
    )
    env = _env(settings)
    subprocess.run(
        [sys.executable, "-m", "cli.main", "load", "--from", "2025-10-21", "--max-speed"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    ensure_topics(
        settings.kafka_bootstrap,
        {settings.topic(t): settings.partitions for t in ("predictions", "grades", "dlq")},
    )
    admin = settings.postgres_dsn.get_secret_value()
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(admin) as pg_dsn,
        scratch_database(admin) as two_dsn,
        scratch_database(admin) as lat_dsn,
    ):
        floor = _consume_floor(settings)
        decode_only = _decode_rate(settings, directory)
        parquet = _replay_rate(settings, directory, scorers, lambda: ParquetSink(Path(tmp) / "p1"))
        postgres = _replay_rate(settings, directory, scorers, lambda: PostgresSink(pg_dsn))
        two = _two_processes(settings, two_dsn, Path(tmp) / "p2")
        p50, p99, warmup_max = _latency(settings, lat_dsn, props)
    return {
        "replay_events_per_s_parquet": parquet,
        "replay_events_per_s_postgres": postgres,
        "replay_events_per_s_2proc": two,
        "kafka_consume_floor_events_per_s": floor,
        "replay_decode_only_events_per_s": decode_only,
        "line_move_latency_p50_ms": p50,
        "line_move_latency_p99_ms": p99,
        "line_move_latency_warmup_max_ms": warmup_max,
    }
