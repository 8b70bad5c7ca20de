"""A slate's coverage from Postgres: what it covers, what it does not, and why.

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
- predicted props that are not actionable, by reason (`why_not_actionable`): the champion's
  reasons, with the defaulted-inputs gate spelled out as `missing_game_lines` and
  `defaulted:<input>=<why>`, and `stale_quote` for a predicted prop whose newest quote is stale
  at the report's time (the model's gate knows no wall clock); a prop counts under each of its
  reasons;
- predicted props with defaulted inputs, by input (`predictions_latest.defaulted`);
- freshness: the newest quote applied per book (`as_of` of the latest predictions, event time)
  and when it arrived (their `emitted_at`, the wall clock of the worker that scored it); with the
  games topic's schedule, the props of a game not yet tipped off whose newest quote is older
  than the configured age, per book (`is_stale`: the one rule, the dashboard's slate uses it);
- grading: props graded, props predicted (by any model) and not graded, and the game flagged
  (`grading_gap`) when its date is past the grading delay and props of it are still ungraded.

`SlateHealth.without_any_prediction` names the games with props and not one prediction: the
alert (the dashboard's health page shows it as one, the CLI says it in its last line).
"""

from __future__ import annotations

import json
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

from vocabulary.events import game_key, us_game_date
from vocabulary.keys import canonical_player
from vocabulary.teams import resolve_team

__all__ = [
    "GameHealth",
    "Schedule",
    "SlateHealth",
    "is_stale",
    "newest_day",
    "slate_health",
    "why_not_actionable",
]

Prop = tuple[str, str, str, str]  # (canonical player, game_key, book, market)
_GameBook = tuple[str, str]
_Newest = dict[_GameBook, datetime]
Schedule = Mapping[str, tuple[datetime | None, str]]  # game_key -> (tip-off, status)
MISSING_GAME_LINES = "missing_game_lines"
_NO_GAME_LINES = "=no_game_lines"  # the feature store's default for a game without game lines


@dataclass
class GameHealth:
    game: str
    props_by_book: dict[str, int] = field(default_factory=dict)
    props: int = 0
    predicted: int = 0
    actionable: int = 0
    without_prediction: dict[str, int] = field(default_factory=dict)
    not_actionable: dict[str, int] = field(default_factory=dict)  # a prop under each reason
    defaulted: dict[str, int] = field(default_factory=dict)
    last_quote_by_book: dict[str, str] = field(default_factory=dict)  # event time
    last_arrival_by_book: dict[str, str] = field(default_factory=dict)  # wall clock, when emitted
    graded: int = 0
    ungraded: int = 0  # predicted by some model, no grade (yet)
    grading_gap: bool = False
    tipoff: str | None = None  # from the games topic, when it was read
    final: bool | None = None
    stale_by_book: dict[str, int] = field(default_factory=dict)  # before tip-off only

    @property
    def without_any_prediction(self) -> bool:
        """Props, and not one prediction from any model: the alert."""
        some_model = any(r.startswith("missing_model:") for r in self.without_prediction)
        return self.props > 0 and self.predicted == 0 and not some_model


@dataclass
class SlateHealth:
    day: date
    models: list[str]
    games: list[GameHealth]
    unattributed_dead_letters: dict[str, int]  # props dead letters naming no game (bad JSON...)
    newest_event_by_topic: dict[str, str | None] = field(default_factory=dict)  # from Kafka

    @property
    def without_any_prediction(self) -> list[str]:
        return [g.game for g in self.games if g.without_any_prediction]

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["without_any_prediction"] = self.without_any_prediction
        return data

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)


def is_stale(as_of: datetime, tipoff: datetime | None, now: datetime, stale_after: timedelta) -> bool:
    """A quote is stale when its game has not tipped off at `now` and the quote is older than
    `stale_after`. The tip-off alone decides (a game is final only after it); a game whose
    tip-off is unknown is never stale."""
    return tipoff is not None and now < tipoff and as_of < now - stale_after


def why_not_actionable(reasons: Sequence[str], defaulted: Sequence[str]) -> list[str]:
    """A prediction's reasons not to act, with the defaulted-inputs gate spelled out: the game's
    lines missing (`missing_game_lines`), and each other defaulted input (`defaulted:name=why`)."""
    out: list[str] = []
    for reason in reasons:
        if not reason.startswith("defaulted_features>"):
            out.append(reason)
            continue
        if any(d.endswith(_NO_GAME_LINES) for d in defaulted):
            out.append(MISSING_GAME_LINES)
        out += [f"defaulted:{d}" for d in defaulted if not d.endswith(_NO_GAME_LINES)]
    return out


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


@dataclass(frozen=True)
class _Prediction:
    actionable: bool
    reasons: list[str]
    defaulted: list[str]


