"""The input events of DESIGN.md section 1 and the dead-letter record, as frozen pydantic models.

Validation lives here so every path into the system (files, Kafka, tests) enforces the same
rules. Each rule raises an error whose `type` is a short code (for example
`odds_out_of_range`): the dead-letter reason is `<field>:<code>`, so reasons can be counted.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vocabulary.teams import resolve_team

__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_LINE",
    "MAX_ODDS",
    "MAX_ORIGINAL_BYTES",
    "PREVIEW_CHARS",
    "SCHEMA_VERSION",
    "US_EASTERN",
    "BoxScore",
    "DeadLetter",
    "Event",
    "Game",
    "GameLine",
    "InputEvent",
    "Market",
    "PropLine",
    "complete_letter",
    "game_key",
    "preview_of",
    "printable",
    "supersedes",
    "us_game_date",
]

SCHEMA_VERSION: Literal[1] = 1

# The player markets books quote (the feed's `player_<market>`); vocabulary.markets settles them.
Market = Literal["points", "rebounds", "assists", "threes", "points_rebounds_assists", "blocks", "steals"]
US_EASTERN = ZoneInfo("America/New_York")


@lru_cache(maxsize=8192)
def us_game_date(tipoff: datetime) -> date:
    """The date a game is listed under in the US (nba.com, box scores): tip-off in Eastern time."""
    return tipoff.astimezone(US_EASTERN).date()


@lru_cache(maxsize=8192)
def game_key(game_date: date, away: str, home: str) -> str:
    """The canonical game key, the same from every feed: `20251021-HOU@OKC`."""
    return f"{game_date:%Y%m%d}-{away}@{home}"


def _team(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("team_type", "team must be a string, got '{value}'", {"value": value})
    abbr = resolve_team(value)
    if abbr is None:
        raise PydanticCustomError("unknown_team", "'{value}' is not an NBA team", {"value": value})
    return abbr


# The window every date and time of an event must fall in (documented in docs/operations.md):
# outside it a value is a typo or an attack, and converting it (to UTC, to Eastern time) can
# overflow. Checked before any conversion.
EARLIEST_YEAR, LATEST_YEAR = 1990, 2100
MAX_ODDS = 100_000  # American odds beyond ±100000 (a 1000-to-1 shot) are no real quote
# the highest line a book could post for each market (a prop line above it is a typo)
MAX_LINE: dict[str, float] = {
    "points": 100.0,
    "rebounds": 60.0,
    "assists": 50.0,
    "threes": 30.0,
    "points_rebounds_assists": 150.0,
    "blocks": 30.0,
    "steals": 30.0,
}


def _year_in_window(year: int, value: object) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "dates must fall in {earliest}..{latest}, got {value}",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR, "value": str(value)},
        )


def _utc(value: datetime) -> datetime:
    _year_in_window(value.year, value)  # before the conversion, which can overflow at the ends
    return value.astimezone(UTC)


def _date_in_window(value: date) -> date:
    _year_in_window(value.year, value)
    return value


def _american_odds(value: float) -> float:
    if not math.isfinite(value) or not 100 <= abs(value) <= MAX_ODDS:
        raise PydanticCustomError(
            "odds_out_of_range",
            "American odds must be finite and between 100 and {max} in absolute value, got {value}",
            {"max": MAX_ODDS, "value": value},
        )
    return value


def _half_point_line(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise PydanticCustomError("line_not_positive", "line must be positive, got {value}", {"value": value})
    if (value * 2) % 1 != 0:
        raise PydanticCustomError(
            "line_not_half_point", "line must be a multiple of 0.5, got {value}", {"value": value}
        )
    return value


def _game_total(value: float) -> float:
    if not 100 <= value <= 350 or (value * 2) % 1 != 0:
        raise PydanticCustomError(
            "total_out_of_range",
            "a game total must be a multiple of 0.5 between 100 and 350, got {value}",
            {"value": value},
        )
    return value


def _spread(value: float) -> float:
    if abs(value) > 40 or (value * 2) % 1 != 0:
        raise PydanticCustomError(
            "spread_out_of_range",
            "a spread must be a multiple of 0.5 within ±40, got {value}",
            {"value": value},
        )
    return value


Team = Annotated[str, BeforeValidator(_team)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
GameDate = Annotated[date, AfterValidator(_date_in_window)]
AmericanOdds = Annotated[float, AfterValidator(_american_odds)]
PropLineValue = Annotated[float, AfterValidator(_half_point_line)]
GameTotal = Annotated[float, AfterValidator(_game_total)]
Spread = Annotated[float, AfterValidator(_spread)]
Book = Annotated[str, Field(pattern=r"^[a-z0-9_]{2,40}$")]
Count = Annotated[int, Field(ge=0, le=200)]


class Event(BaseModel):
    """Common to every event: a schema version and the event time `ts` (UTC, timezone-aware)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    ts: UtcDatetime


