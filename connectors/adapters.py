"""Rows of the data folder into input events, and rows that cannot be events into dead letters.

Event times the files do not record are derived by fixed, documented rules (README, "Event
time"), so the same files always give the same events:

- prop lines: `snapshot_file_ts`, which the feed writes without a zone and means UTC;
- 2024-25 game lines: `snapshot_ts`; 2025-26 game lines (no time recorded): the props'
  game-day snapshot time, 17:00 UTC on the game date, or 30 minutes before tip-off if earlier;
- schedule (nba.com team game logs are results): published when the game goes final, at
  tip-off plus `GAME_LENGTH`, like box scores;
- box scores: tip-off plus `GAME_LENGTH`; tip-off from the odds feeds, else 19:30 Eastern.

A 2025-26 team log has one team's row per game; the other side's score is PTS - PLUS_MINUS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.files import DataLayout, SourceRow, read_rows
from connectors.serde import reason_of
from vocabulary.events import (
    US_EASTERN,
    BoxScore,
    DeadLetter,
    Game,
    GameLine,
    InputEvent,
    PropLine,
    game_key,
    us_game_date,
)
from vocabulary.teams import resolve_team

__all__ = ["GAME_LENGTH", "Record", "read_records"]

GAME_LENGTH = timedelta(hours=2, minutes=30)
DEFAULT_TIPOFF_ET = time(19, 30)
GAME_LINE_SNAPSHOT_UTC = time(17, 0)
GAME_LINE_LEAD = timedelta(minutes=30)
SEASON_TYPES = {
    "001": "preseason",
    "002": "regular",
    "003": "all_star",
    "004": "playoffs",
    "005": "play_in",
    "006": "cup_final",
}
TOPIC_RANK = {"games": 0, "game_lines": 1, "props": 2, "box_scores": 3}


@dataclass(frozen=True, slots=True)
class Record:
    """One unit read from the files: an event or a dead letter, the rows it stands for, and the
    game date it belongs to (for `--from/--to`; None when a bad row has no readable date)."""

    topic: str
    event: InputEvent | None
    dead_letter: DeadLetter | None
    rows: int
    day: date | None


class _RowError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _none_if_blank(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if v == "" else v) for k, v in fields.items()}


def _utc(text: str | None, field: str = "ts") -> datetime:
    """A feed timestamp; the feeds write UTC, some without saying so."""
    try:
        value = datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError as exc:
        raise _RowError(f"{field}:datetime_parsing", f"{field} {text!r} is not an ISO timestamp") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def _build(
    topic: str,
    model: type[BaseModel],
    rows: list[SourceRow],
    day: date | None,
    build: Callable[[], dict[str, Any]],
) -> Record:
    """Validate one candidate event; any failure becomes a dead letter for all its rows."""
    bad_width = next((r for r in rows if r.width_error), None)
    if bad_width is not None:
        return _dead(topic, rows, day, "row:field_count", f"line {bad_width.line}: {bad_width.width_error}")
    try:
        event = model.model_validate(build())
    except ValidationError as exc:
        return _dead(topic, rows, day, reason_of(exc), str(exc))
    except (_RowError, ValueError, KeyError) as exc:
        reason = exc.reason if isinstance(exc, _RowError) else f"malformed:{type(exc).__name__}"
        return _dead(topic, rows, day, reason, str(exc))
    return Record(topic, event, None, len(rows), day)  # type: ignore[arg-type]


def _dead(topic: str, rows: list[SourceRow], day: date | None, reason: str, detail: str) -> Record:
    letter = DeadLetter(
        source=rows[0].file,
        offset=rows[0].line,
        rows=len(rows),
        original="\n".join(r.raw for r in rows).encode(),
        reason=reason,
        detail=detail,
    )
    return Record(topic, None, letter, len(rows), day)


def _split_matchup(text: str) -> tuple[str, str]:
    """`"MIN @ PHX"` -> ("MIN", "PHX") as (away, home); `"MIN vs. WAS"` -> ("WAS", "MIN")."""
    if " @ " in text:
        away, home = text.split(" @ ", 1)
        return away.strip(), home.strip()
    if " vs. " in text:
        home, away = text.split(" vs. ", 1)
        return away.strip(), home.strip()
    raise _RowError("matchup:malformed", f"matchup {text!r} is neither 'A @ B' nor 'A vs. B'")


class TipoffIndex:
    """Tip-off times by game key, from every odds file (earliest seen wins, so it is stable)."""

    def __init__(self) -> None:
        self._tipoffs: dict[str, datetime] = {}

    def add(self, home: str | None, away: str | None, tipoff_text: str | None) -> None:
        home_abbr, away_abbr = resolve_team(home or ""), resolve_team(away or "")
        try:
            tipoff = _utc(tipoff_text)
        except _RowError:
            return
        if home_abbr and away_abbr:
            key = game_key(us_game_date(tipoff), away_abbr, home_abbr)
            self._tipoffs[key] = min(tipoff, self._tipoffs.get(key, tipoff))

    def get(self, key: str) -> datetime | None:
        return self._tipoffs.get(key)

    def get_or_default(self, key: str, game_date: date) -> datetime:
        default = datetime.combine(game_date, DEFAULT_TIPOFF_ET, tzinfo=US_EASTERN).astimezone(UTC)
        return self._tipoffs.get(key, default)


def _tipoff_index(layout: DataLayout) -> TipoffIndex:
    index = TipoffIndex()
    for path in (*layout.game_lines, *layout.game_line_snapshots, *layout.game_events):
        for row in read_rows(path):
            f = row.fields
            index.add(f.get("home_team"), f.get("away_team"), f.get("commence_time"))
    for path in layout.props:
        for row in read_rows(path):
            away, _, home = (row.fields.get("game") or "").partition(" @ ")
            index.add(home, away, row.fields.get("game_time"))
    return index


def _props(layout: DataLayout) -> Iterator[Record]:
    for path in layout.props:
        yield from _mark_main_lines([_prop(row) for row in read_rows(path, layout.label(path))])


def _prop(row: SourceRow) -> Record:
    f = _none_if_blank(row.fields)

    def build() -> dict[str, Any]:
        away, sep, home = (f.get("game") or "").partition(" @ ")
        if not sep:
            raise _RowError("game:malformed", f"game {f.get('game')!r} is not 'Away @ Home'")
        market = f.get("market") or ""
        return {
            "ts": _utc(f.get("snapshot_file_ts")),
            "event_id": f.get("event_id"),
            "home_team": home,
            "away_team": away,
            "tipoff": f.get("game_time"),
            "book": f.get("bookmaker"),
            "market": market.removeprefix("player_"),
            "player_name": f.get("player"),
            "line": f.get("line"),
            "over_price": f.get("over_odds"),
            "under_price": f.get("under_odds"),
            "is_main": False,
        }

    return _build("props", PropLine, [row], _day(f.get("snapshot_file_ts")), build)


def _mark_main_lines(records: list[Record]) -> Iterator[Record]:
    """Among one book's lines for one player and game at one time, the main line is the one
    whose prices are closest to even (ties: the lower line); a one-sided quote is main only
    when it is the book's only line."""
    groups: dict[tuple[Any, ...], list[tuple[int, PropLine]]] = defaultdict(list)
    for i, record in enumerate(records):
        if isinstance(record.event, PropLine):
            e = record.event
            groups[(e.ts, e.event_id, e.player_name, e.book, e.market)].append((i, e))
    for members in groups.values():
        i, event = min(members, key=lambda m: (_distance_from_even(m[1]), m[1].line))
        records[i] = Record("props", event.model_copy(update={"is_main": True}), None, 1, records[i].day)
    yield from records


