"""Dataflow benchmarks on the real broker: replay throughput (Parquet, Postgres, two processes)
beside a plain confluent-kafka consumer (the I/O floor), and line-move latency with a live
worker while 1,000 line updates a second are published.

`make bench` runs this section in a process of its own (`python -m bench.flow_bench --models DIR
--moves FILE`, bench/run.py): its replays then measure a process that holds what a `propstream
replay` holds. Run alone without `--moves`, it loads the history into fresh topics and runs only
the replay to Parquet, `--rounds` times (`main`)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from bench import process_replays
from bench.scratch import scratch_database
from cli.settings import Settings
from connectors.kafka import Publisher, delete_topics, ensure_topics
from connectors.kafka_input import KafkaReader, shard_partitions
from connectors.parquet import ParquetSink, read_emissions, read_grades, read_predictions_log
from connectors.postgres import PostgresSink
from connectors.serde import decode, encode
from flows.dataflow import ShardSource, build_flow
from flows.run import Cluster, counts, execute
from scoring.engine import Engine
from scoring.scorer import Scorer
from vocabulary.events import InputEvent, PropLine
from vocabulary.keys import message_key
from vocabulary.records import Prediction
from vocabulary.window import Window

__all__ = ["run"]

REPO = Path(__file__).resolve().parent.parent
INPUTS = ("games", "game_lines", "props", "box_scores")
MARKET = "points"  # the bench's registry holds points models: the workers serve that market


def line_moves(stream: Sequence[tuple[InputEvent, int | None]], n: int = 2000) -> list[PropLine]:
    """The last `n` main-line props of the served market with a resolved player: what the
    latency bench moves (a prop of a market no model serves would only be dead-lettered)."""
    props = [
        e
        for e, pid in stream
        if isinstance(e, PropLine) and pid is not None and e.is_main and e.market == MARKET
    ]
    return props[-n:]


def save_moves(props: Sequence[PropLine], path: Path) -> None:
    """The props for `--moves`: one encoded event a line (the wire's JSON holds no newline)."""
    path.write_bytes(b"".join(encode(prop) + b"\n" for prop in props))


def load_moves(path: Path) -> list[PropLine]:
    return [decode(line, PropLine) for line in path.read_bytes().splitlines()]  # type: ignore[misc]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    return (
        env
        | {
            "PROPSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "PROPSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "PROPSTREAM_MODELS_DIR": str(settings.models_dir),
            "PROPSTREAM_MARKETS": '["points"]',  # the bench's registry holds points models
            "PROPSTREAM_POSTGRES_READER_DSN": settings.postgres_reader_dsn.get_secret_value(),
        }
        | extra
    )


def _source(settings: Settings, scorers: Sequence[Scorer], window: Window | None = None) -> ShardSource:
    topics = {t: settings.topic(t) for t in INPUTS}

    def open_reader(shard: int, shards: int, positions: object) -> KafkaReader:
        parts = shard_partitions(settings.kafka_bootstrap, topics, shard, shards)
        return KafkaReader(settings.kafka_bootstrap, topics, parts, tail=False, positions=positions)  # type: ignore[arg-type]

    return ShardSource(open_reader, lambda: Engine(scorers), window=window)


def _rate(settings: Settings, flow: object) -> tuple[float, float]:
    """Events per second through `flow` and process CPU microseconds per event, from this
    process's input counter. The flows before it in this process are collected first, outside
    the time: the next flow's start collected their garbage (the engine state of a replay,
    held in reference cycles) in 0.4 s, a tenth of the replay into PostgreSQL, which a
    `propstream replay`, one flow a process, never pays."""
    gc.collect()
    before = counts()
    t0, cpu0 = time.perf_counter(), time.process_time()
    execute(flow, Cluster(), recovery_dir=settings.recovery_dir, epoch_s=settings.snapshot_interval_s)  # type: ignore[arg-type]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    events = sum(counts(before).events_in.values())
    return events / elapsed, 1e6 * cpu / events


