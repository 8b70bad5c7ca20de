"""Dead letters keep the exact input bytes (issue 14: 86 of 200 arbitrary bytes came back as
U+FFFD), through JSON, Postgres (`bytea`), Parquet and the dead-letter topic; one too large to keep
whole is kept truncated with its size and digest, never dropped, and its DLQ message stays
under the broker's 1 MB."""

from __future__ import annotations

import hashlib
import random
import uuid
from pathlib import Path

import psycopg
from hypothesis import given
from hypothesis import strategies as st

from connectors.kafka import KafkaRecordSink, ensure_topics
from connectors.parquet import ParquetSink, read_dead_letters, read_log
from connectors.postgres import MIGRATIONS, PostgresSink, code_schema_version, migrate
from connectors.serde import decode, encode
from tests.conftest import consume
from vocabulary.events import MAX_ORIGINAL_BYTES, DeadLetter
from vocabulary.letters import DeadLetters

ARBITRARY = [bytes(random.Random(seed).randrange(256) for _ in range(200)) for seed in range(20)]
ARBITRARY.append(bytes(range(256)))  # every byte value, NUL and the invalid UTF-8 ones included


def letter(original: bytes, offset: int = 0, **kw: object) -> DeadLetter:
    fields = {
        "source": "odds.props",
        "partition": 0,
        "offset": offset,
        "reason": "malformed_json",
        "detail": "x",
    }
    return DeadLetter(original=original, **(fields | kw))  # type: ignore[arg-type]


@given(st.binary(max_size=300), st.text(max_size=50))
def test_any_bytes_and_text_survive_json_exactly(original: bytes, detail: str) -> None:
    dead = letter(original, detail=detail, reason="r" + detail)
    back = decode(encode(dead), DeadLetter)
    assert back == dead and back.original == original and not back.truncated
    assert back.size == len(original) and back.sha256 == hashlib.sha256(original).hexdigest()
    for text in (back.preview, back.detail, back.reason):
        assert "\x00" not in text
        text.encode("utf-8")  # storable: no lone surrogate


@given(
    st.one_of(st.binary(max_size=300), st.sampled_from([b"\xff" * 400_000, b"{" + b"a" * 300_000])),
    st.text(max_size=50),
    st.text(min_size=1, max_size=300),
    st.one_of(st.none(), st.integers(0, 2**40)),
)
def test_the_flows_dead_letter_is_the_validated_one(
    original: bytes, detail: str, reason: str, offset: int | None
) -> None:
    """`DeadLetters.add` (the flow's columns, unvalidated) holds exactly what validation builds."""
    fields = {"source": "odds.props\x00" + detail, "partition": 3, "offset": offset}
    fields |= {"original": original, "reason": reason, "detail": detail * 50}
    batch = DeadLetters()
    batch.add(**fields)  # type: ignore[arg-type]
    (fast,), validated = batch.letters(), DeadLetter(**fields)  # type: ignore[arg-type]
    assert fast == validated and fast.__dict__ == validated.__dict__
    assert list(fast.__dict__) == list(DeadLetter.model_fields)
    assert decode(encode(fast), DeadLetter) == validated


def test_a_huge_dead_letter_is_kept_truncated_with_size_and_digest() -> None:
    for original in (b"\xff" * 400_000, b"\x00" * 1_000_000, b"{" + b"a" * 2_000_000):
        dead = letter(original)
        assert dead.truncated and dead.original == original[:MAX_ORIGINAL_BYTES]
        assert dead.size == len(original) and dead.sha256 == hashlib.sha256(original).hexdigest()
        message = encode(dead)
        assert len(message) < 900_000  # the broker's default limit is 1 MB
        assert decode(message, DeadLetter) == dead


