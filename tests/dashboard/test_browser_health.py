"""The health report on real shipped data with inputs withheld, through a real files replay
into Postgres: one game of the day without its game lines shows its props' reason as missing
game lines, in `propstream health` and on the dashboard's health page; one game whose players
have no box scores (so no player is known) has props and no predictions, and the page shows it
as an alert. The page is checked in Debian's chromium (tests/dashboard/browser.py)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from prometheus_client import REGISTRY

from cli.health import config, publish
from cli.settings import SHIPPED_DATA, Settings
from monitoring.inputs import schedule
from monitoring.report import slate_report
from tests.dashboard import DAY
from tests.dashboard.browser import SHOTS, Live, open_slate, publish_move, serve, stop, wait_for_line
from tests.stack import cli_env, database, fetch, run_cli
from vocabulary.events import PropLine, game_key, us_game_date
from vocabulary.keys import canonical_player
from vocabulary.teams import resolve_team

# the champion's latest predictions of a game, and those whose game context defaulted for want
# of game lines (the feature store's provenance, as the sink wrote it)
_PREDICTED = """
SELECT count(*), count(*) FILTER (WHERE 'game_total=no_game_lines' = ANY(defaulted) AND NOT actionable)
FROM predictions_latest WHERE model = 'champion' AND game_key = %s
"""
# the game's props dead-lettered for an unknown player, as the book named them (teams as the
# event's canonical abbreviations, the date as the US lists it)
_UNKNOWN = """
SELECT count(DISTINCT (preview::jsonb->>'player_name', preview::jsonb->>'book', preview::jsonb->>'market'))
FROM dead_letters WHERE reason = 'unknown_player' AND preview::jsonb->>'home_team' = %s
  AND preview::jsonb->>'away_team' = %s
  AND ((preview::jsonb->>'tipoff')::timestamptz AT TIME ZONE 'America/New_York')::date = %s
"""


@dataclass(frozen=True)
class Withheld:
    env: dict[str, str]
    db: str
    no_lines: str  # the game key whose game lines were withheld
    no_players: str  # the game key whose players' box scores were withheld
    no_players_teams: tuple[str, str]  # its (home, away)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write(text.getvalue())


def _games_of_day(props: Path) -> dict[str, tuple[str, str, str]]:
    """event id -> (game key, home, away) of the day's games, from the shipped points props."""
    header, rows = _rows(props)
    col = {name: i for i, name in enumerate(header)}
    out = {}
    for row in rows:
        tipoff = datetime.fromisoformat(row[col["game_time"]].replace("Z", "+00:00")).astimezone(UTC)
        if us_game_date(tipoff).isoformat() != DAY:
            continue
        away, home = (resolve_team(t) for t in row[col["game"]].split(" @ "))
        assert away and home
        out[row[col["event_id"]]] = (
            game_key(us_game_date(tipoff), away, home),
            home,
            away,
        )
    return out


def _withhold(folder: Path) -> tuple[str, str, tuple[str, str]]:
    """The shipped data with the game lines of the day's first game (by key) removed, and every
    box score of the players quoted in its second game: (first key, second key, its teams)."""
    shutil.copytree(SHIPPED_DATA, folder)
    games = sorted(
        _games_of_day(folder / "odds" / "props_points_2025_26.csv.gz").items(), key=lambda g: g[1][0]
    )
    (lines_event, (no_lines, _, _)), (players_event, (no_players, home, away)) = games[0], games[1]

    lines = folder / "odds" / "game_lines_2025_26.csv.gz"
    header, rows = _rows(lines)
    kept = [r for r in rows if r[header.index("event_id")] != lines_event]
    assert len(rows) - len(kept) > 10
    _write(lines, header, kept)

    players = set()
    for props in (folder / "odds").glob("props_*.csv.gz"):
        header, rows = _rows(props)
        players |= {
            canonical_player(r[header.index("player")])
            for r in rows
            if r[header.index("event_id")] == players_event
        }
    for logs in (folder / "boxscores").glob("*.csv.gz"):
        header, rows = _rows(logs)
        _write(logs, header, [r for r in rows if canonical_player(r[header.index("player")]) not in players])
    return no_lines, no_players, (home, away)


