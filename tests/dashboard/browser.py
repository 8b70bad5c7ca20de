"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on the real stack:
the loader publishes a shipped day, the worker scores it into Postgres and the output topics,
the dashboard serves it. Fixtures for the browser tests, and their helpers. Screenshots land in
test-output/dashboard/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from cli.settings import Settings
from connectors.adapters import Record
from connectors.kafka import Publisher
from connectors.serde import encode
from features.identity import PlayerDirectory
from tests.dashboard import DAY
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
CELL = 'tr[data-key="{key}"] td[data-col="{col}"]'


@dataclass(frozen=True)
class Live:
    env: dict[str, str]
    db: str
    url: str
    props_topic: str


@pytest.fixture(scope="session")
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


def health(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
        return dict(json.load(response))


def live_status(url: str) -> dict[str, object]:
    return dict(health(url)["live"] or {})  # type: ignore[call-overload]


def serve(env: dict[str, str], db: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`propstream dashboard` over `db` on a free port, once it answers: (process, url)."""
    port = str(free_port())
    proc = spawn(
        env | {"PROPSTREAM_POSTGRES_READER_DSN": reader_dsn(db)}, "dashboard", "--port", port, *extra, dsn=db
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            health(url)
            return proc, url
        except OSError:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)


def stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None:
        proc.kill()
        proc.communicate(timeout=30)


WEEK_BEFORE = (date.fromisoformat(DAY) - timedelta(days=7)).isoformat()
DAY_AFTER = (date.fromisoformat(DAY) + timedelta(days=1)).isoformat()


@pytest.fixture(scope="session")
def live(
    kafka_bootstrap: str, postgres_dsn: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The worker on a shipped day's topics, settled, and the dashboard over its database."""
    tmp = tmp_path_factory.mktemp("live_dashboard")
    env = cli_env(kafka_bootstrap, f"t{uuid.uuid4().hex[:10]}.", models_dir, tmp / "out")
    db = database(postgres_dsn, "dashboard_live")
    run_cli(env, "db", "migrate", dsn=db)
    # the week before (the worker learns its players from box scores) and the night after (the
    # box scores of the day's late games are stamped after midnight Eastern)
    load(env, "--max-speed", days=(WEEK_BEFORE, DAY_AFTER))
    worker = spawn(env, "worker", "--recovery-dir", str(tmp / "recovery"), dsn=db)
    dashboard = None
    try:
        wait_until_stable(db, seconds=3)
        dashboard, url = serve(env, db)
        deadline = time.monotonic() + 60
        while not live_status(url).get("connected"):
            assert time.monotonic() < deadline, "the dashboard never joined the topics"
            time.sleep(0.3)
        yield Live(env, db, url, f"{env['PROPSTREAM_TOPIC_PREFIX']}{Settings().topic_props}")
    finally:
        stop(dashboard)
        stop(worker)


@pytest.fixture(scope="session")
def props(shipped_records: list[Record], live: Live) -> list[tuple[PropLine, str]]:
    """The day's main quotes that the worker scored, each with its book row's key on the slate."""
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


def publish_move(live: Live, prop: PropLine, **changes: float) -> PropLine:
    """Publish the same quote half an hour later with `changes` (default: a point higher, -125)."""
    update = {"ts": prop.ts + timedelta(minutes=30), "line": prop.line + 1.0, "over_price": -125.0} | changes
    moved = prop.model_copy(update=update)
    assert moved.ts < moved.tipoff
    with Publisher(live.env["PROPSTREAM_KAFKA_BOOTSTRAP"]) as publisher:
        publisher.publish(
            live.props_topic, message_key(moved), encode(moved), int(moved.ts.timestamp() * 1000)
        )
    return moved


def wait_for_line(live: Live, key: str, line: float) -> None:
    """Until the worker has rescored the book row `key` at `line`."""
    player, game, book, _ = key.split("|")
    query = (
        "SELECT line FROM predictions_latest "
        "WHERE player_id = %s AND game_key = %s AND book = %s AND model = 'champion'"
    )
    deadline = time.monotonic() + 30
    while fetch(live.db, query, (int(player), game, book)) != [(line,)]:
        assert time.monotonic() < deadline, "the worker did not rescore the moved line"
        time.sleep(0.2)


def open_slate(browser: Browser, url: str, query: str = "", size: tuple[int, int] = (1600, 1000)) -> Page:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{url}/?date={DAY}{query}")
    page.wait_for_selector("body[data-loaded]")
    return page


def cell(page: Page, key: str, col: str) -> str:
    return page.inner_text(CELL.format(key=key, col=col))


def prop_key(book_key: str) -> str:
    player, game, _, market = book_key.split("|")
    return f"{player}|{game}|{market}"