def _replay_rate(
    settings: Settings, scorers: Sequence[Scorer], sink, window: Window | None = None
) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    return _rate(settings, build_flow(_source(settings, scorers, window), [sink]))


def _two_contents(root: Path) -> int:
    """Prediction ids the replay emitted with more than one content (emit time and name aside)."""
    emissions = read_emissions(root).drop("emitted_at", "player_name")
    flat = emissions.with_columns(pl.col(c).list.join("|") for c in ("reasons", "defaulted")).unique()
    return flat.group_by("prediction_id").len().filter(pl.col("len") > 1).height


def _window_equal(full: Path, window: Path, bounds: Window) -> bool:
    """Whether the window replay wrote exactly the full replay's log and grades for its window."""
    inside = pl.col("as_of").is_between(bounds.start, bounds.end)
    same = True
    for read in (read_predictions_log, read_grades):
        ours, theirs = read(window).drop("emitted_at"), read(full).drop("emitted_at").filter(inside)
        same &= ours.sort(ours.columns[:6]).equals(theirs.sort(theirs.columns[:6]))
    return same


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


@dataclass(frozen=True)
class LineMoves:
    """What came back from a latency run: per prediction of a counted move, the producer's
    timestamp, the `emitted_at` the worker stamped on it (its wall clock at the start of the
    batch that took the move) and when the bench's consumer received it, in epoch seconds;
    and the worst latency of the warm-up."""

    samples: list[tuple[float, float, float]]
    warmup_max_ms: float

    def _ms(self, of: int, since: int) -> list[float]:
        return sorted(1000 * (s[of] - s[since]) for s in self.samples)

    @property
    def latencies_ms(self) -> list[float]:
        """Producer timestamp to arrival on the output topic: the bench's figure."""
        return self._ms(2, 0)

    @property
    def to_batch_ms(self) -> list[float]:
        """Producer timestamp to the start of the worker's batch that took the move."""
        return self._ms(1, 0)

    @property
    def from_batch_ms(self) -> list[float]:
        """Start of that batch to arrival on the output topic (the batch, the sinks before the
        Kafka output, the output producer and broker)."""
        return self._ms(2, 1)


def percentiles(ms: list[float]) -> tuple[float, float]:
    """p50 and p99 of sorted milliseconds."""
    return statistics.median(ms), ms[int(0.99 * (len(ms) - 1))]


