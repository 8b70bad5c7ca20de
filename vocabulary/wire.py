"""The input events' wire form for the hot path: msgspec shapes of the four event types and a
decoder that builds the same frozen pydantic events (vocabulary.events) without validating
them a second time.

The pydantic models stay the schema of record: their rules and their dead-letter reasons
(`<field>:<rule>`). This decoder takes only what it can prove valid with those same rules
(the events module's own rule functions and model validators, called here) and answers None
for anything else, which `connectors.serde.decode` then hands to pydantic for its reason.
Strict on purpose: JSON types as our encoder writes them, times in the canonical RFC 3339
form; whatever pydantic would coerce or read differently (a number as a string, 7 digits of
fractional second, which msgspec rounds and pydantic truncates) is left to pydantic, so an
input decodes to the same event, or the same reason, whichever way it goes
(`tests/vocabulary/test_wire.py` checks both on the shipped data and on generated payloads).
Measured on the shipped history: see `bench/decode_bench.py`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from vocabulary.events import (
    MAX_LINE,
    BoxScore,
    Game,
    GameLine,
    Market,
    PropLine,
    _american_odds,
    _date_in_window,
    _game_total,
    _half_point_line,
    _spread,
    _team,
    _utc,
)
from vocabulary.records import construct

__all__ = ["fast_decode", "market_of"]

E = TypeVar("E", bound=BaseModel)

# the form our encoder writes (and feeds use): anything else goes to pydantic, whose parser
# reads more forms; seconds to microseconds, an offset within a day
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)")

Text = Annotated[str, msgspec.Meta(min_length=2, max_length=80)]
Book = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{2,40}\Z")]  # Python's `$` takes a final \n
Count = Annotated[int, msgspec.Meta(ge=0, le=200)]


class _Wire(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    schema_version: Literal[1] = 1
    ts: str


class _Matchup(_Wire, kw_only=True, forbid_unknown_fields=True, gc=False):
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    home_team: str
    away_team: str
    tipoff: str


class _PropLine(_Matchup, kw_only=True, forbid_unknown_fields=True, gc=False):
    kind: Literal["prop_line"] = "prop_line"
    book: Book
    market: Market
    player_name: Text
    line: float
    over_price: float
    under_price: float | None
    is_main: bool


class _GameLine(_Matchup, kw_only=True, forbid_unknown_fields=True, gc=False):
    kind: Literal["game_line"] = "game_line"
    book: Book
    total: float | None = None
    total_over_price: float | None = None
    total_under_price: float | None = None
    spread_home: float | None = None
    spread_home_price: float | None = None
    spread_away_price: float | None = None
    moneyline_home: float | None = None
    moneyline_away: float | None = None


class _Game(_Wire, kw_only=True, forbid_unknown_fields=True, gc=False):
    kind: Literal["game"] = "game"
    game_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{10}\Z")]
    game_date: date
    home_team: str
    away_team: str
    tipoff: str | None
    season_type: Literal["preseason", "regular", "all_star", "playoffs", "play_in", "cup_final"]
    status: Literal["scheduled", "final"]
    home_points: Count | None = None
    away_points: Count | None = None


class _BoxScore(_Wire, kw_only=True, forbid_unknown_fields=True, gc=False):
    kind: Literal["box_score"] = "box_score"
    player_id: Annotated[int, msgspec.Meta(gt=0)]
    player_name: Text
    game_date: date
    team: str
    opponent: str
    home: bool
    minutes: Annotated[float, msgspec.Meta(ge=0, le=70)]
    points: Count
    rebounds: Count
    offensive_rebounds: Count
    defensive_rebounds: Count
    assists: Count
    steals: Count
    blocks: Count
    turnovers: Count
    fouls: Annotated[int, msgspec.Meta(ge=0, le=6)]
    fgm: Count
    fga: Count
    fg3m: Count
    fg3a: Count
    ftm: Count
    fta: Count
    plus_minus: Annotated[int, msgspec.Meta(ge=-100, le=100)]


class _Refused(Exception):
    """This decoder does not take the input: pydantic decides (and names the reason)."""


@functools.lru_cache(maxsize=8192)  # times repeat: a snapshot's props share one, a game's tip-off
def _time(value: str) -> datetime:
    if _TIME.fullmatch(value) is None:
        raise _Refused
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError as exc:  # a day or hour that does not exist
        raise _Refused from exc


def _optional(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else rule(value)


# the fields with a rule of the pydantic model (events.py's own functions); the rest as decoded
Rules = dict[str, Callable[[Any], Any]]
_team_of = functools.lru_cache(maxsize=1024)(_team)  # a team's few spellings, resolved once
_MATCHUP: Rules = {"home_team": _team_of, "away_team": _team_of, "tipoff": _time}
_ODDS = _optional(_american_odds)


class _Shape:
    """How one event type comes off the wire: its msgspec decoder, the rule of each field in
    the pydantic model's order, and the model's own validators run on the built event."""

    def __init__(
        self,
        model: type[BaseModel],
        wire: type[_Wire],
        rules: Rules,
        checks: tuple[Callable[[Any], None], ...] = (),
    ) -> None:
        self.model = model
        self.decoder = msgspec.json.Decoder(wire)
        if wire.__struct_fields__ != tuple(model.model_fields) or set(rules) - set(model.model_fields):
            raise TypeError(f"the wire shape of {model.__name__} does not list its fields in order")
        self.rules = tuple(({"ts": _time} | rules).items())
        validators = model.__pydantic_decorators__.model_validators.values()
        self.checks = (*(d.func for d in validators), *checks)

    def decode(self, value: bytes) -> BaseModel | None:
        try:
            values = msgspec.structs.asdict(self.decoder.decode(value))
            for name, rule in self.rules:
                values[name] = rule(values[name])
            event = construct(self.model, values)  # checked by the rules: not validated again
            for check in self.checks:
                check(event)
        except (msgspec.DecodeError, PydanticCustomError, _Refused, ValueError):  # bad UTF-8 too
            return None
        return event


def _line_in_market(prop: PropLine) -> None:
    """PropLine's field validator (a line at most its market's maximum), as a check here."""
    if prop.market in MAX_LINE and prop.line > MAX_LINE[prop.market]:
        raise _Refused


_SHAPES: dict[type[BaseModel], _Shape] = {
    PropLine: _Shape(
        PropLine,
        _PropLine,
        _MATCHUP | {"line": _half_point_line, "over_price": _american_odds, "under_price": _ODDS},
        (_line_in_market,),
    ),
    GameLine: _Shape(
        GameLine,
        _GameLine,
        _MATCHUP
        | {
            "total": _optional(_game_total),
            "total_over_price": _ODDS,
            "total_under_price": _ODDS,
            "spread_home": _optional(_spread),
            "spread_home_price": _ODDS,
            "spread_away_price": _ODDS,
            "moneyline_home": _ODDS,
            "moneyline_away": _ODDS,
        },
    ),
    Game: _Shape(
        Game,
        _Game,
        {
            "game_date": _date_in_window,
            "home_team": _team_of,
            "away_team": _team_of,
            "tipoff": _optional(_time),
        },
    ),
    BoxScore: _Shape(
        BoxScore,
        _BoxScore,
        {"game_date": _date_in_window, "team": _team_of, "opponent": _team_of},
    ),
}


class _MarketOnly(msgspec.Struct, gc=False):
    market: object = None


_MARKET_ONLY = msgspec.json.Decoder(_MarketOnly)


def market_of(value: bytes) -> object:
    """The `market` a prop's JSON names, read without building or checking anything else
    (0.4 µs against 4.3 for the whole prop): None when it names none or is no JSON object."""
    try:
        return _MARKET_ONLY.decode(value).market
    except msgspec.DecodeError:
        return None


def fast_decode(value: bytes, model: type[E]) -> E | None:
    """The event of `model` the bytes hold when they are valid in the canonical wire form;
    None for anything else (invalid, or a form only pydantic reads): ask pydantic."""
    shape = _SHAPES.get(model)
    return None if shape is None else shape.decode(value)  # type: ignore[return-value]
