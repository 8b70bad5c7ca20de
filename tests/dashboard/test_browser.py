"""The dashboard in a real browser on the real stack (tests/dashboard/browser.py): a line move
reaches its row, the as-of control, hostile names, the models page, and what the live feed does
with bad, repeated and corrected messages and without a broker."""

from __future__ import annotations

import re
import time
import urllib.request

import psycopg
from playwright.sync_api import Browser
from psycopg import sql
from psycopg.rows import dict_row

from cli.settings import Settings
from connectors.kafka import Publisher
from tests.dashboard.browser import (
    CELL,
    SHOTS,
    Live,
    cell,
    live_status,
    open_slate,
    prop_key,
    publish_move,
    serve,
    stop,
    wait_for_line,
)
from tests.stack import fetch, free_port
from vocabulary.events import PropLine
from vocabulary.records import Prediction


def test_a_line_move_changes_its_row_within_3_seconds_without_a_reload(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    prop, key = props[0]
    page = open_slate(browser, live.url, "&view=books")  # the per-book view
    page.wait_for_selector("#status.on")  # the event stream is open
    before = {col: cell(page, key, col) for col in ("line", "edge", "as_of")}
    assert before["line"] == f"{prop.line:.1f}"
    page.evaluate("window.__notReloaded = true")

    started = time.monotonic()
    moved = publish_move(live, prop)
    page.wait_for_function(
        "([selector, line]) => { const td = document.querySelector(selector);"
        " return td !== null && td.textContent.startsWith(line); }",
        arg=[CELL.format(key=key, col="line"), f"{moved.line:.1f}"],
        timeout=3000,
    )
    elapsed = time.monotonic() - started
    after = {col: cell(page, key, col) for col in ("line", "edge", "as_of")}
    assert after["line"] == f"{moved.line:.1f} ▲"  # the new line, marked as moved up
    assert after["edge"] != before["edge"]  # and the model's view of it changed with it
    assert after["as_of"] > before["as_of"]
    assert page.evaluate("window.__notReloaded") is True  # in place: the page never reloaded
    assert "moved" in (page.get_attribute(f'tr[data-key="{key}"]', "class") or "")
    assert elapsed < 3.0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "slate-by-book.png"))

    page.click(f'tr[data-key="{key}"] td[data-col="player"] a')
    page.wait_for_selector("body[data-loaded]")
    page.wait_for_selector("#lines-chart canvas")
    assert f"line {prop.line:g} → {moved.line:g}" in page.inner_text("#timeline")
    print(f"line move on the page after {elapsed * 1000:.0f} ms; screenshots in {SHOTS}")


