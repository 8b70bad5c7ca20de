"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on the real stack:
the loader publishes a shipped day, the worker scores it into Postgres and the output topics,
the dashboard serves it; then a line move is published and the open page must show it.
Screenshots land in test-output/dashboard/."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from psycopg import sql
from psycopg.rows import dict_row

from cli.settings import Settings
from connectors.adapters import Record
from connectors.kafka import Publisher
from connectors.serde import encode
from features.identity import PlayerDirectory
from tests.dashboard.conftest import DAY
from tests.stack import (
    REPO,
    cli_env,
    database,
    fetch,
    free_port,
    load,
    reader_dsn,
    run_cli,
    spawn,
    wait_until_stable,
)
from vocabulary.errors import UnknownPlayerError
from vocabulary.events import BoxScore, PropLine
from vocabulary.keys import message_key

SHOTS = REPO / "test-output" / "dashboard"
CHROMIUM = os.environ.get("PROPSTREAM_CHROMIUM") or shutil.which("chromium")
LINE_CELL = 'tr[data-key="{key}"] td[data-col="{col}"]'


@dataclass(frozen=True)
class Live:
    env: dict[str, str]
    db: str
    url: str
    props_topic: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (scripts/services.sh browser)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def _health(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
        return dict(json.load(response))


@pytest.fixture(scope="module")
def live(
    kafka_bootstrap: str, postgres_dsn: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The worker on a shipped day's topics, settled, and the dashboard over its database."""
    tmp = tmp_path_factory.mktemp("live_dashboard")
    env = cli_env(kafka_bootstrap, f"t{uuid.uuid4().hex[:10]}.", models_dir, tmp / "out")
    db = database(postgres_dsn, "dashboard_live")
    run_cli(env, "db", "migrate", dsn=db)
    load(env, "--max-speed", days=(DAY, DAY))
    worker = spawn(env, "worker", "--recovery-dir", str(tmp / "recovery"), dsn=db)
    url = f"http://127.0.0.1:{free_port()}"
    dashboard = None
    try:
        wait_until_stable(db, seconds=3)
        dashboard = spawn(
            env | {"PROPSTREAM_POSTGRES_READER_DSN": reader_dsn(db)},
            "dashboard",
            "--port",
            url.rsplit(":", 1)[1],
            dsn=db,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if dict(_health(url)["live"] or {}).get("connected"):  # type: ignore[call-overload]
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not start (or never joined the topics)"
            time.sleep(0.3)
        yield Live(env, db, url, f"{env['PROPSTREAM_TOPIC_PREFIX']}{Settings().topic_props}")
    finally:
        for proc in (dashboard, worker):
            if proc is not None:
                proc.kill()
                proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def props(shipped_records: list[Record], live: Live) -> list[tuple[PropLine, str]]:
    """The day's main quotes that the worker scored, each with its row key on the slate."""
    directory = PlayerDirectory.from_box_scores(
        r.event for r in shipped_records if isinstance(r.event, BoxScore)
    )
    scored = {
        f"{p}|{g}|{b}|{m}"
        for p, g, b, m in fetch(live.db, "SELECT player_id, game_key, book, market FROM predictions_latest")
    }
    out = []
    for record in shipped_records:
        event = record.event
        if isinstance(event, PropLine) and event.is_main and event.game_date.isoformat() == DAY:
            try:
                key = f"{directory.resolve(event.player_name)}|{event.game_key}|{event.book}|{event.market}"
            except UnknownPlayerError:
                continue
            if key in scored:
                out.append((event, key))
    assert len(out) > 100
    return out


def _move(live: Live, prop: PropLine) -> PropLine:
    """Publish the same quote half an hour later, a point higher and at a new price."""
    moved = prop.model_copy(
        update={"ts": prop.ts + timedelta(minutes=30), "line": prop.line + 1.0, "over_price": -125.0}
    )
    assert moved.ts < moved.tipoff
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        publisher.publish(
            live.props_topic, message_key(moved), encode(moved), int(moved.ts.timestamp() * 1000)
        )
    return moved


def _open_slate(browser: Browser, live: Live, query: str = "") -> Page:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{live.url}/?date={DAY}{query}")
    page.wait_for_selector("body[data-loaded]")
    return page


def _cell(page: Page, key: str, col: str) -> str:
    return page.inner_text(LINE_CELL.format(key=key, col=col))


def test_a_line_move_changes_its_row_within_3_seconds_without_a_reload(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    prop, key = props[0]
    page = _open_slate(browser, live)
    page.wait_for_selector("#status.on")  # the event stream is open
    before = {col: _cell(page, key, col) for col in ("line", "p_over", "as_of")}
    assert before["line"] == f"{prop.line:.1f}"
    page.evaluate("window.__notReloaded = true")

    started = time.monotonic()
    moved = _move(live, prop)
    page.wait_for_function(
        "([selector, line]) => { const td = document.querySelector(selector);"
        " return td !== null && td.textContent.startsWith(line); }",
        arg=[LINE_CELL.format(key=key, col="line"), f"{moved.line:.1f}"],
        timeout=3000,
    )
    elapsed = time.monotonic() - started
    after = {col: _cell(page, key, col) for col in ("line", "p_over", "as_of")}
    assert after["line"] == f"{moved.line:.1f} ▲"  # the new line, marked as moved up
    assert after["p_over"] != before["p_over"]  # and the model's view of it changed with it
    assert after["as_of"] > before["as_of"]
    assert page.evaluate("window.__notReloaded") is True  # in place: the page never reloaded
    assert "moved" in (page.get_attribute(f'tr[data-key="{key}"]', "class") or "")
    assert elapsed < 3.0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "slate.png"))

    page.click(f'tr[data-key="{key}"] td[data-col="player"] a')
    page.wait_for_selector("body[data-loaded]")
    page.wait_for_selector("#lines-chart canvas")
    timeline = page.inner_text("#timeline")
    assert f"line {prop.line:g} → {moved.line:g}" in timeline
    page.screenshot(path=str(SHOTS / "prop.png"), full_page=True)
    print(f"line move on the page after {elapsed * 1000:.0f} ms; screenshots in {SHOTS}")


def test_the_as_of_control_shows_the_earlier_line_of_a_prop_that_moved(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    prop, key = props[1]
    player, game, book, _ = key.split("|")
    moved = _move(live, prop)
    deadline = time.monotonic() + 30
    query = (
        "SELECT line FROM predictions_latest "
        "WHERE player_id = %s AND game_key = %s AND book = %s AND model = 'champion'"
    )
    while fetch(live.db, query, (int(player), game, book)) != [(moved.line,)]:
        assert time.monotonic() < deadline, "the worker did not rescore the moved line"
        time.sleep(0.2)

    page = _open_slate(browser, live)
    assert _cell(page, key, "line").startswith(f"{moved.line:.1f}")
    between = prop.ts + (moved.ts - prop.ts) / 2
    page.fill("#asof", between.strftime("%Y-%m-%dT%H:%M"))
    page.click("#asof-show")
    page.wait_for_selector("body[data-loaded$='Z']")
    assert _cell(page, key, "line") == f"{prop.line:.1f}"  # as it stood then
    assert "as of" in page.inner_text("#summary")
    page.click("#asof-live")
    page.wait_for_selector("body[data-loaded$='|live']")
    assert _cell(page, key, "line").startswith(f"{moved.line:.1f}")


def _copy_row(db: str, table: str, key: str, changes: dict[str, object]) -> None:
    """Insert a copy of one champion row of `key` with `changes`: as if a feed had sent it."""
    player, game, book, _ = key.split("|")
    with psycopg.connect(db) as conn:
        conn.row_factory = dict_row
        query = sql.SQL(
            "SELECT * FROM {} WHERE player_id = %s AND game_key = %s AND book = %s "
            "AND model = 'champion' LIMIT 1"
        )
        row = conn.execute(query.format(sql.Identifier(table)), (int(player), game, book)).fetchone()
        assert row is not None
        row |= changes
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        conn.execute(insert, list(row.values()))


def test_names_from_outside_feeds_are_text_never_markup(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    _, key = props[2]
    _, game, book, market = key.split("|")
    for table in ("predictions_latest", "predictions_log"):
        _copy_row(
            live.db,
            table,
            key,
            {"player_id": 999_999_999, "player_name": hostile, "prediction_id": f"hostile-{table}"},
        )
    page = _open_slate(browser, live)
    hostile_key = f"999999999|{game}|{book}|{market}"
    assert _cell(page, hostile_key, "player") == hostile  # shown as the text it is
    assert page.locator("#slate tbody script, #slate tbody img").count() == 0
    page.click(f'tr[data-key="{hostile_key}"] td[data-col="player"] a')
    page.wait_for_selector("body[data-loaded]")
    assert page.inner_text("#title").startswith(hostile)
    assert page.locator("#title script, #title img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_model_panel_charts_each_model_beside_the_market(browser: Browser, live: Live) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live.url}/models")
    page.wait_for_selector("body[data-loaded]")
    assert page.locator(".uplot").count() == 3
    totals = page.locator("#totals tbody tr")
    assert sorted(totals.nth(i).get_attribute("data-model") for i in range(totals.count())) == [
        "champion",
        "shadow",
    ]
    legend = page.inner_text("#brier-chart")
    assert "market" in legend and "champion" in legend
    page.screenshot(path=str(SHOTS / "models.png"), full_page=True)


def test_a_bad_message_on_the_output_topic_is_counted_and_refused_not_forwarded(live: Live) -> None:
    before = dict(_health(live.url)["live"])  # type: ignore[call-overload]
    topic = live.props_topic.replace(Settings().topic_props, Settings().topic_predictions)
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        publisher.publish(topic, b"1", b'{"not": "a prediction"}', int(time.time() * 1000))
    deadline = time.monotonic() + 10
    while dict(_health(live.url)["live"])["rejected"] == before["rejected"]:  # type: ignore[call-overload]
        assert time.monotonic() < deadline, "the dashboard never saw the bad message"
        time.sleep(0.2)
    after = dict(_health(live.url)["live"])  # type: ignore[call-overload]
    assert after["rejected"] == before["rejected"] + 1
    assert after["forwarded"] == before["forwarded"]  # nothing reached the pages
    assert after["connected"] is True  # and the feed goes on