def _latency(
    settings: Settings,
    dsn: str,
    props: Sequence[PropLine],
    *,
    seconds: float = 30,
    warmup_s: float = 3,
    rate: float = 1000,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LineMoves:
    """Producer timestamp of a line move to its prediction on the output topic, at `rate` a
    second, in steady state: `seconds` spans a snapshot interval of the worker's (its default,
    30 s), so at least one of its snapshots falls inside, as in any such stretch of a live day;
    moves published in the first `warmup_s` are not counted (the worker's first
    batches open its sinks' connections and touch every player's state for the first time:
    about half a second, which alone was the whole p99 before). The worker first catches up
    on the whole history, as a deployed one would (its players and their features come from
    it), and the moves start once its output has been quiet for five seconds. The worker's
    log goes to `log` if given; `env` adds settings to its environment."""
    recovery = Path(tempfile.mkdtemp()) / "recovery"
    with open(log or os.devnull, "wb") as log_file:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "worker",
                "--start-at",
                "earliest",
                "--recovery-dir",
                str(recovery),
            ],
            env=_env(settings, PROPSTREAM_POSTGRES_DSN=dsn, **(env or {})),
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    out_topic = settings.topic("predictions")
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"lat-{uuid.uuid4().hex}"}
    )
    received: list[tuple[float, float, bytes]] = []  # (sent, received, payload): parsed afterwards

    def take(messages: list[Message]) -> None:
        now = time.time()
        received.extend((m.timestamp()[1] / 1000, now, m.value() or b"") for m in messages if not m.error())

    try:
        consumer.assign([TopicPartition(out_topic, p, OFFSET_BEGINNING) for p in range(settings.partitions)])
        seen, quiet_since, deadline = 0, time.monotonic(), time.monotonic() + 600
        while time.monotonic() < deadline and (seen == 0 or time.monotonic() - quiet_since < 5):
            batch = [m for m in consumer.consume(1000, timeout=0.5) if not m.error()]
            if batch:
                seen, quiet_since = seen + len(batch), time.monotonic()
        with Publisher(settings.kafka_bootstrap, linger_ms=0) as publisher:
            interval, start, i = 1 / rate, time.monotonic(), 0
            measured_from = time.time() + warmup_s
            while time.monotonic() - start < warmup_s + seconds:
                prop = props[i % len(props)]
                now = datetime.now(UTC)
                # tonight's game of the player, so it lies inside the retention of the watermark
                tonight = now + timedelta(hours=2)
                line = prop.line + (0.5 if i % 2 else -0.5)
                moved = prop.model_copy(update={"ts": now, "tipoff": tonight, "line": line, "is_main": True})
                publisher.publish(
                    settings.topic("props"), message_key(moved), encode(moved), int(now.timestamp() * 1000)
                )
                i += 1
                take(consumer.consume(100, timeout=0))
                time.sleep(max(0.0, start + i * interval - time.monotonic()))
        drain = time.monotonic() + 10
        while time.monotonic() < drain:
            # `consume(n, timeout)` returns once it holds n or at the timeout: waiting for n
            # stamped the last moves' predictions up to 0.5 s after they had arrived
            take(consumer.consume(1, timeout=0.1) + consumer.consume(1000, timeout=0))
    finally:
        worker.kill()
        worker.wait(timeout=30)
        consumer.close()
        shutil.rmtree(recovery.parent, ignore_errors=True)
    samples = [
        (sent, Prediction.model_validate_json(value).emitted_at.timestamp(), at)  # type: ignore[union-attr]
        for sent, at, value in received
        if sent >= measured_from
    ]
    warmup = [at - sent for sent, at, _ in received if sent < measured_from]
    if len(samples) < rate:
        raise RuntimeError(f"only {len(samples)} predictions came back from the worker")
    return LineMoves(samples, 1000 * max(warmup, default=0.0))


@contextlib.contextmanager
def _loaded(base: Settings, models_dir: Path) -> Iterator[Settings]:
    """Settings naming fresh topics that hold the whole shipped history (`load --max-speed`),
    deleted afterwards: a broker that kept every run's topics (97 runs, 2,900 partition
    folders) ran out of open files and stopped."""
    settings = base.model_copy(
        update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.", "models_dir": models_dir}
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "cli.main", "load", "--max-speed"],
            env=_env(settings),
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        ensure_topics(
            settings.kafka_bootstrap,
            {settings.topic(t): settings.partitions for t in ("predictions", "grades", "dlq")},
        )
        yield settings
    finally:
        delete_topics(settings.kafka_bootstrap, settings.topic_prefix)