def _read(dsn: str, day: date, props_topic: str) -> tuple[list[tuple], list[tuple], list[tuple]]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        latest = conn.execute(
            "SELECT model, player_name, game_key, book, market, actionable, reasons, defaulted, as_of, "
            "emitted_at FROM predictions_latest WHERE game_date = %s",
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
    return latest, graded, dead


def _index(
    latest: list[tuple],  # type: ignore[type-arg]
) -> tuple[dict[Prop, dict[str, _Prediction]], dict[Prop, datetime], _Newest, _Newest]:
    """The latest predictions by prop and model; the newest quote each prop was predicted on;
    the newest quote and the newest arrival per (game, book)."""
    by_prop: dict[Prop, dict[str, _Prediction]] = defaultdict(dict)
    quoted: dict[Prop, datetime] = {}
    last_quote: dict[_GameBook, datetime] = {}
    last_arrival: dict[_GameBook, datetime] = {}
    for model, name, game, book, market, actionable, reasons, defaulted, as_of, emitted in latest:
        prop_key = (canonical_player(name or ""), game, book, market)
        by_prop[prop_key][model] = _Prediction(actionable, list(reasons), list(defaulted))
        last_quote[(game, book)] = max(last_quote.get((game, book), as_of), as_of)
        if emitted is not None:
            last_arrival[(game, book)] = max(last_arrival.get((game, book), emitted), emitted)
        quoted[prop_key] = max(quoted.get(prop_key, as_of), as_of)
    return by_prop, quoted, last_quote, last_arrival


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
    """The slate's coverage (module docstring). With `games_of_day` (tip-off and status per
    game), a game not yet tipped off counts per book its props whose newest quote is stale."""
    now = now or datetime.now(UTC)
    latest, graded, dead = _read(dsn, day, props_topic)
    by_prop, quoted, last_quote, last_arrival = _index(latest)
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
    for (game, book), emitted in last_arrival.items():
        game_of(game).last_arrival_by_book[book] = emitted.astimezone(UTC).isoformat()
    day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    for health in games.values():
        health.grading_gap = health.ungraded > 0 and now >= day_end + grading_delay
    schedule = games_of_day or {}
    for game_name, (tipoff, status) in schedule.items():
        _mark_schedule(game_of(game_name), tipoff, status, now)
    for prop, as_of in quoted.items():
        if is_stale(as_of, schedule.get(prop[1], (None, ""))[0], now, stale_after):
            _mark_stale(games[prop[1]], prop, predicted=prop in by_prop)
    return SlateHealth(day, list(models), sorted(games.values(), key=lambda g: g.game), dict(unattributed))


def _mark_stale(health: GameHealth, prop: Prop, *, predicted: bool) -> None:
    """A prop whose newest quote is stale: counted for its book and, predicted, as a reason not
    to act on it now."""
    health.stale_by_book[prop[2]] += 1
    if predicted:
        health.not_actionable["stale_quote"] = health.not_actionable.get("stale_quote", 0) + 1


def _mark_schedule(health: GameHealth, tipoff: datetime | None, status: str, now: datetime) -> None:
    """A game's tip-off and status; before tip-off, every book of it is watched for staleness."""
    health.tipoff, health.final = (tipoff.isoformat() if tipoff else None), status == "final"
    if tipoff is not None and now < tipoff:
        health.stale_by_book = dict.fromkeys(health.props_by_book, 0)


def _count(
    health: GameHealth,
    prop: Prop,
    predictions: dict[str, _Prediction],
    dead_reason: str,
    *,
    models: list[str],
    champion: str,
) -> None:
    """One prop of a game: its book, and predicted by every model, or the reason it is not;
    actionable, or why not."""
    health.props += 1
    health.props_by_book[prop[2]] = health.props_by_book.get(prop[2], 0) + 1
    missing = [m for m in models if m not in predictions]
    reason = dead_reason if not predictions else "missing_model:" + ",".join(missing) if missing else None
    if reason is not None:
        health.without_prediction[reason] = health.without_prediction.get(reason, 0) + 1
    else:
        health.predicted += 1
        chosen = predictions[champion]
        if chosen.actionable:
            health.actionable += 1
        for why in why_not_actionable(chosen.reasons, chosen.defaulted):
            health.not_actionable[why] = health.not_actionable.get(why, 0) + 1
    for item in sorted({d for p in predictions.values() for d in p.defaulted}):
        health.defaulted[item] = health.defaulted.get(item, 0) + 1


def newest_day(dsn: str) -> date | None:
    """The newest game date with a prediction: the current slate."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(game_date) FROM predictions_latest").fetchone()
    return row[0] if row else None
