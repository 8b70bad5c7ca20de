"""The dashboard's HTTP server: four pages (slate, prop, models, health), a JSON API over the
read-only database, and a server-sent-event stream of live predictions and grades.

Pages are static files that render with DOM text nodes (never HTML strings), and every
response carries a Content-Security-Policy allowing only this server's own scripts: names and
teams come from outside feeds, so they are data, never markup.

A parameter out of its range (a date or time outside the years the events may carry, a player
id beyond the column, a game key that names no date, `from` after `to`) is refused with 422
and one line naming the parameter, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, SecretStr

from dashboard.best import prop_rows
from dashboard.labels import MARKETS, meta
from dashboard.live import LiveFeed
from dashboard.queries import Reader
from dashboard.stale import StaleQuotes
from dashboard.timeline import timeline
from monitoring.coverage import newest_day
from monitoring.report import HealthConfig, slate_report
from vocabulary.events import EARLIEST_YEAR, LATEST_YEAR

__all__ = ["DashboardConfig", "create_app"]

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_KEEPALIVE_S = 15.0

_MAX_ID = 2**63 - 1  # player_id is a bigint
_When = TypeVar("_When", date, datetime)


def _in_years(value: _When) -> _When:
    """A date or time the events may carry (vocabulary.events: 1990..2100); outside, a query
    is a typo, and date arithmetic on it can overflow."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must fall in the years {EARLIEST_YEAR}..{LATEST_YEAR}")
    return value


def _dated_key(key: str) -> str:
    try:
        _in_years(date(int(key[:4]), int(key[4:6]), int(key[6:8])))
    except ValueError as exc:
        raise ValueError(f"{key[:8]} is not a date in {EARLIEST_YEAR}..{LATEST_YEAR}") from exc
    return key


MarketName = Annotated[str, Query(pattern="^(" + "|".join(MARKETS) + ")$")]
GameKey = Annotated[str, Query(pattern=r"^\d{8}-[A-Z]{2,4}@[A-Z]{2,4}$"), AfterValidator(_dated_key)]
ModelName = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Day = Annotated[date, AfterValidator(_in_years)]
Moment = Annotated[datetime, AfterValidator(_in_years)]