@pytest.fixture(scope="module")
def withheld(
    postgres_dsn: str, kafka_bootstrap: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Withheld:
    tmp = tmp_path_factory.mktemp("withheld")
    no_lines, no_players, teams = _withhold(tmp / "data")
    env = cli_env(kafka_bootstrap, "unused.", models_dir, tmp / "out")
    db = database(postgres_dsn, "dashboard_withheld")
    run_cli(
        env,
        "replay",
        "--source",
        "files",
        "--data",
        str(tmp / "data"),
        "--from",
        DAY,
        "--to",
        DAY,
        "--postgres",
        dsn=db,
    )
    return Withheld(env, db, no_lines, no_players, teams)


def test_withheld_game_lines_show_as_missing_game_lines_in_the_health_report(withheld: Withheld) -> None:
    report = json.loads(run_cli(withheld.env, "health", "--date", DAY, "--json", dsn=withheld.db).stdout)
    games = {g["game"]: g for g in report["games"]}
    game = games[withheld.no_lines]
    predicted, without_lines = fetch(withheld.db, _PREDICTED, (withheld.no_lines,))[0]
    assert predicted > 20 and without_lines == predicted  # every prediction of it lacks game lines
    assert game["not_actionable"]["missing_game_lines"] == game["predicted"] > 20
    assert game["defaulted"]["game_total=no_game_lines"] >= game["predicted"]
    assert not any(
        "missing_game_lines" in g["not_actionable"] for key, g in games.items() if key != withheld.no_lines
    )  # the other games have their game lines
    table = run_cli(withheld.env, "health", "--date", DAY, dsn=withheld.db).stdout
    assert "Predicted, not actionable" in table and "missing_game_lines" in table

    # the game whose players are unknown: props, not one prediction, and the alert says so
    alone = games[withheld.no_players]
    home, away = withheld.no_players_teams
    unknown = fetch(withheld.db, _UNKNOWN, (home, away, DAY))[0][0]
    assert alone["predicted"] == 0 and alone["without_prediction"]["unknown_player"] == unknown > 5
    assert report["without_any_prediction"] == [withheld.no_players]
    assert f"games with props but no prediction: {withheld.no_players}" in table

    # and the gauge the alert rule reads (the worker publishes the same report)
    settings = Settings(topic_prefix=withheld.env["PROPSTREAM_TOPIC_PREFIX"])
    publish(slate_report(withheld.db, date.fromisoformat(DAY), config(settings), None))
    gauge = "propstream_slate_game_without_predictions"
    assert REGISTRY.get_sample_value(gauge, {"game": withheld.no_players}) == alone["props"]
    assert REGISTRY.get_sample_value(gauge, {"game": withheld.no_lines}) is None


def test_the_health_page_shows_the_alert_and_the_reasons(browser: Browser, withheld: Withheld) -> None:
    report = json.loads(run_cli(withheld.env, "health", "--date", DAY, "--json", dsn=withheld.db).stdout)
    games = {g["game"]: g for g in report["games"]}
    dashboard, url = serve(withheld.env, withheld.db, "--no-live")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{url}/health?date={DAY}")
        page.wait_for_selector(f"body[data-loaded='{DAY}']")
        assert page.is_visible("#alert")
        assert "1 game has props and no predictions" in page.inner_text("#alert")
        assert page.locator("#alert li").all_inner_texts() == [
            f"{withheld.no_players}: {games[withheld.no_players]['props']} props; "
            + "; ".join(
                f"{r} {n}" for r, n in sorted(games[withheld.no_players]["without_prediction"].items())
            )
        ]
        assert "alerted" in (
            page.get_attribute(f'#games tr[data-game="{withheld.no_players}"]', "class") or ""
        )
        row = f'#reasons tr[data-game="{withheld.no_lines}"][data-reason="missing_game_lines"]'
        assert page.inner_text(f"{row} td[data-col='kind']") == "not actionable"
        assert page.inner_text(f"{row} td[data-col='props']") == str(games[withheld.no_lines]["predicted"])
        assert page.locator('#reasons tr[data-reason="missing_game_lines"]').count() == 1
        shown = {
            game: int(page.inner_text(f'#games tr[data-game="{game}"] td[data-col="props"]'))
            for game in games
        }
        assert shown == {game: g["props"] for game, g in games.items()}  # the page shows the CLI's counts
        assert "Kafka not read" in page.inner_text("#summary")  # --no-live: no stale quotes known
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "health.png"), full_page=True)
    finally:
        stop(dashboard)


