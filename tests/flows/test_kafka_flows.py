"""The product on the real stack: the worker and the replays on Kafka, writing Postgres and
Parquet, run as the CLI runs them (subprocesses), compared table for table."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

import polars as pl
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from cli.settings import Settings
from connectors.adapters import Record
from connectors.inputs import Raw
from connectors.kafka import Publisher, ensure_topics
from connectors.kafka_input import KafkaReader, shard_partitions
from connectors.loader import Loader
from connectors.parquet import read_dead_letters, read_emissions, read_grades, read_latest
from connectors.serde import decode, encode
from tests.stack import DAY_FROM, DAY_TO, database, fetch, free_port, load, run_cli, spawn, wait_until_stable
from vocabulary.events import PropLine
from vocabulary.keys import message_key
from vocabulary.topics import EVENT_TYPES
from vocabulary.window import Window, parse_bound

LATEST = (
    "SELECT model, player_id, game_key, book, market, prediction_id, as_of, line, mean, p_over, "
    "recommendation FROM predictions_latest ORDER BY 1, 2, 3, 4, 5"
)
LOG = (
    "SELECT prediction_id, model, book, market, as_of, line, mean, p_over FROM predictions_log "
    "WHERE NOT withdrawn ORDER BY 1"
)
CONTENT = "model, player_id, game_key, book, market, prediction_id, as_of, line, p_over, recommendation"
GRADES = (
    "SELECT model, player_id, game_key, book, prediction_id, result, profit FROM grades ORDER BY 1, 2, 3, 4"
)
INPUTS = ("games", "game_lines", "props", "box_scores")


def test_live_worker_equals_replay(stack: dict[str, str], postgres_dsn: str, tmp_path: Path) -> None:
    live_db = database(postgres_dsn, f"live_{tmp_path.name[-12:]}".lower())
    settings = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    ensure_topics(stack["PROPSTREAM_KAFKA_BOOTSTRAP"], {settings.topic(t): 3 for t in (*INPUTS, "dlq")})
    port = free_port()
    worker = spawn(
        stack,
        "worker",
        "--recovery-dir",
        str(tmp_path / "recovery"),
        "--metrics-port",
        str(port),
        dsn=live_db,
    )
    try:
        time.sleep(3)
        # a week of event time in about six seconds, published while the worker runs
        load(stack, "--speed", "100000")
        replay_db = database(postgres_dsn, f"replay_{tmp_path.name[-12:]}".lower())
        run_cli(stack, "replay", "--source", "kafka", "--parquet", str(tmp_path / "lake"), dsn=replay_db)
        replayed = fetch(replay_db, LATEST)
        deadline = time.monotonic() + 240
        while len(fetch(live_db, LATEST)) < len(replayed) and time.monotonic() < deadline:
            time.sleep(1)  # the live worker catches up at its own pace
        wait_until_stable(live_db, seconds=3)
        metrics = _scrape(port)
    finally:
        worker.send_signal(signal.SIGKILL)
        log = worker.communicate(timeout=30)[0]
    live = fetch(live_db, LATEST)
    assert len(replayed) > 1000
    assert live == replayed, log[-3000:]
    # what the worker's metrics say of the same run: every input topic counted and reconciled,
    # the outputs and their latencies, and no lag once caught up
    events_in = metrics["propstream_events_in_total"]
    assert set(events_in) == {(("topic", t),) for t in INPUTS}
    arrivals = metrics["propstream_input_last_arrival_seconds"]  # when each topic last delivered
    assert set(arrivals) == set(events_in) and all(abs(a - time.time()) < 900 for a in arrivals.values())
    applied, dead = metrics["propstream_events_applied_total"], metrics["propstream_dead_letters_total"]
    assert sum(events_in.values()) == sum(applied.values()) + sum(dead.values())
    assert dead[(("reason", "unknown_player"),)] > 0
    predictions = sum(
        v for k, v in metrics["propstream_records_out_total"].items() if ("kind", "prediction") in k
    )
    assert predictions >= len(live)
    assert metrics["propstream_rescore_latency_seconds_count"][()] == predictions
    lag = metrics["propstream_consumer_lag"]
    assert len(lag) == 3 * len(INPUTS) and set(lag.values()) == {0}
    assert fetch(live_db, GRADES) == fetch(replay_db, GRADES)
    # and the as-of history: whatever the worker applied late was rewound and corrected
    assert fetch(live_db, LOG) == fetch(replay_db, LOG)
    lake = read_latest(tmp_path / "lake")
    assert sorted(lake["prediction_id"].to_list()) == sorted(r[5] for r in replayed)


def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Prometheus samples by name, then by their sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_two_processes_equal_one(stack: dict[str, str], postgres_dsn: str, tmp_path: Path) -> None:
    load(stack, "--max-speed")
    one = database(postgres_dsn, f"one_{tmp_path.name[-12:]}".lower())
    alone = run_cli(stack, "replay", "--source", "kafka", "--parquet", str(tmp_path / "one"), dsn=one)
    assert "Graded" in alone.stdout
    two = database(postgres_dsn, f"two_{tmp_path.name[-12:]}".lower())
    procs = [
        spawn(
            stack,
            "replay",
            "--source",
            "kafka",
            "--parquet",
            str(tmp_path / "two"),
            "-i",
            str(i),
            "-n",
            "2",
            dsn=two,
        )
        for i in (0, 1)
    ]
    for i, proc in enumerate(procs):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        # a process of a cluster summarises no dataset the others may still be writing
        assert f"process {i} of 2 done: the graded figures are left out" in " ".join(out.split())
        assert "Graded" not in out
    assert fetch(one, LATEST) == fetch(two, LATEST)
    assert fetch(one, LOG) == fetch(two, LOG)
    assert fetch(one, GRADES) == fetch(two, GRADES)
    # Parquet alone (as the bench's two-process figure runs): no database is reached, and the
    # shared folder holds what the one process wrote, emission for emission
    away = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    lake = str(tmp_path / "lake")
    cluster = [("-i", str(i), "-n", "2") for i in (0, 1)]
    procs = [
        spawn(stack, "replay", "--source", "kafka", "--no-postgres", "--parquet", lake, *c, dsn=away)
        for c in cluster
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    for read in (read_emissions, read_grades, read_dead_letters):
        ours, theirs = (
            read(tmp_path / "lake").drop("emitted_at", strict=False),
            read(tmp_path / "one").drop("emitted_at", strict=False),
        )
        assert ours.sort(ours.columns).equals(theirs.sort(theirs.columns)), read.__name__


def test_kill_9_mid_replay_then_resume_gives_identical_tables(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    load(stack, "--max-speed", days=("2025-11-05", "2025-11-12"))
    clean = database(postgres_dsn, f"clean_{tmp_path.name[-12:]}".lower())
    run_cli(stack, "replay", "--source", "kafka", dsn=clean)
    crashed = database(postgres_dsn, f"crash_{tmp_path.name[-12:]}".lower())
    recovery = tmp_path / "recovery"
    first = spawn(stack, "replay", "--source", "kafka", "--recovery-dir", str(recovery), dsn=crashed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once part of the run is written, not before a snapshot
        time.sleep(0.2)
        try:
            if fetch(crashed, "SELECT count(*) FROM predictions_log")[0][0] > 200:
                break
        except psycopg.errors.UndefinedTable:
            continue
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL  # it really died mid-run
    partial = fetch(crashed, "SELECT count(*) FROM predictions_log")[0][0]
    run_cli(stack, "replay", "--source", "kafka", "--recovery-dir", str(recovery), dsn=crashed)

    assert 0 < partial < fetch(clean, "SELECT count(*) FROM predictions_log")[0][0]
    assert fetch(crashed, LATEST) == fetch(clean, LATEST)
    assert fetch(crashed, LOG) == fetch(clean, LOG)
    assert fetch(crashed, GRADES) == fetch(clean, GRADES)
    duplicates = fetch(crashed, "SELECT prediction_id FROM predictions_log GROUP BY 1 HAVING count(*) > 1")
    assert duplicates == []


def test_bad_input_is_dead_lettered_and_counts_reconcile(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    load(stack, "--max-speed")
    settings = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    good = PropLine.model_validate_json(
        '{"ts":"2025-11-10T17:00:00Z","event_id":"e","home_team":"BOS","away_team":"NYK",'
        '"tipoff":"2025-11-11T00:30:00Z","kind":"prop_line","book":"draftkings","market":"points",'
        '"player_name":"Jaylen Brown","line":25.5,"over_price":-110,"under_price":-110,"is_main":true}'
    )
    salt = {
        b"{not json": "malformed_json",
        encode(good.model_copy(update={"player_name": "Nobody Atall"})): "unknown_player",
        encode(good).replace(b'"over_price":-110.0', b'"over_price":-40.0'): "over_price:odds_out_of_range",
        encode(good).replace(b'"line":25.5', b'"line":"lots"'): "line:float_parsing",
        encode(good).replace(
            b'"ts":"2025-11-10T17:00:00Z"', b'"ts":"2025-11-10T17:00:00"'
        ): "ts:timezone_aware",
    }
    with Publisher(stack["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        for value in salt:
            publisher.publish(
                settings.topic("props"), message_key(good), value, int(good.ts.timestamp() * 1000)
            )
        tombstone = None  # a message with no value
        publisher.publish(
            settings.topic("props"), message_key(good), tombstone, int(good.ts.timestamp() * 1000)
        )  # type: ignore[arg-type]
    db = database(postgres_dsn, f"bad_{tmp_path.name[-12:]}".lower())
    result = run_cli(stack, "replay", "--source", "kafka", dsn=db)
    assert "counts reconcile" in result.stdout
    letters = dict(fetch(db, "SELECT original, reason FROM dead_letters WHERE source LIKE '%odds.props'"))
    for value, reason in salt.items():
        assert letters[value] == reason  # the exact bytes
    assert letters[b""] == "empty_message"  # a tombstone: recorded, and the worker goes on
    where = fetch(
        db, "SELECT min(partition), min(\"offset\") FROM dead_letters WHERE reason = 'malformed_json'"
    )[0]
    assert where[0] >= 0 and where[1] >= 0  # the topic, partition and offset are recorded
    assert len(fetch(db, LATEST)) > 1000  # and the worker kept going with the good events


def test_replay_reads_in_time_order_whatever_the_publish_order(
    stack: dict[str, str], postgres_dsn: str, shipped_records: list[Record], tmp_path: Path
) -> None:
    """Two days published topic by topic (every box score first, the props last) come out of
    the replay source in event-time order, all of them, and replay to the same tables as the
    same days published in time order. (Read partition by partition, a season replay applied
    late box scores to props read days ahead, and emitted ten times the predictions.)"""
    settings = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    load(stack, "--max-speed")
    in_order = database(postgres_dsn, f"ordered_{tmp_path.name[-12:]}".lower())
    run_cli(stack, "replay", "--source", "kafka", dsn=in_order)

    by_topic_env = stack | {"PROPSTREAM_TOPIC_PREFIX": f"{settings.topic_prefix}b."}
    by_topic = Settings(topic_prefix=by_topic_env["PROPSTREAM_TOPIC_PREFIX"])
    topics = {t: by_topic.topic(t) for t in INPUTS}
    ensure_topics(settings.kafka_bootstrap, {**{t: 3 for t in topics.values()}, by_topic.topic("dlq"): 3})
    with Publisher(settings.kafka_bootstrap) as publisher:
        loader = Loader(publisher, topics, by_topic.topic("dlq"), Window.parse(DAY_FROM, DAY_TO))
        for topic in ("box_scores", "games", "game_lines", "props"):
            for record in (r for r in shipped_records if r.topic == topic):
                loader.send(record)
    published = sum(c.events_published for c in loader.counts.values())

    parts = shard_partitions(settings.kafka_bootstrap, topics, 0, 1)
    reader = KafkaReader(settings.kafka_bootstrap, topics, parts, tail=False)
    read: list[Raw] = []
    deadline = time.monotonic() + 60
    while not reader.exhausted and time.monotonic() < deadline:
        read += reader.take(50)
    reader.close()
    times = [decode(raw.value, EVENT_TYPES[raw.logical]).ts for raw in read]
    assert len(read) == published > 1000
    assert times == sorted(times)
    assert {raw.logical for raw in read[:100]} != {"box_scores"}  # not in publish order

    replayed = database(postgres_dsn, f"by_topic_{tmp_path.name[-12:]}".lower())
    run_cli(by_topic_env, "replay", "--source", "kafka", dsn=replayed)
    assert fetch(replayed, LATEST) == fetch(in_order, LATEST)
    assert fetch(replayed, LOG) == fetch(in_order, LOG)
    assert fetch(replayed, GRADES) == fetch(in_order, GRADES)


def test_kafka_replay_of_the_history_and_of_a_window(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    """The whole shipped history through Kafka: no prediction id emitted with two contents;
    a window replay writes exactly the full run's rows with as_of in the window (warming up on
    everything before it), and run into the full run's database it changes nothing."""
    run_cli(stack, "load", "--max-speed", "--partitions", "3")
    full = database(postgres_dsn, f"full_{tmp_path.name[-12:]}".lower())
    result = run_cli(stack, "replay", "--source", "kafka", "--parquet", str(tmp_path / "full"), dsn=full)
    assert "counts reconcile" in result.stdout
    emissions = read_emissions(tmp_path / "full").drop("emitted_at", "player_name")
    flat = emissions.with_columns(pl.col(c).list.join("|") for c in ("reasons", "defaulted")).unique()
    assert flat.height > 30_000
    assert flat.group_by("prediction_id").len().filter(pl.col("len") > 1).height == 0

    start, end = "2025-11-10", "2025-11-12"
    window = database(postgres_dsn, f"window_{tmp_path.name[-12:]}".lower())
    run_cli(stack, "replay", "--source", "kafka", "--from", start, "--to", end, dsn=window)
    inside = (
        f"WHERE as_of BETWEEN '{parse_bound(start, end=False).isoformat()}' "
        f"AND '{parse_bound(end, end=True).isoformat()}'"
    )
    for table in ("predictions_log", "grades"):
        query = f"SELECT {CONTENT} FROM {table} {{}} ORDER BY 1, 2, 3, 4, 5, 6"
        rows = fetch(window, query.format(""))
        assert len(rows) > 1000
        assert rows == fetch(full, query.format(inside)), table
    assert fetch(window, "SELECT min(as_of) FROM predictions_log")[0][0] >= parse_bound(start, end=False)

    everything = "SELECT * FROM {} ORDER BY prediction_id, model, book"
    before = {
        t: fetch(full, everything.format(t)) for t in ("predictions_latest", "predictions_log", "grades")
    }
    run_cli(stack, "replay", "--source", "kafka", "--from", start, "--to", end, dsn=full)
    for table, rows in before.items():
        assert fetch(full, everything.format(table)) == rows, table  # emit times included
