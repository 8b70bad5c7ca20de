"""Every endpoint on a database filled by a replay of a shipped day, checked against the
tables themselves (read with the writer's connection, computed here independently)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from dashboard.queries import Reader
from tests.dashboard.conftest import DAY
from tests.stack import fetch


def _log(dsn: str) -> list[tuple]:  # type: ignore[type-arg]
    return fetch(
        dsn,
        "SELECT player_id, game_key, book, market, as_of, prediction_id FROM predictions_log "
        f"WHERE model = 'champion' AND game_date = '{DAY}'",
    )


def test_health_models_and_dates(client: TestClient, slate_db: str) -> None:
    assert client.get("/api/health").json() == {"database": "ok", "live": None}
    assert client.get("/api/models").json() == {"models": ["champion", "shadow"], "default": "champion"}
    dates = client.get("/api/dates").json()
    games, props = fetch(
        slate_db,
        "SELECT count(DISTINCT game_key), count(*) FROM predictions_latest WHERE model = 'champion'",
    )[0]
    assert dates == [{"game_date": DAY, "games": games, "props": props}]
    assert games == 9 and props > 500


def test_live_slate_is_predictions_latest_with_its_grades(client: TestClient, slate_db: str) -> None:
    body = client.get("/api/slate", params={"date": DAY}).json()
    assert body["model"] == "champion" and body["as_of"] is None
    latest = fetch(
        slate_db,
        f"SELECT prediction_id FROM predictions_latest WHERE model = 'champion' AND game_date = '{DAY}'",
    )
    assert sorted(r["prediction_id"] for r in body["rows"]) == sorted(r[0] for r in latest)
    assert all(r["player_name"] for r in body["rows"])  # names from the directory, for every row
    graded = fetch(
        slate_db,
        f"SELECT result, count(*) FROM grades WHERE model = 'champion' AND game_date = '{DAY}' GROUP BY 1",
    )
    assert Counter(r["result"] for r in body["rows"] if r["result"]) == dict(graded)
    shadow = client.get("/api/slate", params={"date": DAY, "model": "shadow"}).json()["rows"]
    assert {r["model"] for r in shadow} == {"shadow"} and len(shadow) == len(body["rows"])


def test_as_of_slate_is_the_newest_logged_prediction_per_key_by_then(
    client: TestClient, slate_db: str
) -> None:
    log = _log(slate_db)
    times = sorted({r[4] for r in log})
    assert times  # the shipped odds have one snapshot a day: the browser test moves a line
    before = times[0] - timedelta(seconds=1)
    assert client.get("/api/slate", params={"date": DAY, "as_of": before.isoformat()}).json()["rows"] == []
    for moment in {times[len(times) // 2], times[-1]}:
        expected: dict[tuple, tuple] = {}  # type: ignore[type-arg]
        for player, game, book, market, as_of, pid in log:
            if as_of <= moment and (
                (player, game, book, market) not in expected
                or as_of > expected[(player, game, book, market)][0]
            ):
                expected[(player, game, book, market)] = (as_of, pid)
        body = client.get("/api/slate", params={"date": DAY, "as_of": moment.isoformat()}).json()
        assert body["as_of"] == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
        got = {
            (r["player_id"], r["game_key"], r["book"], r["market"]): r["prediction_id"] for r in body["rows"]
        }
        assert got == {k: v[1] for k, v in expected.items()}
        assert all(r["result"] is None for r in body["rows"])  # grades are not known as of a moment


def test_prop_history_timeline_and_grades(client: TestClient, slate_db: str) -> None:
    row = client.get("/api/slate", params={"date": DAY}).json()["rows"][0]
    params = {"player_id": row["player_id"], "game_key": row["game_key"], "market": row["market"]}
    body = client.get("/api/prop", params=params).json()
    assert body["player_name"] == row["player_name"]
    logged = fetch(
        slate_db,
        "SELECT book, as_of FROM predictions_log "
        "WHERE model = 'champion' AND player_id = %s AND game_key = %s",
        (row["player_id"], row["game_key"]),
    )
    assert sorted((h["book"], h["as_of"]) for h in body["history"]) == sorted(
        (b, t.astimezone(UTC).isoformat().replace("+00:00", "Z")) for b, t in logged
    )
    assert [h["as_of"] for h in body["history"]] == sorted(h["as_of"] for h in body["history"])
    kinds = Counter(e["kind"] for e in body["timeline"])
    assert kinds["opened"] == len({b for b, _ in logged})  # each book opens once
    assert (
        kinds["graded"]
        == len(body["grades"])
        == fetch(
            slate_db,
            "SELECT count(*) FROM grades WHERE model = 'champion' AND player_id = %s AND game_key = %s",
            (row["player_id"], row["game_key"]),
        )[0][0]
    )


def test_bad_parameters_are_refused_and_unknown_props_are_404(client: TestClient) -> None:
    assert client.get("/api/prop", params={"player_id": 1, "game_key": "20251110-AAA@BBB"}).status_code == 404
    injected = {"player_id": 1, "game_key": "20251110-X@Y'; DROP TABLE grades; --"}
    assert client.get("/api/prop", params=injected).status_code == 422
    assert client.get("/api/slate", params={"date": "yesterday"}).status_code == 422
    assert client.get("/api/slate", params={"date": DAY, "model": "a b"}).status_code == 422
    assert client.get("/api/stream").status_code == 503  # started without Kafka: says so


def test_performance_is_the_daily_view(client: TestClient, slate_db: str) -> None:
    body = client.get("/api/performance").json()
    view = fetch(
        slate_db,
        "SELECT model, game_date, n_graded, hit_rate::float8, brier_model::float8, brier_market::float8 "
        "FROM model_performance_daily ORDER BY 2, 1",
    )
    assert [(r["model"], r["game_date"], r["n_graded"]) for r in body] == [
        (m, d.isoformat(), n) for m, d, n, *_ in view
    ]
    for got, (*_, hit, brier, market) in zip(body, view, strict=True):
        assert got["hit_rate"] == pytest.approx(hit) and got["brier_model"] == pytest.approx(brier)
        assert got["brier_market"] == pytest.approx(market)


def test_pages_are_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    for path in ("/", "/prop", "/models", "/static/slate.js", "/static/vendor/uPlot.iife.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_the_reader_never_writes_even_with_a_writers_dsn(slate_db: str) -> None:
    reader = Reader(SecretStr(slate_db))  # the owner's DSN: the connection itself is read-only
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader._all("DELETE FROM grades")
    assert fetch(slate_db, "SELECT count(*) FROM grades")[0][0] > 0
