"""Faults on the real stack (issue 14): no message on an input topic can stop the CLI. Each of
the messages that once crashed the worker, and a generated stream of arbitrary bytes and
arbitrary JSON of the events' shape, published among a day of real input: `replay --source
kafka` (the worker's own ordered path) exits 0, counts reconcile (in = applied +
dead-lettered, and every dead letter is a row of `dead_letters`), and each poison message is
in `dead_letters` with its exact bytes and its reason."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from cli.settings import Settings
from connectors.kafka import Publisher, ensure_topics
from connectors.parquet import read_dead_letters
from connectors.serde import decode
from tests.flows.test_kafka_flows import CONTENT, GRADES, LATEST
from tests.stack import database, fetch, load, run_cli, spawn
from tests.vocabulary.test_events import PROP as EVENT_PROP
from vocabulary.errors import DecodeError
from vocabulary.events import PropLine
from vocabulary.topics import INPUT_TOPICS

LOG = f"SELECT {CONTENT}, emitted_at IS NOT NULL FROM predictions_log ORDER BY prediction_id"
DAYS = ("2025-11-09", "2025-11-10")  # players learn their ids from the first day's box scores
DAY_MS = int(datetime(2025, 11, 10, 17, tzinfo=UTC).timestamp() * 1000)
PROP: dict[str, Any] = EVENT_PROP | {  # a player of the loaded days, so good props are scored
    "kind": "prop_line",
    "ts": "2025-11-10T17:00:00Z",
    "home_team": "BOS",
    "away_team": "NYK",
    "tipoff": "2025-11-11T00:30:00Z",
    "player_name": "Jaylen Brown",
}


def _prop(**change: Any) -> bytes:
    return json.dumps(PROP | change).encode()


def _poison() -> dict[bytes, str]:
    """Issue 14's reproducers (each once stopped the worker for good), with their reasons."""
    ahead = datetime.now(UTC) + timedelta(hours=2)
    return {
        b"\x00not json": "malformed_json",
        b"\xff" * 400_000: "malformed_json",
        _prop(ts="9999-12-31T23:00:00-05:00"): "ts:date_out_of_range",
        _prop(tipoff="0001-01-01T00:00:00Z"): "tipoff:date_out_of_range",
        _prop(over_price=1e308): "over_price:odds_out_of_range",
        _prop(line=1e300): "line:line_out_of_range",
        _prop(ts=ahead.isoformat(), tipoff=(ahead + timedelta(hours=3)).isoformat()): "ts:future",
    }


# values of every JSON type, the extremes included, for the fields of a prop
_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "2025-11-10T17:00:00Z", "BOS"]),
    st.just(PROP["tipoff"]),
)
# a prop with each field most often valid, else any JSON value, and maybe a field or two gone
_shaped = st.builds(
    lambda fields, gone: json.dumps({k: v for k, v in fields.items() if k not in gone}).encode(),
    st.fixed_dictionaries(
        {k: st.one_of(st.just(v), st.just(v), st.just(v), _json_values) for k, v in PROP.items()}
    ),
    st.sets(st.sampled_from(sorted(PROP)), max_size=2),
)
_payloads = st.one_of(st.binary(max_size=2000), _shaped)


def _generated(n: int = 50) -> list[bytes]:
    """`n` payloads from hypothesis, collected first and published in one go: one replay for
    all of them keeps the suite fast."""
    out: list[bytes] = []

    @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None)
    @given(_payloads)
    def collect(value: bytes) -> None:
        out.append(value)

    collect()
    return out


def _decodes(value: bytes) -> bool:
    try:
        decode(value, PropLine)
    except DecodeError:
        return False
    return True


