"""Closing-line value on a replayed day whose lines move: the shipped 2025-11-10 with two more
snapshots of every prop before tip-off and one after it, replayed from files into Postgres.
The dashboard's CLV (per prediction on the prop page, per model and day on the models page) is
checked against a calculation made here from the prediction log and the tip-off times alone."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import SecretStr

from cli.settings import SHIPPED_DATA
from connectors.adapters import Record
from dashboard.app import DashboardConfig, create_app
from tests.dashboard import DAY, NO_KAFKA_HEALTH
from tests.stack import cli_env, database, reader_dsn, run_cli
from vocabulary.events import PropLine

PRICES = [(-110.0, -110.0), (-125.0, 105.0), (105.0, -125.0), (-115.0, -105.0), (-105.0, -115.0)]
MOVES = {"2025-11-10T20:00:00": (-1.0, 0.0, 1.0), "2025-11-10T22:30:00": (-1.0, 0.0, 0.0, 1.0)}
AFTER_TIPOFF = timedelta(minutes=20)  # a live line: never a close
LIVE_LINES = {"2025-11-11T00:00:00Z", "2025-11-11T00:10:00Z"}  # the games quoted after tip-off too


def _pick(options: tuple[Any, ...] | list[Any], *key: str) -> Any:
    return options[zlib.crc32("|".join(key).encode()) % len(options)]


def _moved_props(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each quote of the day at two later snapshots, its line moved by the same steps at every
    line of a (player, book) and a new price pair; in two games, once more after tip-off."""
    out = []
    shift: dict[tuple[str, str], float] = defaultdict(float)
    for snapshot, steps in MOVES.items():
        for key in {(r["player"], r["bookmaker"]) for r in rows}:
            shift[key] += _pick(steps, snapshot, *key)
        for r in rows:
            over, under = _pick(PRICES, snapshot, r["player"], r["bookmaker"], r["line"])
            line = float(r["line"]) + shift[(r["player"], r["bookmaker"])]
            out.append(
                r
                | {
                    "snapshot_file_ts": snapshot,
                    "line": str(line),
                    "over_odds": str(over),
                    "under_odds": str(under),
                }
            )
    for r in (r for r in rows if r["game_time"] in LIVE_LINES):
        tipoff = datetime.fromisoformat(r["game_time"].replace("Z", "+00:00"))
        late = (tipoff + AFTER_TIPOFF).strftime("%Y-%m-%dT%H:%M:%S")
        out.append(r | {"snapshot_file_ts": late, "line": str(float(r["line"]) + 3.0)})
    return out