def run(
    base: Settings,
    models_dir: Path,
    scorers: Sequence[Scorer],
    props: Sequence[PropLine],
) -> dict[str, float]:
    """Load the whole shipped history into fresh topics, then measure side by side."""
    admin = base.postgres_dsn.get_secret_value()
    window = Window.parse("2025-11-10", "2025-11-12")
    with _loaded(base, models_dir) as settings, tempfile.TemporaryDirectory() as tmp:
        floor = _consume_floor(settings)
        parquet, cpu_us = _replay_rate(settings, scorers, lambda: ParquetSink(Path(tmp) / "p1"))
        # each database is dropped once its replay is timed: autovacuum came to the replays'
        # tables a minute after they were written, in the line moves' seconds, and took up to
        # 60% of a core beside the worker (docs/operations.md, "The bench's leftovers")
        with scratch_database(admin) as pg_dsn:
            postgres, _ = _replay_rate(settings, scorers, lambda: PostgresSink(pg_dsn))
        _replay_rate(settings, scorers, lambda: ParquetSink(Path(tmp) / "window"), window)
        # the history's events over the slowest process's time, not the sum of what each read:
        # that counts the game-level input once per process (12% more for two). Parquet alone,
        # the cores shared only with the broker; then into PostgreSQL too, each into an empty
        # database (upserts over rows the other wrote cost less), whose server takes about as
        # much CPU as a replay process: there the cores are not idle
        env, runs = _env(settings), Path(tmp)
        history, one_s, one_cpu, _ = process_replays.replays(env, None, runs / "p1proc", 1)
        _, two_s, two_cpu, two_services = process_replays.replays(env, None, runs / "p2", 2)
        with scratch_database(admin) as one_dsn:
            _, one_pg_s, _, _ = process_replays.replays(env, one_dsn, runs / "p1pg", 1)
        with scratch_database(admin) as two_dsn:
            _, two_pg_s, _, two_pg_services = process_replays.replays(env, two_dsn, runs / "p2pg", 2)
        one, two = history / one_s, history / two_s
        with scratch_database(admin) as lat_dsn:
            moves = _latency(settings, lat_dsn, props)
        p50, p99 = percentiles(moves.latencies_ms)
        duplicates = _two_contents(Path(tmp) / "p1")
        window_equal = _window_equal(Path(tmp) / "p1", Path(tmp) / "window", window)
    return {
        "replay_events_per_s_parquet": parquet,
        "replay_events_per_s_postgres": postgres,
        "replay_cpu_us_per_event": cpu_us,
        "replay_events_per_s_1proc_cli": one,
        "replay_events_per_s_2proc": two,
        "replay_2proc_vs_1proc": two / one,
        "replay_2proc_cpu_ratio": two_cpu / one_cpu,
        "replay_2proc_services_cpu_s": two_services,
        "replay_2proc_vs_1proc_postgres": one_pg_s / two_pg_s,
        "replay_2proc_postgres_services_cpu_s": two_pg_services,
        "kafka_consume_floor_events_per_s": floor,
        "line_move_latency_p50_ms": p50,
        "line_move_latency_p99_ms": p99,
        "line_move_latency_warmup_max_ms": moves.warmup_max_ms,
        "replay_duplicate_content_ids": float(duplicates),
        "window_replay_rows_equal": float(window_equal),
    }


def main(argv: list[str] | None = None) -> int:
    """With `--moves`, this whole section (`run`), its figures as one JSON object on the last
    line, as `make bench` runs it. Without, the replay to Parquet alone (the section's
    `replay_events_per_s_parquet` and `replay_cpu_us_per_event`), a few rounds in one process:
    for work on the hot path (run it under `py-spy record` to see where the time goes)."""
    from scoring.model import Registry  # noqa: PLC0415 (only when run alone)

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--models", type=Path, required=True, help="a registry with the points models")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--moves",
        type=Path,
        help="the props the latency bench moves, one encoded PropLine a line (`save_moves`)",
    )
    args = parser.parse_args(argv)
    registry = Registry(args.models)
    scorers = [Scorer(registry.load(name)) for name in Settings().models]
    if args.moves is not None:
        print(json.dumps(run(Settings(), args.models, scorers, load_moves(args.moves))))  # noqa: T201
        return 0
    rounds = []
    with _loaded(Settings(), args.models) as settings:
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                rate, cpu_us = _replay_rate(settings, scorers, lambda: ParquetSink(Path(tmp)))
            rounds.append({"events_per_s": round(rate), "cpu_us_per_event": round(cpu_us, 2)})
            print(json.dumps(rounds[-1]))  # noqa: T201
    cpu = sorted(r["cpu_us_per_event"] for r in rounds)
    summary = {"cpu_us_per_event_median": statistics.median(cpu), "spread": [cpu[0], cpu[-1]]}
    print(json.dumps(summary))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