class _Matchup(Event):
    """An event about one game identified by its teams and tip-off, as sportsbooks do."""

    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    home_team: Team
    away_team: Team
    tipoff: UtcDatetime

    @model_validator(mode="after")
    def _distinct_teams(self) -> _Matchup:
        if self.home_team == self.away_team:
            raise PydanticCustomError(
                "same_team", "home and away team are both {team}", {"team": self.home_team}
            )
        return self

    @property
    def game_date(self) -> date:
        return us_game_date(self.tipoff)

    @property
    def game_key(self) -> str:
        return _matchup_key(self.tipoff, self.away_team, self.home_team)


@lru_cache(maxsize=8192)  # read several times for every prop and game line the engine applies
def _matchup_key(tipoff: datetime, away: str, home: str) -> str:
    return game_key(us_game_date(tipoff), away, home)


class PropLine(_Matchup):
    """One book's line for one player prop, as observed at `ts`. Topic `odds.props`, key: player.

    `player_name` is the book's spelling; identity maps it to an nba.com id downstream.
    Books list alternate lines, so one (player, game, book) may have several lines at once;
    `is_main` marks the one whose prices are closest to even.
    """

    kind: Literal["prop_line"] = "prop_line"
    book: Book
    market: Market
    player_name: Annotated[str, Field(min_length=2, max_length=80)]
    line: PropLineValue
    over_price: AmericanOdds
    under_price: AmericanOdds | None
    is_main: bool

    @field_validator("line")
    @classmethod
    def _line_in_market_range(cls, value: float, info: ValidationInfo) -> float:
        market = info.data.get("market")  # absent when the market itself was refused
        highest = MAX_LINE.get(market, 0.0) if isinstance(market, str) else 0.0
        if market in MAX_LINE and value > highest:
            raise PydanticCustomError(
                "line_out_of_range",
                "a {market} line must be at most {max}, got {value}",
                {"market": market, "max": highest, "value": value},
            )
        return value


class GameLine(_Matchup):
    """One book's game line (total, spread, moneyline where present) at `ts`. Topic `odds.games`."""

    kind: Literal["game_line"] = "game_line"
    book: Book
    total: GameTotal | None = None
    total_over_price: AmericanOdds | None = None
    total_under_price: AmericanOdds | None = None
    spread_home: Spread | None = None
    spread_home_price: AmericanOdds | None = None
    spread_away_price: AmericanOdds | None = None
    moneyline_home: AmericanOdds | None = None
    moneyline_away: AmericanOdds | None = None

    @model_validator(mode="after")
    def _has_a_market(self) -> GameLine:
        if self.total is None and self.spread_home is None and self.moneyline_home is None:
            raise PydanticCustomError("no_market", "a game line needs a total, a spread or a moneyline")
        return self


class Game(Event):
    """A scheduled NBA game. Topic `nba.games`, key: game."""

    kind: Literal["game"] = "game"
    game_id: Annotated[str, Field(pattern=r"^\d{10}$")]
    game_date: GameDate
    home_team: Team
    away_team: Team
    tipoff: UtcDatetime | None
    season_type: Literal["preseason", "regular", "all_star", "playoffs", "play_in", "cup_final"]
    status: Literal["scheduled", "final"]
    home_points: Count | None = None
    away_points: Count | None = None

    @property
    def game_key(self) -> str:
        return game_key(self.game_date, self.away_team, self.home_team)


class BoxScore(Event):
    """One player's final line for one game. Topic `nba.boxscores`, key: player (nba.com id)."""

    kind: Literal["box_score"] = "box_score"
    player_id: Annotated[int, Field(gt=0)]
    player_name: Annotated[str, Field(min_length=2, max_length=80)]
    game_date: GameDate
    team: Team
    opponent: Team
    home: bool
    minutes: Annotated[float, Field(ge=0, le=70)]
    points: Count
    rebounds: Count
    offensive_rebounds: Count
    defensive_rebounds: Count
    assists: Count
    steals: Count
    blocks: Count
    turnovers: Count
    fouls: Annotated[int, Field(ge=0, le=6)]
    fgm: Count
    fga: Count
    fg3m: Count
    fg3a: Count
    ftm: Count
    fta: Count
    plus_minus: Annotated[int, Field(ge=-100, le=100)]

    @model_validator(mode="after")
    def _consistent(self) -> BoxScore:
        for made, attempted in (("fgm", "fga"), ("fg3m", "fg3a"), ("ftm", "fta"), ("fg3m", "fgm")):
            if getattr(self, made) > getattr(self, attempted):
                raise PydanticCustomError(
                    "made_exceeds_attempted",
                    "{made} exceeds {attempted}",
                    {"made": made, "attempted": attempted},
                )
        if self.points != 2 * self.fgm + self.fg3m + self.ftm:
            raise PydanticCustomError(
                "points_inconsistent",
                "points {points} != 2*fgm + fg3m + ftm",
                {"points": self.points},
            )
        if self.rebounds != self.offensive_rebounds + self.defensive_rebounds:
            raise PydanticCustomError("rebounds_inconsistent", "rebounds != offensive + defensive rebounds")
        if self.team == self.opponent:
            raise PydanticCustomError("same_team", "team and opponent are both {team}", {"team": self.team})
        return self

    @property
    def game_key(self) -> str:
        away, home = (self.opponent, self.team) if self.home else (self.team, self.opponent)
        return game_key(self.game_date, away, home)


