"""`propstream health`: what a slate covers and what it does not, and why, from Postgres.

Postgres holds the worker's outputs, not its inputs, so a slate's props are the ones that
left a trace: a current prediction (`predictions_latest`) or a dead letter from the props
topic (`dead_letters`, whose `original` names the game, book, market and player as the book
spells him). A prop is keyed by (canonical player name, game, book, market), so a prop
dead-lettered while its player was unknown and predicted once he was known counts once, as
predicted. For each game of the slate:

- props per book, props with a current prediction from every active model, actionable ones
  (the champion's prediction is actionable);
- props without a prediction, by reason: the dead letter's reason (`unknown_player`,
  `market:unsupported`, ...), or `missing_model:<name>` when some active model has none;
- predicted props with defaulted inputs, by input (`predictions_latest.defaulted`);
- freshness: the newest quote applied per book (`as_of` of the latest predictions); with the
  games topic's schedule, the props of a game not yet tipped off whose newest quote is older
  than the configured age, per book (stale quotes);
- grading: props graded, props predicted (by any model) and not graded, and the game flagged
  (`grading_gap`) when its date is past the grading delay and props of it are still ungraded.

`publish` sets `propstream_slate_props_without_prediction{game,reason}` and
`propstream_quote_stale{book,game}` (the alert rules' metrics) and
`propstream_props_ungraded{game}`; the worker refreshes them (`keep_publishing`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import Gauge

from connectors.kafka_config import client_config
from connectors.serde import decode
from vocabulary.errors import DecodeError
from vocabulary.events import Game, game_key, us_game_date
from vocabulary.keys import canonical_player
from vocabulary.teams import resolve_team

__all__ = [
    "GameHealth",
    "SlateHealth",
    "keep_publishing",
    "newest_day",
    "publish",
    "schedule",
    "slate_health",
    "topic_freshness",
]

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
WITHOUT_PREDICTION = Gauge(
    "propstream_slate_props_without_prediction",
    "props of the current slate with no current prediction, by game and reason",
    ["game", "reason"],
)

Prop = tuple[str, str, str, str]  # (canonical player, game_key, book, market)
Schedule = Mapping[str, tuple[datetime | None, str]]  # game_key -> (tip-off, status)


@dataclass
class GameHealth:
    game: str
    props_by_book: dict[str, int] = field(default_factory=dict)
    props: int = 0
    predicted: int = 0
    actionable: int = 0
    without_prediction: dict[str, int] = field(default_factory=dict)
    defaulted: dict[str, int] = field(default_factory=dict)
    last_quote_by_book: dict[str, str] = field(default_factory=dict)
    graded: int = 0
    ungraded: int = 0  # predicted by some model, no grade (yet)
    grading_gap: bool = False
    tipoff: str | None = None  # from the games topic, when it was read
    final: bool | None = None
    stale_by_book: dict[str, int] = field(default_factory=dict)  # before tip-off only


@dataclass
class SlateHealth:
    day: date
    models: list[str]
    games: list[GameHealth]
    unattributed_dead_letters: dict[str, int]  # props dead letters naming no game (bad JSON...)
    newest_event_by_topic: dict[str, str | None] = field(default_factory=dict)  # from Kafka

    def as_json(self) -> str:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return json.dumps(data, indent=2, sort_keys=True)


def _dead_prop(original: str) -> tuple[str, str, str, str, date] | None:
    """(player, game, book, market, game date) of a dead-lettered prop, if its JSON names them."""
    try:
        data = json.loads(original)
        away, home = resolve_team(data["away_team"]), resolve_team(data["home_team"])
        tipoff = datetime.fromisoformat(str(data["tipoff"]).replace("Z", "+00:00"))
        if away is None or home is None or tipoff.tzinfo is None:
            return None
        day = us_game_date(tipoff)
        return (
            canonical_player(str(data["player_name"])),
            game_key(day, away, home),
            str(data["book"]),
            str(data["market"]),
            day,
        )
    except (ValueError, KeyError, TypeError):
        return None


def slate_health(
    dsn: str,
    day: date,
    models: list[str],
    champion: str,
    props_topic: str,
    *,
    grading_delay: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    games_of_day: Schedule | None = None,
    stale_after: timedelta = timedelta(minutes=30),
) -> SlateHealth:
    """The slate's coverage (module docstring). With `games_of_day` (`schedule`: tip-off and
    status per game), a game not yet tipped off counts per book its props whose newest quote
    is older than `stale_after`."""
    now = now or datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        latest = conn.execute(
            "SELECT model, player_name, game_key, book, market, actionable, defaulted, as_of "
            "FROM predictions_latest WHERE game_date = %s",
            (day,),
        ).fetchall()
        graded = conn.execute(
            "SELECT DISTINCT player_name, game_key, book, market FROM grades WHERE game_date = %s", (day,)
        ).fetchall()
        # the printable preview of the original bytes (a valid event's JSON whole); a superset
        # of the day's props in SQL (a US date's tip-offs fall on it or the next UTC
        # day), and the rows naming no game at all; exact in Python below
        dead = conn.execute(
            "SELECT reason, preview FROM dead_letters WHERE source = %s AND (preview LIKE %s "
            "OR preview LIKE %s OR preview NOT LIKE %s)",
            (
                props_topic,
                f'%"tipoff":%"{day.isoformat()}T%',
                f'%"tipoff":%"{(day + timedelta(days=1)).isoformat()}T%',
                '%"tipoff":%',
            ),
        ).fetchall()

    by_prop: dict[Prop, dict[str, tuple[bool, list[str]]]] = defaultdict(dict)
    quoted: dict[Prop, datetime] = {}  # the newest quote a prop was predicted on
    last_quote: dict[tuple[str, str], datetime] = {}
    for model, name, game, book, market, actionable, defaulted, as_of in latest:
        by_prop[(canonical_player(name or ""), game, book, market)][model] = (actionable, list(defaulted))
        key = (game, book)
        last_quote[key] = max(last_quote.get(key, as_of), as_of)
        prop_key = (canonical_player(name or ""), game, book, market)
        quoted[prop_key] = max(quoted.get(prop_key, as_of), as_of)
    graded_props = {(canonical_player(n or ""), g, b, m) for n, g, b, m in graded}

    dead_reasons: dict[Prop, str] = {}
    unattributed: Tally[str] = Tally()
    for reason, original in dead:
        named = _dead_prop(original)
        if named is None:
            unattributed[reason] += 1
        elif named[4] == day:
            dead_reasons.setdefault(named[:4], reason)

    games: dict[str, GameHealth] = {}

    def game_of(name: str) -> GameHealth:
        return games.setdefault(name, GameHealth(name))

    for prop in set(by_prop) | set(dead_reasons):
        dead_reason = dead_reasons.get(prop, "unknown")
        _count(game_of(prop[1]), prop, by_prop.get(prop, {}), dead_reason, models=models, champion=champion)
        if prop in graded_props:
            game_of(prop[1]).graded += 1
        elif prop in by_prop:
            game_of(prop[1]).ungraded += 1
    for (game, book), as_of in last_quote.items():
        game_of(game).last_quote_by_book[book] = as_of.astimezone(UTC).isoformat()
    day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    for health in games.values():
        health.grading_gap = health.ungraded > 0 and now >= day_end + grading_delay
    for game_name, (tipoff, status) in (games_of_day or {}).items():
        _mark_schedule(game_of(game_name), tipoff, status, now)
    for prop, as_of in quoted.items():
        health = games[prop[1]]
        if prop[2] in health.stale_by_book and as_of < now - stale_after:
            health.stale_by_book[prop[2]] += 1
    return SlateHealth(day, list(models), sorted(games.values(), key=lambda g: g.game), dict(unattributed))


def _mark_schedule(health: GameHealth, tipoff: datetime | None, status: str, now: datetime) -> None:
    """A game's tip-off and status; before tip-off, every book of it is watched for staleness."""
    health.tipoff, health.final = (tipoff.isoformat() if tipoff else None), status == "final"
    if tipoff is not None and now < tipoff and status != "final":
        health.stale_by_book = dict.fromkeys(health.props_by_book, 0)