def test_the_as_of_control_shows_the_earlier_line_of_a_prop_that_moved_in_24_hour_utc(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    prop, key = props[1]
    moved = publish_move(live, prop)
    wait_for_line(live, key, moved.line)
    page = open_slate(browser, live.url, "&view=books")
    assert cell(page, key, "line").startswith(f"{moved.line:.1f}")
    between = prop.ts + (moved.ts - prop.ts) / 2
    page.fill("#asof", between.strftime("%Y-%m-%d %H:%M"))  # UTC, 24-hour
    page.click("#asof-show")
    page.wait_for_selector("body[data-loaded$='Z']")
    assert cell(page, key, "line") == f"{prop.line:.1f}"  # as it stood then
    assert f"as of {between:%Y-%m-%d %H:%M} UTC" in page.inner_text("#summary")
    assert not re.search(r"\b[AP]M\b", page.inner_text("body"))  # no 12-hour time anywhere
    page.reload()
    page.wait_for_selector("body[data-loaded$='Z']")
    assert page.input_value("#asof") == f"{between:%Y-%m-%d %H:%M}"  # the link keeps the moment
    page.click("#asof-live")
    page.wait_for_selector("body[data-loaded$='|live']")
    assert cell(page, key, "line").startswith(f"{moved.line:.1f}")


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
    hostile_key = f"999999999|{game}|{book}|{market}"
    page = open_slate(browser, live.url)  # one row per prop
    link = CELL.format(key=prop_key(hostile_key), col="player") + " a"
    assert page.inner_text(link) == hostile  # shown as the text it is
    page.click(CELL.format(key=prop_key(hostile_key), col="player") + " button.expand")
    assert page.inner_text(CELL.format(key=hostile_key, col="player")).strip()  # its book's row
    assert page.locator("#slate tbody script, #slate tbody img").count() == 0
    page.click(link)
    page.wait_for_selector("body[data-loaded]")
    assert page.inner_text("#title").startswith(hostile)
    assert page.locator("#title script, #title img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_model_panel_charts_each_model_beside_the_market_and_clv_per_market(
    browser: Browser, live: Live
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live.url}/models")
    page.wait_for_selector("body[data-loaded^='all|']")
    assert page.locator(".uplot").count() == 4
    totals = page.locator("#totals tbody tr")  # the shadow is trained on every game: all in-sample
    assert [totals.nth(i).get_attribute("data-model") for i in range(totals.count())] == ["champion"]
    legend = page.inner_text("#brier-chart")
    assert "market" in legend and "champion" in legend and "shadow" not in legend
    graded_days = fetch(live.db, "SELECT count(DISTINCT (model, game_date, in_sample)) FROM grades")[0][0]
    assert page.locator("#daily tbody tr").count() == graded_days > 2  # per model, game date, in-sample
    in_sample = fetch(live.db, "SELECT count(DISTINCT (model, game_date)) FROM grades WHERE in_sample")[0][0]
    labelled = page.locator("#daily tbody tr[data-in-sample='true']")
    assert labelled.count() == in_sample > 0 and "in-sample" in labelled.first.inner_text()
    assert "left out of the totals and charts" in page.inner_text("#in-sample")
    assert "CLV" in page.inner_text("#totals thead") and "ROI" in page.inner_text("#totals thead")
    page.screenshot(path=str(SHOTS / "models.png"), full_page=True)
    # the slate names the version and marks in-sample picks; its edges say they are calibrated
    slate = open_slate(browser, live.url, "&model=shadow")
    slate.wait_for_selector("#slate tbody tr.prop")
    (version,) = fetch(
        live.db, "SELECT DISTINCT model_version FROM predictions_latest WHERE model = 'shadow'"
    )
    assert f"shadow version {version[0]}" in slate.inner_text("#version") and "in-sample" in slate.inner_text(
        "#version"
    )
    assert (
        slate.locator("#slate tbody tr.prop .in-sample").count()
        == slate.locator("#slate tbody tr.prop").count()
    )
    assert "Edge (cal.)" in slate.inner_text("#slate thead") and "PASS is graded" in slate.inner_text(
        "#legend"
    )
    champion = open_slate(browser, live.url, "&model=champion")
    champion.wait_for_selector("#slate tbody tr.prop")
    assert "out-of-sample" in champion.inner_text("#version") and champion.locator(".in-sample").count() == 0
    page.select_option("#market", "rebounds")
    page.wait_for_selector("body[data-loaded='rebounds|0']")
    assert "no graded predictions yet in this market" in page.inner_text("#error")
    assert "market=rebounds" in page.url


def test_a_bad_message_on_the_output_topic_is_counted_and_refused_not_forwarded(live: Live) -> None:
    before = live_status(live.url)
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        publisher.publish(_predictions_topic(live), b"1", b'{"not": "a prediction"}', int(time.time() * 1000))
    after = _wait_for(live, "rejected", before)
    assert after["rejected"] == before["rejected"] + 1  # type: ignore[operator]
    assert after["forwarded"] == before["forwarded"]  # nothing reached the pages
    assert after["connected"] is True and after["state"] == "live"  # and the feed goes on


def _predictions_topic(live: Live) -> str:
    return live.props_topic.replace(Settings().topic_props, Settings().topic_predictions)


def _wait_for(live: Live, counter: str, before: dict[str, object]) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while live_status(live.url)[counter] == before[counter]:
        assert time.monotonic() < deadline, f"the dashboard never counted {counter}"
        time.sleep(0.2)
    time.sleep(0.5)  # anything else it would count
    return live_status(live.url)


def test_a_redelivered_prediction_is_forwarded_once_and_a_correction_again(live: Live) -> None:
    (row,) = fetch(live.db, "SELECT prediction_id FROM predictions_latest ORDER BY prediction_id LIMIT 1")
    with psycopg.connect(live.db, row_factory=dict_row) as conn:
        record = conn.execute("SELECT * FROM predictions_log WHERE prediction_id = %s", row).fetchone()
    assert record is not None
    prediction = Prediction.model_validate({k: v for k, v in record.items() if k in Prediction.model_fields})
    message = prediction.model_dump_json().encode()
    before = live_status(live.url)
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        for _ in range(3):  # at-least-once: the same record, three times
            publisher.publish(_predictions_topic(live), b"k", message, int(time.time() * 1000))
    after = _wait_for(live, "forwarded", before)
    assert after["forwarded"] == before["forwarded"] + 1  # type: ignore[operator]
    assert after["duplicates"] == before["duplicates"] + 2  # type: ignore[operator]
    corrected = prediction.model_copy(update={"mean": prediction.mean + 1.0})  # same id, new content
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        publisher.publish(
            _predictions_topic(live), b"k", corrected.model_dump_json().encode(), int(time.time() * 1000)
        )
    assert _wait_for(live, "forwarded", after)["forwarded"] == before["forwarded"] + 2  # type: ignore[operator]


def test_the_badge_says_live_off_and_no_broker_and_head_is_answered(browser: Browser, live: Live) -> None:
    off, off_url = serve(live.env, live.db, "--no-live")
    unreachable = live.env | {"PROPSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    down, down_url = serve(unreachable, live.db)
    try:
        request = urllib.request.Request(f"{off_url}/", method="HEAD")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        page = open_slate(browser, off_url)
        page.wait_for_selector("#status[data-state='live off']", timeout=5000)
        page = open_slate(browser, down_url)
        page.wait_for_selector("#status[data-state='no broker']", timeout=20000)
        assert live_status(down_url)["state"] == "no broker"
        assert page.locator("#slate tbody tr").count() > 100  # the database is still served
    finally:
        stop(off)
        stop(down)