InputEvent = Annotated[PropLine | GameLine | Game | BoxScore, Field(discriminator="kind")]


# A dead letter keeps at most this many of the original bytes (the rest is described by `size`
# and `sha256`): Kafka takes input messages up to 1 MB, and a dead letter's JSON (base64, a
# third larger, beside the detail) must stay under the broker's 1 MB too.
MAX_ORIGINAL_BYTES = 256 * 1024
# the original as text in `preview`: a whole event's JSON fits, so readers that search dead
# letters by what they name (LIKE, a JSON cast) read `preview` where they read `original`
PREVIEW_CHARS = 4000
_DETAIL_CHARS = 2000


def printable(text: str, limit: int | None = None) -> str:
    """Text every store takes: no NUL (Postgres text refuses it), no lone surrogates (UTF-8
    refuses them); both written as backslash escapes. Idempotent."""
    if "\x00" in text or not _utf8(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if limit is None else text[:limit]


def _utf8(text: str) -> bool:
    """Whether UTF-8 can encode `text` (it cannot only a lone surrogate), at C speed: a
    character-by-character check was a tenth of a replay's CPU with every dead letter's preview."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def preview_of(original: bytes) -> str:
    """The original (its first `PREVIEW_CHARS`) as readable text: UTF-8 where it is, backslash
    escapes where it is not; a valid UTF-8 event without NUL is its own preview."""
    head = original[: PREVIEW_CHARS * 4].decode("utf-8", "backslashreplace")
    return printable(head, PREVIEW_CHARS)


class DeadLetter(BaseModel):
    """Input that could not become a valid event, with where it came from and why.

    `source` is a topic or a file; `partition`/`offset` are Kafka's, or (None, row number) for a
    file. `original` keeps the exact input bytes (base64 in JSON, `bytea` in Postgres), so the
    record can be replayed once the cause is fixed; beyond `MAX_ORIGINAL_BYTES` it keeps their
    start, and `size` and `sha256` (always of the whole original) say what was cut. `preview`
    is the original as printable text (its first `PREVIEW_CHARS` characters). Built from
    `original` alone, the rest is filled in; every text field is made storable (no NUL, no
    lone surrogate), so a dead letter is never refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["dead_letter"] = "dead_letter"
    source: str
    partition: int | None = None
    offset: int | None = None
    rows: Annotated[int, Field(ge=1)] = 1
    original: bytes
    reason: Annotated[str, Field(min_length=1)]
    detail: str
    preview: str = ""
    size: Annotated[int, Field(ge=0)] = -1  # bytes in the whole original; -1: compute it
    sha256: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""  # of the whole original

    @property
    def truncated(self) -> bool:
        return self.size > len(self.original)

    @model_validator(mode="after")
    def _storable(self) -> DeadLetter:
        complete_letter(self.__dict__)  # a frozen model, completed once while it is being built
        return self


def complete_letter(values: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's values filled in from `original` (when `sha256` is not given) and made
    storable, in place."""
    preview = values["preview"]
    if not values["sha256"]:
        original = values["original"]
        values["sha256"] = hashlib.sha256(original).hexdigest()
        values["size"] = len(original)
        values["original"] = original[:MAX_ORIGINAL_BYTES]
        preview = preview or None  # made from the original below
    values["preview"] = preview_of(values["original"]) if preview is None else printable(preview)
    values["source"], values["reason"], values["detail"] = _texts(
        values["source"], values["reason"], values["detail"]
    )
    return values


@lru_cache(maxsize=4096)
def _texts(source: str, reason: str, detail: str) -> tuple[str, str, str]:
    """A letter's topic, reason and detail made storable, once: they repeat from letter to
    letter (half a replay's input can be one reason)."""
    return printable(source, 400), printable(reason, 200), printable(detail, _DETAIL_CHARS)


def supersedes(new: BoxScore | GameLine, held: BoxScore | GameLine) -> bool:
    """Whether `new` replaces `held` as the latest of its kind (a player's box score, a book's
    game line): a later event time or, at the same time, the greater content (its JSON), so the
    choice between two versions of one time never depends on arrival order. The JSON is built
    only for a tie (two dumps for every game line and box score were 5% of a replay)."""
    if new.ts != held.ts:
        return new.ts > held.ts
    return new.model_dump_json() > held.model_dump_json()