def _count(
    health: GameHealth,
    prop: Prop,
    predictions: dict[str, tuple[bool, list[str]]],
    dead_reason: str,
    *,
    models: list[str],
    champion: str,
) -> None:
    """One prop of a game: its book, and predicted by every model, or the reason it is not."""
    health.props += 1
    health.props_by_book[prop[2]] = health.props_by_book.get(prop[2], 0) + 1
    missing = [m for m in models if m not in predictions]
    reason = dead_reason if not predictions else "missing_model:" + ",".join(missing) if missing else None
    if reason is not None:
        health.without_prediction[reason] = health.without_prediction.get(reason, 0) + 1
    else:
        health.predicted += 1
        if predictions[champion][0]:
            health.actionable += 1
    for item in sorted({d for _, defaulted in predictions.values() for d in defaulted}):
        health.defaulted[item] = health.defaulted.get(item, 0) + 1


def _reader(bootstrap: str) -> Consumer:
    """A consumer of its own throwaway group that commits nothing (health only looks)."""
    return Consumer(
        client_config(
            bootstrap, {"group.id": f"propstream-health-{uuid.uuid4().hex}", "enable.auto.commit": False}
        )
    )


def topic_freshness(bootstrap: str, topics: list[str], timeout_s: float = 10) -> dict[str, str | None]:
    """The newest message's event time (its Kafka timestamp: the loader and the producers stamp
    event time) per topic, ISO UTC; None for an empty topic. Reads the last message of each
    partition with a throwaway consumer that commits nothing."""
    consumer = _reader(bootstrap)
    newest: dict[str, int | None] = dict.fromkeys(topics)
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        assignment = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions if topic in metadata.topics else ():
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s
                )
                if high > low:
                    assignment.append(TopicPartition(topic, partition, high - 1))
        consumer.assign(assignment)
        remaining = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(len(remaining), timeout=1):
                if message.error() is not None or message.topic() is None:
                    continue
                topic, stamp = str(message.topic()), message.timestamp()[1]
                remaining.discard((topic, int(message.partition() or 0)))
                newest[topic] = max(newest[topic] or stamp, stamp)
    finally:
        consumer.close()
    return {
        t: None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()
        for t, ms in newest.items()
    }