def test_no_message_stops_the_replay_and_every_one_is_accounted_for(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    # the rare generated prop that is valid would be applied and change the tables: the
    # comparison with the clean run below needs the refused ones only
    generated = [value for value in _generated() if not _decodes(value)]
    assert len(set(generated)) > 20
    load(stack, "--max-speed", days=DAYS)
    clean = database(postgres_dsn, f"clean_{tmp_path.name[-12:]}".lower())
    run_cli(stack, "replay", "--source", "kafka", dsn=clean)  # the same input, without poison
    names = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    poison = _poison()
    with Publisher(stack["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        for value in poison:
            # the future prop as a skewed producer sends it: stamped with the broker's now
            stamp = int(time.time() * 1000) if poison[value] == "ts:future" else DAY_MS
            publisher.publish(names.topic("props"), b"poison", value, stamp)
        for i, value in enumerate(generated):
            publisher.publish(names.topic("props"), b"generated", value, DAY_MS + i)
    db = database(postgres_dsn, f"faults_{tmp_path.name[-12:]}".lower())

    lake = tmp_path / "lake"
    result = run_cli(stack, "replay", "--source", "kafka", "--parquet", str(lake), dsn=db)  # exit 0

    out = " ".join(result.stdout.split())
    counts = re.search(r"events in ([\d,]+) = applied ([\d,]+) \+ dead-lettered ([\d,]+): counts (\w+)", out)
    assert counts is not None, result.stdout[-2000:]
    n_in, applied, dead = (int(counts.group(i).replace(",", "")) for i in (1, 2, 3))
    assert counts.group(4) == "reconcile" and n_in == applied + dead
    assert fetch(db, "SELECT count(*) FROM dead_letters")[0][0] == dead
    letters = {bytes(o): r for o, r in fetch(db, "SELECT original, reason FROM dead_letters")}
    files = read_dead_letters(lake)  # the files sink keeps the same dead letters, bytes and all
    assert dict(zip(files["original"].to_list(), files["reason"].to_list(), strict=True)) == letters
    for value, reason in poison.items():
        stored = value[: 256 * 1024]  # kept truncated beyond 256 KiB, with its size and digest
        assert letters[stored] == reason, (value[:80], letters.get(stored))
    for value in generated:
        with pytest.raises(DecodeError) as refused:
            decode(value, PropLine)
        assert letters[value] == refused.value.reason  # dead-lettered with its decoding reason
    # the good events went on, exactly as without the poison: nothing lost, doubled or different
    assert len(fetch(db, LATEST)) > 100
    for query in (LATEST, LOG, GRADES):
        assert fetch(db, query) == fetch(clean, query)


def test_the_tailing_worker_outlives_every_poison_message_and_a_restart(
    stack: dict[str, str], postgres_dsn: str, tmp_path: Path
) -> None:
    """Issue 14's first finding: one message stopped the worker, and every restart died on it
    again. Here the worker tails topics that hold only the poison, dead-letters each, keeps
    running, and a restart on the same recovery store goes on past them."""
    names = Settings(topic_prefix=stack["PROPSTREAM_TOPIC_PREFIX"])
    ensure_topics(stack["PROPSTREAM_KAFKA_BOOTSTRAP"], {names.topic(t): 1 for t in INPUT_TOPICS})
    poison = _poison()
    with Publisher(stack["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        for value in poison:
            stamp = int(time.time() * 1000) if poison[value] == "ts:future" else DAY_MS
            publisher.publish(names.topic("props"), b"poison", value, stamp)
    db = database(postgres_dsn, f"tail_{tmp_path.name[-12:]}".lower())
    recovery = ["--recovery-dir", str(tmp_path / "recovery")]
    for run in range(2):  # a first start, then a restart on its recovery store
        worker = spawn(stack, "worker", *recovery, dsn=db)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and worker.poll() is None:
                with contextlib.suppress(psycopg.Error):
                    if fetch(db, "SELECT count(*) FROM dead_letters")[0][0] >= len(poison):
                        break
                time.sleep(0.5)
            time.sleep(2 if run == 0 else 4)  # a snapshot interval or two: still alive after them
            assert worker.poll() is None, "the worker stopped"
        finally:
            worker.send_signal(signal.SIGTERM)
            log = worker.communicate(timeout=60)[0]
        assert "Traceback" not in log, log[-3000:]
    letters = {bytes(o): r for o, r in fetch(db, "SELECT original, reason FROM dead_letters")}
    assert letters == {value[: 256 * 1024]: reason for value, reason in poison.items()}
