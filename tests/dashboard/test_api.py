"""Every endpoint on a database filled by a replay of a shipped day, checked against the
tables themselves (read with the writer's connection, computed here independently)."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from dashboard.queries import Reader
from tests.dashboard import DAY
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


OUT_OF_RANGE = [
    ("/api/performance", {"to": "0001-01-02"}, "to"),  # issue 14: was a 500 (date overflow)
    ("/api/performance", {"from": "9999-12-31"}, "from"),
    ("/api/performance", {"from": "2025-11-12", "to": "2025-11-10"}, "from"),
    ("/api/slate", {"date": "0001-01-01"}, "date"),
    ("/api/slate", {"date": DAY, "as_of": "9999-12-31T23:59:59-14:00"}, "as_of"),
    ("/api/slate", {"date": DAY, "as_of": "0001-01-01T00:00:00+14:00"}, "as_of"),
    ("/api/slate", {"date": DAY, "market": "corners"}, "market"),
    ("/api/prop", {"player_id": 2**63, "game_key": "20251110-BOS@NYK"}, "player_id"),
    ("/api/prop", {"player_id": 0, "game_key": "20251110-BOS@NYK"}, "player_id"),
    ("/api/prop", {"player_id": 1, "game_key": "99999999-BOS@NYK"}, "game_key"),
    ("/api/dates", {"model": "x" * 65}, "model"),
]


@pytest.mark.parametrize(
    ("path", "params", "name"), OUT_OF_RANGE, ids=[f"{p}-{n}" for p, _, n in OUT_OF_RANGE]
)
def test_a_parameter_out_of_range_is_a_422_with_one_line(
    client: TestClient, path: str, params: dict[str, object], name: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail.startswith(name), detail


def test_performance_is_the_daily_view_with_in_sample_grades_apart(client: TestClient, slate_db: str) -> None:
    every = client.get("/api/performance").json()
    body = [r for r in every if not r["in_sample"]]
    in_sample = fetch(
        slate_db,
        "SELECT model, game_date, count(*) FILTER (WHERE result <> 'VOID') FROM grades WHERE in_sample "
        "GROUP BY 1, 2 ORDER BY 2, 1",
    )
    assert [(r["model"], r["game_date"], r["n_graded"]) for r in every if r["in_sample"]] == [
        (m, d.isoformat(), n) for m, d, n in in_sample
    ]
    assert {r["model"] for r in body} == {"champion"} and {m for m, *_ in in_sample} == {"shadow"}
    assert all(r["model_versions"] for r in every)
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


def _best_of_books(rows: list[dict[str, Any]], side: str) -> dict[str, Any] | None:
    """The best quote of a side, computed here: the model's EV, then price, line and book."""
    over = side == "OVER"
    priced = [r for r in rows if r["over_price" if over else "under_price"] is not None]
    if not priced:
        return None
    top = sorted(
        priced,
        key=lambda r: (
            -r["ev_over" if over else "ev_under"],
            -r["over_price" if over else "under_price"],
            r["line"] if over else -r["line"],
            r["book"],
        ),
    )[0]
    return {"book": top["book"], "line": top["line"], "price": top["over_price" if over else "under_price"]}


def test_each_prop_row_is_the_best_of_its_books_rows(client: TestClient) -> None:
    body = client.get("/api/slate", params={"date": DAY}).json()
    books: dict[str, list[dict[str, Any]]] = {}
    for r in body["rows"]:
        books.setdefault(f"{r['player_id']}|{r['game_key']}|{r['market']}", []).append(r)
    assert len(body["props"]) == len(books) > 100
    assert max(len(v) for v in books.values()) >= 6  # most props are quoted at several books
    for prop in body["props"]:
        rows = books[prop["key"]]
        assert prop["books"] == len(rows) and prop["consensus"] == statistics.median(r["line"] for r in rows)
        assert prop["best_over"] == _best_of_books(rows, "OVER")
        assert prop["best_under"] == _best_of_books(rows, "UNDER")
        recommended = [r for r in rows if r["recommendation"] != "PASS"]
        if recommended:
            top = max(r["ev_over"] if r["recommendation"] == "OVER" else r["ev_under"] for r in recommended)
            assert prop["pick"] != "PASS" and prop["ev"] == top
        else:
            assert prop["pick"] == "PASS"
        shown = next(r for r in rows if r["book"] == prop["book"])
        assert (prop["line"], prop["p_over"], prop["result"]) == (
            shown["line"],
            shown["p_over"],
            shown["result"],
        )


def test_every_market_can_be_chosen_and_an_unknown_one_is_refused(client: TestClient, slate_db: str) -> None:
    everything = client.get("/api/slate", params={"date": DAY}).json()
    points = client.get("/api/slate", params={"date": DAY, "market": "points"}).json()
    assert (
        points["rows"] == everything["rows"] and points["market"] == "points"
    )  # the shipped props are points
    assert everything["markets"] == {"points": len(everything["props"])}
    for market in ("rebounds", "assists", "threes", "points_rebounds_assists", "blocks", "steals"):
        body = client.get("/api/slate", params={"date": DAY, "market": market}).json()
        assert body["rows"] == body["props"] == []
        assert client.get("/api/performance", params={"market": market}).json() == []
        assert client.get("/api/dates", params={"market": market}).json() == []
    assert (
        client.get("/api/performance", params={"market": "points"}).json()
        == client.get("/api/performance").json()
    )
    assert client.get("/api/slate", params={"date": DAY, "market": "corners"}).status_code == 422
    assert (
        client.get(
            "/api/prop", params={"player_id": 1, "game_key": "20251110-A@B", "market": "x"}
        ).status_code
        == 422
    )


def test_the_pages_answer_head_and_books_have_their_names(client: TestClient) -> None:
    for path in ("/", "/prop", "/models"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b"", path
    books = client.get("/api/meta").json()["books"]
    assert books["williamhill_us"]["name"] == "Caesars" and books["betonlineag"]["name"] == "BetOnline"
    colours = [b["color"] for b in books.values()]
    assert len(set(colours)) == len(colours)  # every known book its own colour