def _implied(price: float) -> float:
    return 100 / (price + 100) if price > 0 else -price / (-price + 100)


def _distance_from_even(event: PropLine) -> float:
    if event.under_price is None:
        return float("inf")
    return abs(_implied(event.over_price) - _implied(event.under_price))


def _game_lines(layout: DataLayout, tipoffs: TipoffIndex) -> Iterator[Record]:
    for path, snapshots in [(p, True) for p in layout.game_line_snapshots] + [
        (p, False) for p in layout.game_lines
    ]:
        groups: dict[tuple[str | None, ...], list[SourceRow]] = defaultdict(list)
        for row in read_rows(path, layout.label(path)):
            f = row.fields
            groups[
                (f.get("snapshot_ts") if snapshots else None, f.get("event_id"), f.get("bookmaker"))
            ].append(row)
        for rows in groups.values():
            yield _game_line(rows, snapshots)


def _game_line_ts(tipoff: datetime) -> datetime:
    snapshot = datetime.combine(us_game_date(tipoff), GAME_LINE_SNAPSHOT_UTC, tzinfo=UTC)
    return min(snapshot, tipoff - GAME_LINE_LEAD)


def _game_line(rows: list[SourceRow], snapshots: bool) -> Record:
    first = _none_if_blank(rows[0].fields)

    def build() -> dict[str, Any]:
        tipoff = _utc(first.get("commence_time"), "tipoff")
        line: dict[str, Any] = {
            "ts": _utc(first.get("snapshot_ts")) if snapshots else _game_line_ts(tipoff),
            "event_id": first.get("event_id"),
            "home_team": first.get("home_team"),
            "away_team": first.get("away_team"),
            "tipoff": tipoff,
            "book": first.get("bookmaker"),
        }
        for row in rows:
            _apply_outcome(line, _none_if_blank(row.fields), first)
        return line

    return _build("game_lines", GameLine, rows, _day(first.get("commence_time")), build)


def _apply_outcome(line: dict[str, Any], f: dict[str, Any], first: dict[str, Any]) -> None:
    market, outcome = f.get("market"), f.get("outcome_name")
    side = {first.get("home_team"): "home", first.get("away_team"): "away"}.get(outcome)
    if market == "totals" and outcome in ("Over", "Under"):
        line["total"] = f.get("point")
        line[f"total_{outcome.lower()}_price"] = f.get("price")
    elif market == "spreads" and side:
        if side == "home":
            line["spread_home"] = f.get("point")
        line[f"spread_{side}_price"] = f.get("price")
    elif market == "h2h" and side:
        line[f"moneyline_{side}"] = f.get("price")
    else:
        raise _RowError("outcome:unexpected", f"market {market!r} with outcome {outcome!r}")