def _data_folder(root: Path) -> Path:
    """The shipped data (linked) and a file of the day's props, moved."""
    for src in SHIPPED_DATA.glob("*/*.csv.gz"):
        (root / src.parent.name).mkdir(parents=True, exist_ok=True)
        (root / src.parent.name / src.name).symlink_to(src)
    with gzip.open(SHIPPED_DATA / "odds" / "props_points_2025_26.csv.gz", "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        day = [r for r in reader if r["snapshot_file_ts"] == f"{DAY}T17:00:00"]
    assert len(day) > 1000
    with (root / "odds" / "props_moves.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(_moved_props(day))
    return root


@pytest.fixture(scope="module")
def moves_db(
    postgres_dsn: str, kafka_bootstrap: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    tmp = tmp_path_factory.mktemp("moves")
    data = _data_folder(tmp / "data")
    env = cli_env(kafka_bootstrap, "unused.", models_dir, tmp / "out") | {"PROPSTREAM_DATA_DIR": str(data)}
    dsn = database(postgres_dsn, "dashboard_moves")
    run_cli(env, "replay", "--source", "files", "--from", DAY, "--to", "2025-11-11", "--postgres", dsn=dsn)
    return dsn


@pytest.fixture(scope="module")
def moves_client(moves_db: str) -> Iterator[TestClient]:
    config = DashboardConfig(
        SecretStr(reader_dsn(moves_db)), None, "unused", "unused", "champion", NO_KAFKA_HEALTH
    )
    with TestClient(create_app(config)) as client:
        yield client


def _log(dsn: str) -> list[dict[str, Any]]:
    """The day's prediction log, of the games that were graded (a game's close is known then)."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM predictions_log WHERE game_date = %s "
            "AND game_key IN (SELECT game_key FROM grades WHERE game_date = %s)",
            (DAY, DAY),
        ).fetchall()


@pytest.fixture(scope="module")
def tipoff(shipped_records: list[Record]) -> dict[str, datetime]:
    """Each game's tip-off, from the shipped prop events."""
    return {r.event.game_key: r.event.tipoff for r in shipped_records if isinstance(r.event, PropLine)}


def expected_clv(
    log: list[dict[str, Any]], tipoff: dict[str, datetime]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per prediction: against the last quote at its book before tip-off, on its side."""
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in log:
        by_key[(r["model"], r["player_id"], r["game_key"], r["book"], r["market"])].append(r)
    out = {}
    for rows in by_key.values():
        before = [r for r in rows if r["as_of"] < tipoff[r["game_key"]]]
        if not before:
            continue
        close = max(before, key=lambda r: r["as_of"])
        for r in before:
            side = (
                r["recommendation"]
                if r["recommendation"] != "PASS"
                else ("OVER" if r["p_over"] >= r["p_under"] else "UNDER")
            )
            sign = 1 if side == "OVER" else -1
            prob = None
            if r["market_p_over"] is not None and close["market_p_over"] is not None:
                prob = sign * (close["market_p_over"] - r["market_p_over"])
            out[(r["prediction_id"],)] = {
                "side": side,
                "clv_points": sign * (close["line"] - r["line"]),
                "clv_prob": prob,
                "close_line": close["line"],
                "row": r,
            }
    return out


def test_clv_of_every_prediction_is_against_the_last_quote_before_tip_off(
    moves_db: str, moves_client: TestClient, tipoff: dict[str, datetime]
) -> None:
    log = _log(moves_db)
    expected = expected_clv(log, tipoff)
    moved = [e for e in expected.values() if e["clv_points"] != 0]
    assert (
        len(moved) > 100
        and any(e["clv_points"] > 0 for e in moved)
        and any(e["clv_points"] < 0 for e in moved)
    )

    props = {(r["player_id"], r["game_key"], r["market"]) for r in log if r["model"] == "champion"}
    got: dict[tuple[Any, ...], dict[str, Any]] = {}
    for player_id, game_key, market in props:
        body = moves_client.get(
            "/api/prop", params={"player_id": player_id, "game_key": game_key, "market": market}
        ).json()
        for c in body["clv"]:
            got[(c["prediction_id"],)] = c
        assert {c["book"]: c["line"] for c in body["closes"]} == {
            c["book"]: c["close_line"] for c in body["clv"]
        }
    champion = {k: v for k, v in expected.items() if v["row"]["model"] == "champion"}
    assert set(got) == set(champion)
    for key, want in champion.items():
        assert got[key]["side"] == want["side"], key
        assert got[key]["close_line"] == want["close_line"], key
        assert got[key]["clv_points"] == pytest.approx(want["clv_points"]), key
        assert got[key]["clv_prob"] == pytest.approx(want["clv_prob"]), key


def test_clv_per_model_and_day_summarises_every_prediction_and_the_picks(
    moves_db: str, moves_client: TestClient, tipoff: dict[str, datetime]
) -> None:
    expected = expected_clv(_log(moves_db), tipoff)
    rows = {(r["model"], r["game_date"]): r for r in moves_client.get("/api/performance").json()}
    for model in ("champion", "shadow"):
        mine = [e for e in expected.values() if e["row"]["model"] == model]
        bets = [e for e in mine if e["row"]["recommendation"] != "PASS"]
        got = rows[(model, DAY)]
        assert got["n_clv"] == len(mine) and got["n_clv_bets"] == len(bets)
        assert got["clv_points"] == pytest.approx(sum(e["clv_points"] for e in mine) / len(mine))
        probs = [e["clv_prob"] for e in mine if e["clv_prob"] is not None]
        assert got["clv_prob"] == pytest.approx(sum(probs) / len(probs))
        beat = [e for e in bets if e["clv_points"] > 0 or (e["clv_points"] == 0 and (e["clv_prob"] or 0) > 0)]
        assert got["beat_close_bets"] == pytest.approx(len(beat) / len(bets))
        assert got["clv_points_bets"] == pytest.approx(sum(e["clv_points"] for e in bets) / len(bets))


def test_a_game_quoted_after_tip_off_is_still_graded_so_it_has_a_close(
    moves_db: str, tipoff: dict[str, datetime]
) -> None:
    with psycopg.connect(moves_db) as conn:
        quoted = conn.execute(
            "SELECT game_key, max(as_of) FROM predictions_log WHERE game_date = %s GROUP BY 1", (DAY,)
        ).fetchall()
        graded = {
            k for (k,) in conn.execute("SELECT DISTINCT game_key FROM grades WHERE game_date = %s", (DAY,))
        }
    live = {k for k, last in quoted if last >= tipoff[k]}
    assert live == {k for k, _ in quoted if tipoff[k].strftime("%Y-%m-%dT%H:%M:%SZ") in LIVE_LINES}
    assert live  # two games were quoted after tip-off too
    assert graded == {k for k, _ in quoted}  # every game is graded, live line or not


def test_every_graded_prediction_is_in_the_log(moves_db: str) -> None:
    with psycopg.connect(moves_db) as conn:
        missing = conn.execute(
            "SELECT count(*) FROM grades g WHERE NOT EXISTS "
            "(SELECT 1 FROM predictions_log p WHERE p.prediction_id = g.prediction_id)"
        ).fetchone()
    assert missing == (0,)
