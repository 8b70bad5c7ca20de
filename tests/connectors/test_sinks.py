"""Sinks against the real PostgreSQL and real files: re-delivery, order, outages, the reader."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.adapters import Record
from connectors.parquet import ParquetSink, read_grades, read_latest
from connectors.postgres import MigrationError, PostgresSink, code_schema_version, migrate
from connectors.sinks import SinkError
from scoring.evaluate import main_line_requests, make_model
from scoring.grading import grade
from scoring.scorer import Scorer
from tests.stack import Gate
from vocabulary.events import BoxScore, DeadLetter
from vocabulary.records import Prediction, prediction_id

COLUMNS = "model, player_id, game_key, book, market, prediction_id, as_of, line, p_over, recommendation"


@pytest.fixture(scope="module")
def predictions(history: tuple) -> list[Prediction]:  # type: ignore[type-arg]
    """Real predictions: two models scoring the shipped 2025-11-10 slate."""
    data, store, _ = history
    requests = main_line_requests(store, date(2025, 11, 10))
    out: list[Prediction] = []
    for name, kind in (("champion", "sqrt_uncertainty"), ("shadow", "normal_uncertainty")):
        out += Scorer(make_model(name, kind, data, {"iterations": 40})[0]).score(requests)
    return out


def moved(p: Prediction, minutes: int, line_step: float = 0.5) -> Prediction:
    """The same prop rescored later after its line moved."""
    as_of = p.as_of + timedelta(minutes=minutes)
    pid = prediction_id(
        model=p.model, player_id=p.player_id, game_key=p.game_key, book=p.book, market=p.market, as_of=as_of
    )
    return p.model_copy(update={"as_of": as_of, "line": p.line + line_step, "prediction_id": pid})


def rows(dsn: str, table: str) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM {table} ORDER BY 1, 2, 3, 4, 5, 7").fetchall()


def batches(items: list, size: int) -> list[list]:  # type: ignore[type-arg]
    return [items[i : i + size] for i in range(0, len(items), size)]


def test_redelivery_and_order_leave_the_same_tables(
    fresh_db: str, postgres_dsn: str, predictions: list[Prediction]
) -> None:
    stream = (
        predictions + [moved(p, 30) for p in predictions[::3]] + [moved(p, 60, 1.0) for p in predictions[::7]]
    )
    with PostgresSink(fresh_db) as sink:
        for batch in batches(stream, 200):
            sink.write_batch(batch)
    expected_latest, expected_log = rows(fresh_db, "predictions_latest"), rows(fresh_db, "predictions_log")
    assert len(expected_latest) == len(predictions)
    assert len(expected_log) == len(stream)

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("TRUNCATE predictions_latest, predictions_log")
    shuffled = stream * 2  # every record delivered twice, in a random order and random batches
    random.Random(7).shuffle(shuffled)
    with PostgresSink(fresh_db) as sink:
        for batch in batches(shuffled, 137):
            sink.write_batch(batch)
        sink.write_batch(shuffled[:50])  # and a batch re-sent whole
    assert rows(fresh_db, "predictions_latest") == expected_latest
    assert rows(fresh_db, "predictions_log") == expected_log


def test_older_after_newer_changes_nothing_and_newer_replaces(
    fresh_db: str, predictions: list[Prediction]
) -> None:
    original = predictions[0]
    newer = moved(original, 30)
    with PostgresSink(fresh_db) as sink:
        sink.write_batch([newer])
        sink.write_batch([original])
        assert rows(fresh_db, "predictions_latest")[0][5] == newer.prediction_id
        newest = moved(original, 90, 2.0)
        sink.write_batch([newest])
    latest = rows(fresh_db, "predictions_latest")
    assert len(latest) == 1 and latest[0][5] == newest.prediction_id and latest[0][7] == original.line + 2.0
    assert len(rows(fresh_db, "predictions_log")) == 3


def test_grades_and_dead_letters_are_idempotent(fresh_db: str, predictions: list[Prediction]) -> None:
    grades = [grade(p, None) for p in predictions[:100]]
    letter = DeadLetter(
        source="odds.props", partition=2, offset=41, original=b"{", reason="malformed_json", detail="x"
    )
    with PostgresSink(fresh_db) as sink:
        sink.write_batch([*grades, letter])
        sink.write_batch([*grades[:10], letter])
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM grades").fetchone() == (100,)
        assert conn.execute("SELECT count(*), min(reason) FROM dead_letters").fetchone() == (
            1,
            "malformed_json",
        )
        daily = conn.execute("SELECT model, n_graded FROM model_performance_daily ORDER BY 1").fetchall()
    assert daily == [("champion", 0)] or all(n == 0 for _, n in daily)  # all VOID: graded without box scores


def test_version_in_sample_and_tipoff_land_in_both_sinks(
    fresh_db: str, tmp_path: Path, predictions: list[Prediction], shipped_records: list[Record]
) -> None:
    """The test models are trained on every shipped game, so their predictions are in-sample;
    half are relabelled out-of-sample: the daily view counts those only."""
    assert all(p.in_sample and p.model_version for p in predictions)
    tipoff = datetime(2025, 11, 11, 0, 30, tzinfo=UTC)
    mixed = [
        p.model_copy(update={"in_sample": i % 2 == 0, "tipoff": tipoff}) for i, p in enumerate(predictions)
    ]
    boxes = {(e.player_id, e.game_key): e for r in shipped_records if isinstance(e := r.event, BoxScore)}
    grades = [grade(p, boxes.get((p.player_id, p.game_key))) for p in mixed]
    with PostgresSink(fresh_db) as sink:
        sink.write_batch([*mixed, *grades])
    ParquetSink(tmp_path).write_batch([*mixed, *grades])
    expected = sorted((p.prediction_id, p.model_version, p.in_sample, tipoff) for p in mixed)
    with psycopg.connect(fresh_db) as conn:
        for table in ("predictions_latest", "predictions_log"):
            got = conn.execute(
                f"SELECT prediction_id, model_version, in_sample, tipoff FROM {table}"
            ).fetchall()
            assert sorted(got) == expected
        graded = conn.execute("SELECT prediction_id, model_version, in_sample FROM grades").fetchall()
        daily = conn.execute("SELECT model, sum(n_graded) FROM model_performance_daily GROUP BY 1").fetchall()
    assert sorted(graded) == [e[:3] for e in expected]
    out_of_sample = {
        m: sum(g.result != "VOID" and not g.in_sample for g in grades if g.model == m)
        for m in ("champion", "shadow")
    }
    assert dict(daily) == out_of_sample and all(n > 100 for n in out_of_sample.values())
    latest = read_latest(tmp_path).sort("prediction_id")
    assert (
        list(
            zip(
                latest["prediction_id"],
                latest["model_version"],
                latest["in_sample"],
                latest["tipoff"],
                strict=True,
            )
        )
        == expected
    )
    assert sorted(
        zip(*(read_grades(tmp_path)[c] for c in ("prediction_id", "model_version", "in_sample")), strict=True)
    ) == [e[:3] for e in expected]


def test_postgres_outage_mid_run_loses_and_doubles_nothing(
    fresh_db: str, predictions: list[Prediction]
) -> None:
    """The server goes away for 3 s in the middle of a run (through a gate: the shared server
    others use is never stopped; tests/flows/test_fault_matrix.py stops a private one)."""
    stream = predictions + [moved(p, 30) for p in predictions]
    info = psycopg.conninfo.conninfo_to_dict(fresh_db)
    gate = Gate((str(info.get("host", "127.0.0.1")), int(info.get("port", 5432))))
    gate.open()
    sink = PostgresSink(
        psycopg.conninfo.make_conninfo(fresh_db, host="127.0.0.1", port=gate.port), retry_for_s=90
    )
    sink.setup()
    outage = threading.Thread(target=lambda: (gate.close(), time.sleep(3), gate.open()))
    try:
        for i, batch in enumerate(batches(stream, 50)):
            if i == 3:
                outage.start()
                time.sleep(0.5)  # the server is going down while the run continues
            sink.write_batch(batch)
    finally:
        outage.join()
        sink.close()
        gate.close()
    assert sink.retries > 0  # the outage really happened during the run
    assert len(rows(fresh_db, "predictions_log")) == len(stream)
    latest = rows(fresh_db, "predictions_latest")
    assert len(latest) == len(predictions)
    assert {r[5] for r in latest} == {moved(p, 30).prediction_id for p in predictions}


def test_sink_gives_up_loudly_when_the_server_stays_away(predictions: list[Prediction]) -> None:
    sink = PostgresSink("postgresql://propstream:propstream@127.0.0.1:1/propstream", retry_for_s=1)
    with pytest.raises(SinkError, match="unreachable for 1s"):
        sink.write_batch(predictions[:5])


def test_parquet_reader_equals_predictions_latest(
    fresh_db: str, tmp_path: Path, predictions: list[Prediction]
) -> None:
    stream = predictions + [moved(p, 30) for p in predictions[::2]]
    redelivered = stream + stream[100:400]  # a crash re-sends part of the run, split differently
    grades = [grade(p, None) for p in predictions]
    with PostgresSink(fresh_db) as pg, ParquetSink(tmp_path / "lake") as lake:
        for batch in [*batches(redelivered, 120), grades[:300], grades]:
            pg.write_batch(batch)
            lake.write_batch(batch)
    frame = read_latest(tmp_path / "lake")
    assert frame.height == len(predictions)
    parquet_rows = [tuple(r[c] for c in COLUMNS.split(", ")) for r in frame.iter_rows(named=True)]
    assert sorted(parquet_rows, key=lambda r: (*r[:5], r[6])) == rows(fresh_db, "predictions_latest")
    assert read_grades(tmp_path / "lake").height == len(predictions)
    assert not list((tmp_path / "lake").rglob("*.tmp"))  # written atomically


def test_migrations_from_empty_then_no_op_and_newer_refused(
    postgres_dsn: str, fresh_db: str, settings
) -> None:  # type: ignore[no-untyped-def]
    assert migrate(fresh_db) == []  # fresh_db was migrated from empty: a second run does nothing
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        versions = conn.execute("SELECT version FROM propstream_schema ORDER BY 1").fetchall()
        assert versions == [(v,) for v in range(1, code_schema_version() + 1)]
        conn.execute("INSERT INTO propstream_schema (version, name) VALUES (99, 'future.sql')")
    with pytest.raises(MigrationError, match="newer than this code"):
        migrate(fresh_db)


def test_the_reader_role_cannot_write(fresh_db: str, settings) -> None:  # type: ignore[no-untyped-def]
    reader = psycopg.conninfo.make_conninfo(
        settings.postgres_reader_dsn.get_secret_value(),
        dbname=psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"],
    )
    with psycopg.connect(reader) as conn:
        assert conn.execute("SELECT count(*) FROM predictions_latest").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO grades SELECT * FROM grades")


def test_a_withdrawn_prediction_leaves_latest_and_grades_in_both_sinks(
    fresh_db: str, tmp_path: Path, predictions: list[Prediction]
) -> None:
    """A rewind's withdrawal (scoring/rewind.py): the id stays in the log, marked; the latest
    table and the grades hold what they held before it was emitted, in Postgres and Parquet."""
    earlier = predictions[:20]
    later = [moved(p, 30) for p in earlier[:10]]
    withdrawn = [p.model_copy(update={"withdrawn": True}) for p in later]
    with PostgresSink(fresh_db) as pg, ParquetSink(tmp_path / "lake") as lake:
        for batch in (earlier, later, [grade(p, None) for p in later], [*withdrawn, *earlier[:10]]):
            pg.write_batch(batch)
            lake.write_batch(batch)
    ids = {p.prediction_id for p in earlier}
    assert {r[5] for r in rows(fresh_db, "predictions_latest")} == ids
    assert set(read_latest(tmp_path / "lake")["prediction_id"]) == ids
    assert read_grades(tmp_path / "lake").is_empty()
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM grades").fetchone() == (0,)
        marked = conn.execute("SELECT prediction_id FROM predictions_log WHERE withdrawn").fetchall()
    assert {r[0] for r in marked} == {p.prediction_id for p in later}