def test_arbitrary_bytes_round_trip_through_postgres(fresh_db: str) -> None:
    letters = [letter(b, offset=i) for i, b in enumerate([*ARBITRARY, b"\x00not json", b"\xff" * 400_000])]
    with PostgresSink(fresh_db) as sink:
        sink.write_batch([*letters[:5], DeadLetters.gather(letters[3:])])  # records and columns
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(
            'SELECT "offset", original, size, sha256, preview FROM dead_letters ORDER BY "offset"'
        ).fetchall()
    assert [(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows] == [
        (d.offset, d.original, d.size, d.sha256, d.preview) for d in letters
    ]
    assert rows[-1][2] == 400_000 and len(rows[-1][1]) == MAX_ORIGINAL_BYTES


def test_arbitrary_bytes_round_trip_through_parquet_and_into_postgres(fresh_db: str, tmp_path: Path) -> None:
    """The files sink keeps dead letters too: exact bytes, one row per input however often a
    batch is re-delivered, as records or as the flow's columns (the same file), and `db
    import`'s reader gives them back as records."""
    letters = [letter(b, offset=i) for i, b in enumerate([*ARBITRARY, b"\x00not json", b"\xff" * 400_000])]
    letters.append(letter(b"row", offset=7, source="data/odds/props.csv.gz", partition=None))  # a file's
    with ParquetSink(tmp_path) as sink:
        sink.write_batch(letters)
        sink.write_batch(letters[:5])  # re-delivered, split differently
        sink.write_batch([DeadLetters.gather(letters)])  # and whole, as the flow's columns
    assert len(list((tmp_path / "dead_letters").glob("*.parquet"))) == 2
    frame = read_dead_letters(tmp_path)
    expected = sorted(
        letters, key=lambda d: (d.source, d.partition if d.partition is not None else -1, d.offset)
    )
    assert frame.height == len(letters)
    assert frame["original"].to_list() == [d.original for d in expected]
    assert frame.select("size", "sha256", "preview", "reason").rows() == [
        (d.size, d.sha256, d.preview, d.reason) for d in expected
    ]
    back = [r for _, records in read_log(tmp_path) for r in records]
    assert {d.offset: d for d in back if isinstance(d, DeadLetter)} == {d.offset: d for d in letters}
    with PostgresSink(fresh_db) as sink:
        sink.write_batch(back)
    with psycopg.connect(fresh_db) as conn:
        stored = {bytes(o) for (o,) in conn.execute("SELECT original FROM dead_letters").fetchall()}
    assert stored == {d.original for d in letters}


def test_arbitrary_bytes_round_trip_through_the_dead_letter_topic(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}propstream.dlq"
    ensure_topics(kafka_bootstrap, {topic: 1})
    letters = [letter(b, offset=i) for i, b in enumerate([*ARBITRARY, b"\xff" * 400_000])]
    sink = KafkaRecordSink(kafka_bootstrap, {DeadLetter: topic})
    with sink:
        sink.write_batch([DeadLetters.gather(letters)])  # the flow's columns, sent as records
    messages = consume(kafka_bootstrap, topic, len(letters))
    back = sorted((decode(m.value(), DeadLetter) for m in messages), key=lambda d: d.offset or 0)
    assert back == letters
    assert [d.original for d in back[:-1]] == ARBITRARY


def test_the_preview_of_a_text_event_is_its_text() -> None:
    text = '{"kind": "prop_line", "player_name": "Nikola Jokić", "line": 1e300}'
    assert letter(text.encode()).preview == text
    assert letter(b"\x00\xffok").preview == "\\x00\\xffok"


def test_migration_3_keeps_the_dead_letters_of_schema_2(postgres_dsn: str) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE propstream_schema (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version, path in sorted((int(p.name[:4]), p) for p in MIGRATIONS.glob("000[12]_*.sql")):
                conn.execute(path.read_text())  # type: ignore[arg-type]
                conn.execute("INSERT INTO propstream_schema VALUES (%s, %s)", (version, path.name))
            conn.execute(
                "INSERT INTO dead_letters (source, rows, reason, detail, original) "
                "VALUES ('odds/props.csv', 1, 'r', 'd', 'héllo {')"
            )
        assert migrate(dsn) == list(range(3, code_schema_version() + 1))
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT original, preview, size, sha256 FROM dead_letters").fetchone()
        assert row == ("héllo {".encode(), "héllo {", 8, hashlib.sha256("héllo {".encode()).hexdigest())
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
