"""The dashboard's HTTP server: three pages, a JSON API over the read-only database, and a
server-sent-event stream of live predictions and grades.

Pages are static files that render with DOM text nodes (never HTML strings), and every
response carries a Content-Security-Policy allowing only this server's own scripts: names and
teams come from outside feeds, so they are data, never markup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr

from dashboard.live import LiveFeed
from dashboard.queries import Reader
from dashboard.timeline import timeline

__all__ = ["DashboardConfig", "create_app"]

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_KEEPALIVE_S = 15.0

Market = Literal["points", "rebounds", "assists", "threes"]
GameKey = Annotated[str, Query(pattern=r"^\d{8}-[A-Z]{2,4}@[A-Z]{2,4}$")]
ModelName = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


@dataclass(frozen=True)
class DashboardConfig:
    reader_dsn: SecretStr
    kafka_bootstrap: str | None  # None: no live updates (the pages still load from the database)
    predictions_topic: str
    grades_topic: str
    default_model: str


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def create_app(config: DashboardConfig) -> FastAPI:
    reader = Reader(config.reader_dsn)
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

    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        logger.error("database unavailable: %s", exc)
        return JSONResponse({"detail": f"database unavailable: {exc}"}, status_code=503)

    for page in ("slate", "prop", "models"):
        path = "/" if page == "slate" else f"/{page}"
        app.add_api_route(path, _page(page), include_in_schema=False)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        reader.ping()
        return {"database": "ok", "live": feed.status() if feed else None}

    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"models": reader.models(), "default": config.default_model}

    @app.get("/api/dates")
    def dates(model: ModelName | None = None) -> list[dict[str, Any]]:
        return reader.dates(model or config.default_model)

    @app.get("/api/slate")
    def slate(
        day: Annotated[date, Query(alias="date")],
        model: ModelName | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """Every prop of a game date for one model; with `as_of`, as it stood then (event time)."""
        chosen = model or config.default_model
        moment = _utc(as_of) if as_of else None
        return {"date": day, "model": chosen, "as_of": moment, "rows": reader.slate(day, chosen, moment)}

    @app.get("/api/prop")
    def prop(
        player_id: Annotated[int, Query(gt=0)],
        game_key: GameKey,
        market: Market = "points",
        model: ModelName | None = None,
    ) -> dict[str, Any]:
        chosen = model or config.default_model
        history, grades = reader.prop(player_id, game_key, market, chosen)
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
            "history": history,
            "grades": grades,
            "timeline": [asdict(e) for e in timeline(history, grades)],
        }

    @app.get("/api/performance")
    def performance(
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> list[dict[str, Any]]:
        last = end or datetime.now(UTC).date()
        return reader.performance(start or last - timedelta(days=3650), last)

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