@dataclass(frozen=True)
class DashboardConfig:
    reader_dsn: SecretStr
    kafka_bootstrap: str | None  # None: no live updates (the pages still load from the database)
    predictions_topic: str
    grades_topic: str
    default_model: str
    health: HealthConfig  # the health page's report, and the slate's stale rule


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def create_app(config: DashboardConfig) -> FastAPI:
    reader = Reader(config.reader_dsn)
    stale = StaleQuotes(config.kafka_bootstrap, config.health.games_topic, config.health.stale_after)
    feed = (
        LiveFeed(config.kafka_bootstrap, config.predictions_topic, config.grades_topic)
        if config.kafka_bootstrap
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if feed is not None:
            feed.start()
        yield
        if feed is not None:
            feed.stop()

    # the OpenAPI description at /openapi.json; no Swagger UI, which FastAPI loads from a CDN
    app = FastAPI(title="propstream dashboard", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(RequestValidationError)
    async def refused(_: Request, exc: RequestValidationError) -> JSONResponse:
        """One line naming each refused parameter, instead of FastAPI's list of objects."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'query')}: {e['msg'].removeprefix('Value error, ')} "
            f"(got {str(e.get('input'))[:40]!r})"
            for e in exc.errors()
        )
        return JSONResponse({"detail": problems.replace("\n", " ")}, status_code=422)

    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        logger.error("database unavailable: %s", exc)
        return JSONResponse({"detail": f"database unavailable: {exc}"}, status_code=503)

    for page in ("slate", "prop", "models", "health"):
        path = "/" if page == "slate" else f"/{page}"
        app.add_api_route(path, _page(page), methods=["GET", "HEAD"], include_in_schema=False)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        reader.ping()
        return {"database": "ok", "live": feed.status() if feed else None}

    @app.get("/api/meta")
    def labels() -> dict[str, object]:
        """Book names and colours, market names: what the pages call things."""
        return meta()

    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"models": reader.models(), "default": config.default_model}

    @app.get("/api/dates")
    def dates(model: ModelName | None = None, market: MarketName | None = None) -> list[dict[str, Any]]:
        return reader.dates(model or config.default_model, market)

    @app.get("/api/slate")
    def slate(
        day: Annotated[Day, Query(alias="date")],
        model: ModelName | None = None,
        market: MarketName | None = None,
        as_of: Moment | None = None,
    ) -> dict[str, Any]:
        """Every prop of a game date for one model: `rows` has each book's quote, `props` one row
        per (player, game, market) with the best prices (dashboard/best.py); with `as_of`, as it
        stood then (event time). `markets`: how many props each market has that day."""
        chosen = model or config.default_model
        moment = _utc(as_of) if as_of else None
        rows = reader.slate(day, chosen, moment, market)
        stale.mark(rows, day, moment)
        return {
            "date": day,
            "model": chosen,
            "market": market,
            "as_of": moment,
            "stale_after_min": config.health.stale_after.total_seconds() / 60,
            "markets": reader.markets(day, chosen),
            "rows": rows,
            "props": prop_rows(rows),
        }

    @app.get("/api/coverage")
    def coverage(day: Annotated[date | None, Query(alias="date")] = None) -> dict[str, Any]:
        """`propstream health` for a game date (default: the newest with predictions): coverage
        with reasons, freshness, grading gaps (monitoring/); `without_any_prediction` is the alert."""
        return _coverage(config, day)

    @app.get("/api/prop")
    def prop(
        player_id: Annotated[int, Query(gt=0, le=_MAX_ID)],
        game_key: GameKey,
        market: MarketName = "points",
        model: ModelName | None = None,
    ) -> dict[str, Any]:
        """One prop's log, grades, timeline, and the closing-line value of every prediction."""
        chosen = model or config.default_model
        read = reader.prop(player_id, game_key, market, chosen)
        history = read["history"]
        if not history:
            raise HTTPException(
                404, f"no predictions for player {player_id} in {game_key} ({market}, {chosen})"
            )
        return {
            "player_id": player_id,
            "player_name": history[-1]["player_name"],
            "game_key": game_key,
            "market": market,
            "model": chosen,
            **read,
            "closes": _closes(read["clv"]),
            "timeline": [asdict(e) for e in timeline(history, read["grades"])],
        }

    @app.get("/api/performance")
    def performance(
        start: Annotated[Day | None, Query(alias="from")] = None,
        end: Annotated[Day | None, Query(alias="to")] = None,
        market: MarketName | None = None,
    ) -> list[dict[str, Any]]:
        """Per model and game date: hit rate, Brier, log-loss and ROI beside the market, and the
        closing-line value of the model's predictions."""
        return reader.performance(*_window(start, end), market)

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: `prediction` and `grade` as they are emitted, `resync` when this
        page fell behind and should reload."""
        if feed is None:
            raise HTTPException(503, "live updates are off: the server was started without Kafka")
        return StreamingResponse(
            _events(request, feed),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return app


def _coverage(config: DashboardConfig, day: date | None) -> dict[str, Any]:
    dsn = config.reader_dsn.get_secret_value()
    chosen = day or newest_day(dsn)
    if chosen is None:
        raise HTTPException(404, "no predictions in the database yet: nothing to report")
    report = slate_report(dsn, chosen, config.health, config.kafka_bootstrap).as_dict()
    return report | {"stale_after_min": config.health.stale_after.total_seconds() / 60}


def _window(start: date | None, end: date | None) -> tuple[date, date]:
    last = end or datetime.now(UTC).date()
    first = start or max(last - timedelta(days=3650), date(EARLIEST_YEAR, 1, 1))
    if first > last:
        raise HTTPException(422, f"from {first} is after to {last}: swap them")
    return first, last


def _closes(clv: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each book's closing quote (the last before tip-off), from the CLV rows."""
    closes: dict[str, dict[str, Any]] = {}
    for r in clv:
        closes[r["book"]] = {"book": r["book"]} | {
            k.removeprefix("close_"): v for k, v in r.items() if k.startswith("close_")
        }
    return [closes[b] for b in sorted(closes)]


def _page(name: str) -> Callable[[], FileResponse]:
    def page() -> FileResponse:
        return FileResponse(STATIC / f"{name}.html", headers={"Cache-Control": "no-store"})

    return page


async def _events(request: Request, feed: LiveFeed) -> AsyncIterator[str]:
    subscriber = feed.subscribe()
    try:
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            try:
                update = await asyncio.wait_for(subscriber.queue.get(), _KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {update.kind}\ndata: {update.data}\n\n"
    finally:
        feed.unsubscribe(subscriber)
