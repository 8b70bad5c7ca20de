"""`propstream health` on a replayed shipped week: its counts per game equal counts computed
independently from the tables with SQL (predictions by player id, dead letters read as JSON)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from monitoring.coverage import slate_health
from monitoring.inputs import schedule
from tests.stack import database, fetch, load, run_cli

DAY = "2025-11-10"
_INPUT_NAMES = ("nba.games", "odds.games", "odds.props", "nba.boxscores")

# props predicted by both active models, and those the champion calls actionable, per game
_PREDICTED = """
SELECT game_key, count(*), count(*) FILTER (WHERE champion_actionable)
FROM (
    SELECT player_id, game_key, book, market,
           bool_or(actionable) FILTER (WHERE model = 'champion') AS champion_actionable
    FROM predictions_latest WHERE game_date = %s
    GROUP BY 1, 2, 3, 4 HAVING count(DISTINCT model) = 2
) p GROUP BY 1
"""
# props of the day dead-lettered for an unsupported market, per game: the prop as the book
# named it, the game key from the event's own teams and tip-off (US Eastern date)
_UNSUPPORTED = """
SELECT game, count(*) FROM (
    SELECT DISTINCT o->>'player_name', o->>'book', o->>'market',
           to_char((o->>'tipoff')::timestamptz AT TIME ZONE 'America/New_York', 'YYYYMMDD')
               || '-' || (o->>'away_team') || '@' || (o->>'home_team') AS game
    FROM (SELECT preview::jsonb AS o FROM dead_letters
          WHERE reason = 'market:unsupported' AND source = %s) d
) p WHERE game LIKE %s GROUP BY 1
"""
_GRADED = """
SELECT game_key, count(*) FROM (SELECT DISTINCT player_id, game_key, book, market FROM grades
WHERE game_date = %s) g GROUP BY 1
"""

# the newest arrival per game and book: when the worker emitted the latest predictions
_ARRIVAL = "SELECT game_key, book, max(emitted_at) FROM predictions_latest WHERE game_date = %s GROUP BY 1, 2"

_STALE = """
SELECT game_key, book, count(*) FROM (
    SELECT player_id, game_key, book, market, max(as_of) AS newest FROM predictions_latest
    WHERE game_date = %s GROUP BY 1, 2, 3, 4
) p WHERE newest < %s GROUP BY 1, 2
"""


def test_health_counts_equal_the_tables(stack: dict[str, str], postgres_dsn: str, tmp_path: Path) -> None:
    load(stack, "--max-speed")
    db = database(postgres_dsn, f"health_{tmp_path.name[-12:]}".lower())
    run_cli(stack, "replay", "--source", "kafka", dsn=db)
    report = json.loads(run_cli(stack, "health", "--date", DAY, "--json", dsn=db).stdout)
    games = {g["game"]: g for g in report["games"]}
    prefix = stack["PROPSTREAM_TOPIC_PREFIX"]
    props_topic = f"{prefix}odds.props"

    predicted = {game: (n, actionable) for game, n, actionable in fetch(db, _PREDICTED, (DAY,))}
    assert len(predicted) >= 5
    assert {g: (v["predicted"], v["actionable"]) for g, v in games.items() if v["predicted"]} == predicted
    unsupported = dict(fetch(db, _UNSUPPORTED, (props_topic, DAY.replace("-", "") + "-%")))
    assert (
        unsupported
        and {
            g: v["without_prediction"]["market:unsupported"]
            for g, v in games.items()
            if "market:unsupported" in v["without_prediction"]
        }
        == unsupported
    )
    assert {g: v["graded"] for g, v in games.items() if v["graded"]} == dict(fetch(db, _GRADED, (DAY,)))
    arrivals = {
        (g, b): datetime.fromisoformat(t)
        for g, v in games.items()
        for b, t in v["last_arrival_by_book"].items()
    }
    assert arrivals and arrivals == {(g, b): t for g, b, t in fetch(db, _ARRIVAL, (DAY,))}
    for game in games.values():  # every prop is predicted or has a reason, and has a book
        assert game["props"] == game["predicted"] + sum(game["without_prediction"].values())
        assert game["props"] == sum(game["props_by_book"].values())
        assert set(game["without_prediction"]) <= {"market:unsupported", "unknown_player"}
        predicted_by_some = game["predicted"] + sum(
            n for reason, n in game["without_prediction"].items() if reason.startswith("missing_model:")
        )
        assert game["graded"] + game["ungraded"] == predicted_by_some
        assert game["grading_gap"] == (game["ungraded"] > 0)  # a past date: past the delay

    # within the grading delay nothing is a gap, whatever is ungraded
    early = slate_health(
        db,
        date.fromisoformat(DAY),
        ["champion", "shadow"],
        "champion",
        props_topic,
        now=datetime(2025, 11, 11, 6, tzinfo=UTC),
    )
    assert not any(g.grading_gap for g in early.games)

    # freshness by topic from Kafka: the loaded week's last events (the loader stamps event time)
    newest = report["newest_event_by_topic"]
    assert set(newest) == {f"{stack['PROPSTREAM_TOPIC_PREFIX']}{t}" for t in _INPUT_NAMES}
    assert all("2025-11-11" <= str(stamp) < "2025-11-13" for stamp in newest.values()), newest

    # stale quotes before tip-off: at 20:00 UTC on the day, with quotes older than an hour stale,
    # each book's count per game equals the props whose newest prediction is that old (SQL)
    at = datetime(2025, 11, 10, 20, tzinfo=UTC)
    games_of_day = schedule(
        stack["PROPSTREAM_KAFKA_BOOTSTRAP"], f"{prefix}nba.games", date.fromisoformat(DAY)
    )
    assert set(games_of_day) == set(games)
    assert all(tipoff is not None and tipoff > at for tipoff, _ in games_of_day.values())
    assert {status for _, status in games_of_day.values()} == {"final"}  # the newest message
    before_tipoff = {game: (tipoff, "scheduled") for game, (tipoff, _) in games_of_day.items()}
    live = slate_health(
        db,
        date.fromisoformat(DAY),
        ["champion", "shadow"],
        "champion",
        props_topic,
        now=at,
        games_of_day=before_tipoff,  # as the topic stood at 20:00
        stale_after=timedelta(hours=1),
    )
    stale = {(g.game, book): n for g in live.games for book, n in g.stale_by_book.items() if n}
    assert stale and stale == {
        (game, book): n for game, book, n in fetch(db, _STALE, (DAY, at - timedelta(hours=1)))
    }
    assert all(set(g.stale_by_book) == set(g.props_by_book) for g in live.games)  # 0 where none
    # and a predicted prop on a stale quote is one not to act on now, whatever the model said
    assert sum(g.not_actionable.get("stale_quote", 0) for g in live.games) == sum(stale.values())

    table = run_cli(stack, "health", "--date", DAY, dsn=db).stdout
    assert "Props without a prediction" in table and "market:unsupported" in table
    first = next(iter(sorted(games)))
    assert first in table


def test_a_date_that_is_not_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--date", "11/10/2025"]) == 2
    err = capsys.readouterr().err
    assert "--date '11/10/2025' is not a date: give YYYY-MM-DD" in err and "Traceback" not in err
