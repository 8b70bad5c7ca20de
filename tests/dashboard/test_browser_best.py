"""The slate a bettor acts on, in a real browser on the real stack: the decision cells in view at
1024 and 1440 px, the best price moving in place when a book becomes the best, the browser's
best-price rules equal to the server's, and the prop page's legends and colours."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from datetime import datetime
from typing import Any

from playwright.sync_api import Browser, Page

from dashboard.best import prop_rows
from tests.dashboard import DAY
from tests.dashboard.browser import CELL, SHOTS, Live, open_slate, prop_key, publish_move, wait_for_line
from tests.dashboard.test_best import BOOKS, P_AT, quote
from tests.stack import fetch
from vocabulary.events import PropLine

DECISION = ("pick", "edge", "ev")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _inside(page: Page, selector: str, width: int, height: int) -> bool:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


def test_the_first_rows_pick_edge_and_ev_are_in_view_at_1024_and_1440(browser: Browser, live: Live) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1024, 768), (1440, 900)):
        page = open_slate(browser, live.url, size=(width, height))
        page.wait_for_selector("#slate tbody tr.prop")
        page.screenshot(path=str(SHOTS / f"slate-{width}x{height}.png"))
        first = "#slate tbody tr.prop:first-child"
        for col in DECISION:
            assert _inside(page, f'{first} td[data-col="{col}"]', width, height), (width, col)
        # the header stays on top and the player column stays at the left as the table scrolls
        header, player = (
            page.locator("#slate thead th").first.bounding_box(),
            page.locator(first + " td").first,
        )
        before = player.bounding_box()
        page.locator(".table-wrap").evaluate("(wrap) => { wrap.scrollTop = 400; wrap.scrollLeft = 300; }")
        assert page.locator("#slate thead th").first.bounding_box() == header
        assert (
            page.locator("#slate tbody tr.prop").nth(20).locator("td").first.bounding_box()["x"]
            == before["x"]
        )  # type: ignore[index,union-attr]
        page.close()


def _arrow(page: Page, key: str) -> str:
    return page.get_attribute(f'#slate th[data-sort="{key}"]', "data-dir") or ""


def test_sorting_does_what_its_arrow_says(browser: Browser, live: Live) -> None:
    page = open_slate(browser, live.url)

    def values(col: str) -> list[float]:
        texts = page.locator(f'#slate tbody td[data-col="{col}"]').all_inner_texts()
        return [float(t.replace("%", "")) for t in texts if t != "—"]

    assert _arrow(page, "edge") == "desc" and values("edge") == sorted(values("edge"), reverse=True)
    page.click('#slate th[data-sort="ev"]')  # a number: largest first on the first click
    assert _arrow(page, "ev") == "desc" and values("ev") == sorted(values("ev"), reverse=True)
    page.click('#slate th[data-sort="ev"]')
    assert _arrow(page, "ev") == "asc" and values("ev") == sorted(values("ev"))
    page.click('#slate th[data-sort="player"]')  # a name: A first
    names = page.locator('#slate tbody td[data-col="player"] a').all_inner_texts()
    assert _arrow(page, "player") == "asc" and names == sorted(names)


def test_a_line_move_that_makes_a_book_the_best_moves_the_best_price_cells_in_place(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    served = {p["key"]: p for p in _get(f"{live.url}/api/slate?date={DAY}")["props"]}
    names = {k: v["name"] for k, v in _get(f"{live.url}/api/meta")["books"].items()}
    candidates = [
        (event, key)
        for event, key in props[3:]
        if served[prop_key(key)]["books"] >= 3 and served[prop_key(key)]["best_over"]["book"] != event.book
    ]
    prop, key = candidates[0]
    page = open_slate(browser, live.url)
    page.wait_for_selector("#status.on")
    page.evaluate("window.__notReloaded = true")
    best_over = CELL.format(key=prop_key(key), col="best_over")
    assert names[prop.book] not in page.inner_text(best_over)

    moved = publish_move(live, prop, line=prop.line - 2.0, over_price=200.0)  # lower and longer: best
    page.wait_for_function(
        "([selector, text]) => { const td = document.querySelector(selector);"
        " return td !== null && td.innerText.includes(text); }",
        arg=[best_over, names[prop.book]],
        timeout=3000,
    )
    assert page.inner_text(best_over).split("\n")[0] == f"{moved.line:.1f} +200"
    assert "changed" in (page.get_attribute(best_over, "class") or "")  # marked as it changed
    assert page.evaluate("window.__notReloaded") is True
    page.locator(best_over).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "slate-best-moved.png"))
    wait_for_line(live, key, moved.line)  # and what the page worked out is what the server says
    after = next(p for p in _get(f"{live.url}/api/slate?date={DAY}")["props"] if p["key"] == prop_key(key))
    assert after["best_over"] == {"book": prop.book, "line": moved.line, "price": 200.0}
    page.reload()
    page.wait_for_selector("body[data-loaded]")
    assert page.inner_text(best_over).split("\n") == [f"{moved.line:.1f} +200", names[prop.book]]


def _generated(rnd: random.Random, n: int) -> list[dict[str, Any]]:
    """Props at up to six books, few lines and prices (ties), some quotes one-sided."""
    rows = []
    prices = [-130.0, -120.0, -110.0, -105.0, 100.0, 110.0]
    for player in range(1, n + 1):
        shift = rnd.choice([-0.2, 0.0, 0.2])
        for minute, book in enumerate(rnd.sample(BOOKS, rnd.randint(1, len(BOOKS)))):
            line = rnd.choice(sorted(P_AT))
            under = rnd.choice([None, *prices])
            rows.append(
                quote(
                    book, line, rnd.choice(prices), under, P_AT[line] + shift, player_id=player, minute=minute
                )
            )
    return rows


def test_the_browser_picks_the_same_best_quotes_as_the_server(browser: Browser, live: Live) -> None:
    page = open_slate(browser, live.url)
    rows = _generated(random.Random(18), 400)
    assert sum(r["under_price"] is None for r in rows) > 50  # one-sided quotes
    in_browser = page.evaluate("(rows) => PS.best.propRows(rows)", rows)
    assert in_browser == json.loads(json.dumps(prop_rows(rows)))


def test_the_prop_page_legends_show_values_and_every_book_has_its_own_colour(
    browser: Browser, live: Live, props: list[tuple[PropLine, str]]
) -> None:
    served = _get(f"{live.url}/api/slate?date={DAY}")["props"]
    crowded = max(served, key=lambda p: (p["books"], p["key"]))
    player, game, market = crowded["key"].split("|")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{live.url}/prop?player_id={player}&game_key={game}&market={market}")
    page.wait_for_selector("body[data-loaded]")
    page.wait_for_selector("#lines-chart canvas")
    time.sleep(0.3)
    names = {v["name"] for v in _get(f"{live.url}/api/meta")["books"].values()}
    for chart in ("#lines-chart", "#prob-chart"):
        legend = page.locator(f"{chart} .u-legend .u-series").evaluate_all(
            "(rows) => rows.map((r) => { const marker = r.querySelector('.u-marker');"
            " const text = (css) => r.querySelector(css).textContent;"
            " return {label: text('.u-label'), value: text('.u-value'),"
            " color: marker ? getComputedStyle(marker).borderColor : null}; })"
        )
        books = [s for s in legend if s["label"] in names]
        assert len(books) == crowded["books"] >= 5, chart
        assert all(s["value"] not in ("--", "—", "") for s in legend[1:]), legend  # values without a hover
        assert len({s["color"] for s in books}) == len(books), books  # a colour per book
    tipoff = {
        t
        for (t,) in fetch(
            live.db,
            "SELECT tipoff FROM predictions_log WHERE player_id = %s AND game_key = %s",
            (int(player), game),
        )
    }
    (at,) = tipoff  # the close is marked at the game's tip-off
    assert datetime.fromisoformat(page.get_attribute("#lines-chart", "data-close") or "") == at
    assert page.locator("#clv tbody tr").count() >= crowded["books"]  # every book's CLV
    page.screenshot(path=str(SHOTS / "prop.png"), full_page=True)
