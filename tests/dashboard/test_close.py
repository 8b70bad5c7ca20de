"""The close is taken at tip-off, which every prediction now carries: until tip-off a prop's
closing-line value is against each book's latest quote so far, after it against the last quote
before tip-off; the prop page marks the close at tip-off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from connectors.postgres import PostgresSink
from dashboard.app import DashboardConfig, create_app
from scoring.evaluate import main_line_requests, make_model
from scoring.scorer import Scorer
from tests.dashboard import DAY, NO_KAFKA_HEALTH
from tests.stack import reader_dsn
from vocabulary.records import Prediction, prediction_id


def _quote(p: Prediction, model: str, hours: int, step: float, tipoff: datetime) -> Prediction:
    """`p` for `model`, `hours` after its time, its line moved by `step`, with the tip-off."""
    as_of = p.as_of + timedelta(hours=hours)
    pid = prediction_id(
        model=model, player_id=p.player_id, game_key=p.game_key, book=p.book, market=p.market, as_of=as_of
    )
    update = {"model": model, "as_of": as_of, "line": p.line + step, "prediction_id": pid, "tipoff": tipoff}
    return p.model_copy(update=update)


@pytest.fixture
def close_client(fresh_db: str, history: tuple) -> Iterator[tuple[TestClient, Prediction]]:  # type: ignore[type-arg]
    """One book's prop quoted three times, 0, 1 and 3 hours after its first quote: for model
    `upcoming` the game tips off tomorrow (wall clock), for `played` two hours after the first."""
    data, store, _ = history
    requests = main_line_requests(store, date.fromisoformat(DAY))[:1]
    (first,) = Scorer(make_model("m", "sqrt_uncertainty", data, {"iterations": 20})[0]).score(requests)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    played = first.as_of + timedelta(hours=2)
    rows = [
        _quote(first, model, hours, step, tipoff)
        for model, tipoff in (("upcoming", tomorrow), ("played", played))
        for hours, step in ((0, 0.0), (1, 1.0), (3, 2.0))
    ]
    with PostgresSink(fresh_db) as sink:
        sink.write_batch(rows)
    config = DashboardConfig(
        SecretStr(reader_dsn(fresh_db)), None, "unused", "unused", "upcoming", health=NO_KAFKA_HEALTH
    )
    with TestClient(create_app(config)) as client:
        yield client, first


def test_clv_is_so_far_until_tip_off_then_against_the_close(
    close_client: tuple[TestClient, Prediction],
) -> None:
    client, first = close_client
    query = {"player_id": first.player_id, "game_key": first.game_key, "market": first.market}
    upcoming = client.get("/api/prop", params=query | {"model": "upcoming"}).json()
    assert [c["close_kind"] for c in upcoming["clv"]] == ["so far"] * 3
    assert [c["close_line"] for c in upcoming["clv"]] == [first.line + 2.0] * 3  # the latest quote
    sign = 1 if upcoming["clv"][0]["side"] == "OVER" else -1
    assert [c["clv_points"] for c in upcoming["clv"]] == [sign * 2.0, sign * 1.0, 0.0]

    played = client.get("/api/prop", params=query | {"model": "played"}).json()
    assert [c["close_kind"] for c in played["clv"]] == ["close"] * 2  # the quote after tip-off has none
    assert [c["close_line"] for c in played["clv"]] == [first.line + 1.0] * 2  # the last before tip-off
    (close,) = played["closes"]
    tipoff = first.as_of + timedelta(hours=2)
    assert close["kind"] == "close" and datetime.fromisoformat(close["tipoff"]) == tipoff
    assert datetime.fromisoformat(close["as_of"]) == first.as_of + timedelta(hours=1)
    assert {datetime.fromisoformat(r["tipoff"]) for r in played["history"]} == {tipoff}