# the champion's quotes of the day as they stood at a moment (the slate's as-of query), each
# with its book row's key and whether it is older than the stale age then
_AS_OF = """
SELECT player_id || '|' || game_key || '|' || book || '|' || market, as_of < %(stale_before)s
FROM (
    SELECT DISTINCT ON (player_id, game_key, book, market) player_id, game_key, book, market, as_of
    FROM predictions_log WHERE game_date = %(day)s AND model = 'champion' AND as_of <= %(at)s
    ORDER BY player_id, game_key, book, market, as_of DESC, emitted_at DESC NULLS LAST
) p
"""


def test_the_slate_flags_quotes_older_than_the_stale_age_before_tip_off(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    """The day's quotes are the books' 17:00 UTC snapshot; a line moved at 17:30 is published.
    At 17:45 (every game tips off later, by the games topic) a quote older than 30 minutes (the
    default PROPSTREAM_STALE_AFTER_MIN) is stale and the moved one is not; after the tip-offs,
    none is."""
    prop, key = props[-1]  # one no other browser test moves
    moved = publish_move(live, prop)
    wait_for_line(live, key, moved.line)
    at = moved.ts + timedelta(minutes=15)
    games_topic = f"{live.env['PROPSTREAM_TOPIC_PREFIX']}{Settings().topic_games}"
    tipoffs = schedule(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"], games_topic, date.fromisoformat(DAY))
    assert tipoffs and all(tipoff is not None and tipoff > at for tipoff, _ in tipoffs.values())
    params = {"day": DAY, "at": at, "stale_before": at - timedelta(minutes=30)}
    expected = dict(fetch(live.db, _AS_OF, params))  # type: ignore[arg-type]
    assert expected[key] is False and sum(expected.values()) > 100  # the moved quote is fresh

    page = open_slate(browser, live.url, f"&view=books&as_of={at.isoformat().replace('+00:00', 'Z')}")
    keys = page.eval_on_selector_all("#slate tbody tr[data-key]", "rows => rows.map(r => r.dataset.key)")
    flagged = set(
        page.eval_on_selector_all(
            "#slate tbody tr[data-key]:has(td[data-col='as_of'] .stale)",
            "rows => rows.map(r => r.dataset.key)",
        )
    )
    assert set(keys) == set(expected)
    assert flagged == {key for key, stale in expected.items() if stale}
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "slate-stale.png"))

    after = open_slate(
        browser, live.url, "&view=books&as_of=2025-11-11T06:00:00Z"
    )  # every game under way or over
    assert after.locator("#slate tbody tr[data-key]").count() > 100
    assert after.locator("#slate td[data-col='as_of'] .stale").count() == 0

    # the health page with Kafka: each input topic's newest event, the games' tip-offs, no alert
    health = browser.new_page()
    health.goto(f"{live.url}/health?date={DAY}")
    health.wait_for_selector(f"body[data-loaded='{DAY}']")
    prefix = live.env["PROPSTREAM_TOPIC_PREFIX"]
    topics = health.eval_on_selector_all("#topics tr[data-topic]", "rows => rows.map(r => r.dataset.topic)")
    assert sorted(topics) == sorted(
        f"{prefix}{t}" for t in ("nba.games", "odds.games", "odds.props", "nba.boxscores")
    )
    assert "Kafka not read" not in health.inner_text("#summary") and health.is_hidden("#alert")
    tips = health.locator("#games td[data-col='tipoff']").all_inner_texts()
    assert tips and all(t.startswith("2025-11-11") for t in tips)  # evening Eastern: after midnight UTC