def _schedule(layout: DataLayout, tipoffs: TipoffIndex) -> Iterator[Record]:
    for path in layout.schedule:
        groups: dict[str | None, list[SourceRow]] = defaultdict(list)
        for row in read_rows(path, layout.label(path)):
            groups[row.fields.get("GAME_ID")].append(row)
        for rows in groups.values():
            yield _game(rows, tipoffs)


def _scores(rows: list[SourceRow], home: str, away: str) -> dict[str, Any]:
    """Both final scores, from two team rows or from one row's PTS and PLUS_MINUS."""
    scores: dict[str, Any] = {}
    for row in rows:
        f = row.fields
        team, points, margin = f.get("TEAM_ABBREVIATION"), f.get("PTS"), f.get("PLUS_MINUS")
        side, other = ("home", "away") if team == home else ("away", "home") if team == away else (None, None)
        if side is None or not points:
            continue
        scores[f"{side}_points"] = points
        if margin and f"{other}_points" not in scores:
            scores[f"{other}_points"] = round(float(points) - float(margin))
    return scores


def _game(rows: list[SourceRow], tipoffs: TipoffIndex) -> Record:
    first = _none_if_blank(rows[0].fields)

    def build() -> dict[str, Any]:
        away, home = _split_matchup(first.get("MATCHUP") or "")
        game_date = date.fromisoformat(first["GAME_DATE"][:10])
        key = game_key(game_date, resolve_team(away) or away, resolve_team(home) or home)
        final = bool(first.get("WL"))
        return {
            "ts": tipoffs.get_or_default(key, game_date) + GAME_LENGTH,
            "game_id": first.get("GAME_ID"),
            "game_date": game_date,
            "home_team": home,
            "away_team": away,
            "tipoff": tipoffs.get(key),
            "season_type": SEASON_TYPES.get((first.get("GAME_ID") or "")[:3], "unknown"),
            "status": "final" if final else "scheduled",
            **(_scores(rows, home, away) if final else {}),
        }

    return _build("games", Game, rows, _day(first.get("GAME_DATE")), build)


def _box_scores(layout: DataLayout, tipoffs: TipoffIndex) -> Iterator[Record]:
    for path in layout.box_scores:
        for row in read_rows(path, layout.label(path)):
            yield _box_score(row, tipoffs)


def _box_score(row: SourceRow, tipoffs: TipoffIndex) -> Record:
    f = _none_if_blank(row.fields)

    def build() -> dict[str, Any]:
        team = (f.get("matchup") or "").split(" ", 1)[0]
        game_date = date.fromisoformat(f["date"])
        home = {"HOME": True, "AWAY": False}.get(f.get("home_away") or "", f.get("home_away"))
        away_abbr, home_abbr = (f.get("opponent"), team) if home is True else (team, f.get("opponent"))
        key = game_key(game_date, resolve_team(away_abbr or "") or "", resolve_team(home_abbr or "") or "")
        return {
            "ts": tipoffs.get_or_default(key, game_date) + GAME_LENGTH,
            "player_id": f.get("player_id"),
            "player_name": f.get("player"),
            "game_date": game_date,
            "team": team,
            "opponent": f.get("opponent"),
            "home": home,
            "minutes": f.get("minutes"),
            "points": f.get("pts"),
            "rebounds": f.get("reb"),
            "offensive_rebounds": f.get("oreb"),
            "defensive_rebounds": f.get("dreb"),
            "assists": f.get("ast"),
            "steals": f.get("stl"),
            "blocks": f.get("blk"),
            "turnovers": f.get("tov"),
            "fouls": f.get("pf"),
            "fgm": f.get("fgm"),
            "fga": f.get("fga"),
            "fg3m": f.get("threes_made"),
            "fg3a": f.get("threes_attempted"),
            "ftm": f.get("ftm"),
            "fta": f.get("fta"),
            "plus_minus": f.get("plus_minus"),
        }

    return _build("box_scores", BoxScore, [row], _day(f.get("date")), build)


def read_records(layout: DataLayout) -> list[Record]:
    """Every record of the folder, in event-time order (ties: games, game lines, props, box
    scores, then file order). Dead letters keep their file position."""
    tipoffs = _tipoff_index(layout)
    records: Iterable[Record] = [
        *_schedule(layout, tipoffs),
        *_game_lines(layout, tipoffs),
        *_props(layout),
        *_box_scores(layout, tipoffs),
    ]
    ordered = sorted(
        enumerate(records),
        key=lambda item: (
            item[1].event.ts if item[1].event else datetime.min.replace(tzinfo=UTC),
            TOPIC_RANK[item[1].topic],
            item[0],
        ),
    )
    return [record for _, record in ordered]
