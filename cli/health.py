"""`propstream health` and the worker's coverage gauges, over the report `monitoring` computes
(the dashboard's health page shows the same report).

`publish` sets `propstream_slate_props_without_prediction{game,reason}`,
`propstream_slate_game_without_predictions{game}` and `propstream_quote_stale{book,game}` (the
alert rules' metrics) and `propstream_props_ungraded{game}`; the worker refreshes them
(`keep_publishing`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import timedelta

import psycopg
from confluent_kafka import KafkaException
from prometheus_client import Gauge

from cli.settings import Settings
from monitoring.coverage import SlateHealth, newest_day
from monitoring.report import HealthConfig, slate_report
from vocabulary.topics import INPUT_TOPICS

__all__ = ["config", "keep_publishing", "publish", "tables"]

logger = logging.getLogger(__name__)

QUOTE_STALE = Gauge(
    "propstream_quote_stale",
    "props of games not yet tipped off whose newest quote is older than the configured age",
    ["book", "game"],
)
UNGRADED = Gauge(
    "propstream_props_ungraded",
    "props predicted and not graded, of games past the grading delay (the last two slates)",
    ["game"],
)
WITHOUT_ANY = Gauge(
    "propstream_slate_game_without_predictions",
    "props of a game of the current slate that has props and not one prediction from any model",
    ["game"],
)
WITHOUT_PREDICTION = Gauge(
    "propstream_slate_props_without_prediction",
    "props of the current slate with no current prediction, by game and reason",
    ["game", "reason"],
)


def config(settings: Settings) -> HealthConfig:
    """The health report's view of the settings (the CLI, the worker and the dashboard)."""
    return HealthConfig(
        models=tuple(settings.models),
        champion=settings.champion,
        props_topic=settings.topic("props"),
        games_topic=settings.topic("games"),
        input_topics=tuple(settings.topic(t) for t in INPUT_TOPICS),
        stale_after=timedelta(minutes=settings.stale_after_min),
        grading_delay=timedelta(hours=settings.grading_delay_h),
    )


def keep_publishing(dsn: str, health: HealthConfig, bootstrap: str, every_s: float) -> threading.Event:
    """Refresh the coverage gauges of the current slate (and the grading gaps of the one
    before) every `every_s` seconds in a daemon thread (the worker's, beside its metrics), the
    stale quotes from the games topic's schedule. Set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                day = newest_day(dsn)
                if day is not None:
                    earlier = slate_report(dsn, day - timedelta(days=1), health, None)
                    publish(slate_report(dsn, day, health, bootstrap), earlier)
            except (psycopg.Error, KafkaException) as exc:
                logger.warning("slate coverage not refreshed: %s", " ".join(str(exc).split()))
            stop.wait(every_s)

    threading.Thread(target=loop, name="slate-health", daemon=True).start()
    return stop


def publish(report: SlateHealth, *earlier: SlateHealth) -> None:
    """The alert rules' gauges: this slate's props without a prediction, by game and reason, and
    the games with props and not one prediction; the stale quotes;
    and the ungraded props of games past the grading delay, of this slate and `earlier` ones."""
    WITHOUT_PREDICTION.clear()
    WITHOUT_ANY.clear()
    for game in report.games:
        for reason, n in game.without_prediction.items():
            WITHOUT_PREDICTION.labels(game.game, reason).set(n)
        if game.without_any_prediction:
            WITHOUT_ANY.labels(game.game).set(game.props)
    QUOTE_STALE.clear()
    for game in report.games:
        for book, n in game.stale_by_book.items():
            QUOTE_STALE.labels(book, game.game).set(n)
    UNGRADED.clear()
    for slate in (report, *earlier):
        for game in slate.games:
            if game.grading_gap:
                UNGRADED.labels(game.game).set(game.ungraded)


def tables(report: SlateHealth) -> list[tuple[str, list[str], list[list[str]]]]:
    """The console's tables (title, headers, rows), narrow enough for 80 columns: the games,
    the props without a prediction by reason, the predicted ones not actionable by reason, the
    defaulted inputs, the props per book, the stale quotes."""
    games = [
        [
            g.game,
            f"{g.props:,}",
            f"{g.predicted:,}",
            f"{g.actionable:,}",
            f"{g.graded:,}" + (f" ({g.ungraded:,} missing)" if g.grading_gap else ""),
            max(g.last_quote_by_book.values(), default="-")[:16].replace("T", " "),
        ]
        for g in report.games
    ]
    reasons = [
        [g.game, reason, f"{n:,}"] for g in report.games for reason, n in sorted(g.without_prediction.items())
    ]
    not_actionable = [
        [g.game, reason, f"{n:,}"] for g in report.games for reason, n in sorted(g.not_actionable.items())
    ]
    defaulted = [[g.game, item, f"{n:,}"] for g in report.games for item, n in sorted(g.defaulted.items())]
    stale = [
        [g.game, book, f"{n:,}"] for g in report.games for book, n in sorted(g.stale_by_book.items()) if n
    ]
    books = sorted({b for g in report.games for b in g.props_by_book})
    per_book = [
        [
            b,
            f"{sum(g.props_by_book.get(b, 0) for g in report.games):,}",
            f"{sum(1 for g in report.games if b in g.props_by_book)}",
            _newest(g.last_quote_by_book.get(b, "") for g in report.games),
            _newest(g.last_arrival_by_book.get(b, "") for g in report.games),
        ]
        for b in books
    ]
    return [
        (
            f"Slate {report.day} (models: {', '.join(report.models)})",
            ["game", "props", "predicted", "actionable", "graded", "newest quote UTC"],
            games,
        ),
        ("Props without a prediction", ["game", "reason", "props"], reasons),
        ("Predicted, not actionable (a prop under each reason)", ["game", "reason", "props"], not_actionable),
        ("Predicted with defaulted inputs", ["game", "input=why", "props"], defaulted),
        ("Props per book", ["book", "props", "games", "newest quote UTC", "arrived UTC"], per_book),
        ("Stale quotes before tip-off", ["game", "book", "props"], stale),
    ]


def _newest(stamps: Iterable[str]) -> str:
    """The newest of ISO UTC times, to the minute, or "-"."""
    return max(stamps, default="")[:16].replace("T", " ") or "-"