def schedule(
    bootstrap: str, topic: str, day: date, timeout_s: float = 10
) -> dict[str, tuple[datetime | None, str]]:
    """Tip-off and status (`scheduled`, `final`) of the day's games: the newest message per game
    of the games topic, read whole (a season is a few thousand messages)."""
    consumer = _reader(bootstrap)
    out: dict[str, tuple[datetime | None, str]] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
        ends: dict[int, int] = {}
        assignment = []
        for partition in metadata.topics[topic].partitions if topic in metadata.topics else ():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1):
                if message.error() is not None:
                    continue
                partition, offset = int(message.partition() or 0), int(message.offset() or 0)
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
                try:
                    game = decode(message.value(), Game)
                except DecodeError:
                    continue
                if game.game_date == day:
                    out[game.game_key] = (game.tipoff, game.status)
    finally:
        consumer.close()
    return out


def newest_day(dsn: str) -> date | None:
    """The newest game date with a prediction: the current slate."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(game_date) FROM predictions_latest").fetchone()
    return row[0] if row else None


def keep_publishing(  # noqa: PLR0917
    dsn: str,
    models: list[str],
    champion: str,
    props_topic: str,
    every_s: float,
    kafka: tuple[str, str] | None = None,
) -> threading.Event:
    """Refresh the coverage gauges of the current slate every `every_s` seconds in a daemon
    thread (the worker's, beside its metrics); with `kafka` (bootstrap, games topic), the
    stale quotes too. Set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                day = newest_day(dsn)
                if day is not None:
                    games = schedule(kafka[0], kafka[1], day) if kafka else None
                    earlier = slate_health(dsn, day - timedelta(days=1), models, champion, props_topic)
                    newest = slate_health(dsn, day, models, champion, props_topic, games_of_day=games)
                    publish(newest, earlier)
            except (psycopg.Error, KafkaException) as exc:
                logger.warning("slate coverage not refreshed: %s", " ".join(str(exc).split()))
            stop.wait(every_s)

    threading.Thread(target=loop, name="slate-health", daemon=True).start()
    return stop


def publish(report: SlateHealth, *earlier: SlateHealth) -> None:
    """The alert rules' gauge: this slate's props without a prediction, by game and reason;
    and the ungraded props of games past the grading delay, of this slate and `earlier` ones."""
    WITHOUT_PREDICTION.clear()
    for game in report.games:
        for reason, n in game.without_prediction.items():
            WITHOUT_PREDICTION.labels(game.game, reason).set(n)
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
    the props without a prediction by reason, the defaulted inputs, the props per book."""
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
            max((g.last_quote_by_book.get(b, "") for g in report.games), default="")[:16].replace("T", " ")
            or "-",
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
        ("Predicted with defaulted inputs", ["game", "input=why", "props"], defaulted),
        ("Props per book", ["book", "props", "games", "newest quote UTC"], per_book),
        ("Stale quotes before tip-off", ["game", "book", "props"], stale),
    ]
