"""Event schemas: every valid event survives the wire unchanged; every rule rejects with its reason."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from connectors.serde import decode, decode_any, encode
from vocabulary.errors import DecodeError
from vocabulary.events import BoxScore, DeadLetter, Game, GameLine, PropLine, game_key
from vocabulary.markets import MARKETS
from vocabulary.teams import TEAMS

in_window_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis takes naive bounds)
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
)
teams = st.sampled_from(sorted(TEAMS))
spellings = st.sampled_from([name for abbr, names in TEAMS.items() for name in (abbr, *names)])
odds = st.one_of(st.integers(100, 5000), st.integers(-5000, -100)).map(float)
half_points = st.integers(1, 60).map(lambda n: n / 2)  # up to the lowest market maximum
names = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=2, max_size=80)
books = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=2, max_size=40)
counts = st.integers(0, 200)


@st.composite
def matchups(draw: st.DrawFn) -> dict[str, Any]:
    home, away = draw(
        st.lists(spellings, min_size=2, max_size=2).filter(lambda t: len({TEAMS_OF[x] for x in t}) == 2)
    )
    return {
        "ts": draw(aware),
        "event_id": draw(st.text("0123456789abcdef", min_size=1, max_size=64)),
        "home_team": home,
        "away_team": away,
        "tipoff": draw(aware),
    }


TEAMS_OF = {spelling: abbr for abbr, names in TEAMS.items() for spelling in (abbr, *names)}


@st.composite
def prop_lines(draw: st.DrawFn) -> PropLine:
    return PropLine(
        **draw(matchups()),
        book=draw(books),
        market=draw(st.sampled_from(list(MARKETS))),
        player_name=draw(names),
        line=draw(half_points),
        over_price=draw(odds),
        under_price=draw(st.none() | odds),
        is_main=draw(st.booleans()),
    )


@st.composite
def game_lines(draw: st.DrawFn) -> GameLine:
    return GameLine(
        **draw(matchups()),
        book=draw(books),
        total=draw(st.integers(200, 700).map(lambda n: n / 2)),
        total_over_price=draw(st.none() | odds),
        spread_home=draw(st.none() | st.integers(-80, 80).map(lambda n: n / 2)),
        moneyline_home=draw(st.none() | odds),
        moneyline_away=draw(st.none() | odds),
    )


@st.composite
def games(draw: st.DrawFn) -> Game:
    home, away = draw(st.lists(teams, min_size=2, max_size=2, unique=True))
    return Game(
        ts=draw(aware),
        game_id=f"00{draw(st.integers(1, 6))}{draw(st.integers(0, 9_999_999)):07d}",
        game_date=draw(in_window_dates),
        home_team=home,
        away_team=away,
        tipoff=draw(st.none() | aware),
        season_type=draw(st.sampled_from(["preseason", "regular", "playoffs"])),
        status=draw(st.sampled_from(["scheduled", "final"])),
        home_points=draw(st.none() | counts),
    )


@st.composite
def box_scores(draw: st.DrawFn) -> BoxScore:
    team, opponent = draw(st.lists(teams, min_size=2, max_size=2, unique=True))
    small = st.integers(0, 25)
    fg3a, fga_extra, fta = draw(small), draw(small), draw(small)
    fg3m = draw(st.integers(0, fg3a))
    fga = fg3a + fga_extra
    fgm = fg3m + draw(st.integers(0, fga_extra))
    ftm = draw(st.integers(0, fta))
    oreb, dreb = draw(counts.map(lambda n: n // 10)), draw(counts.map(lambda n: n // 10))
    return BoxScore(
        ts=draw(aware),
        player_id=draw(st.integers(1, 10**9)),
        player_name=draw(names),
        game_date=draw(in_window_dates),
        team=team,
        opponent=opponent,
        home=draw(st.booleans()),
        minutes=draw(st.floats(0, 70)),
        points=2 * fgm + fg3m + ftm,
        rebounds=oreb + dreb,
        offensive_rebounds=oreb,
        defensive_rebounds=dreb,
        assists=draw(counts),
        steals=draw(counts),
        blocks=draw(counts),
        turnovers=draw(counts),
        fouls=draw(st.integers(0, 6)),
        fgm=fgm,
        fga=fga,
        fg3m=fg3m,
        fg3a=fg3a,
        ftm=ftm,
        fta=fta,
        plus_minus=draw(st.integers(-100, 100)),
    )


@st.composite
def dead_letters(draw: st.DrawFn) -> DeadLetter:
    return DeadLetter(
        source=draw(st.text(min_size=1)),
        partition=draw(st.none() | st.integers(0, 100)),
        offset=draw(st.none() | st.integers(0, 2**62)),
        original=draw(st.binary()),
        reason=draw(st.text(min_size=1)),
        detail=draw(st.text()),
    )


@pytest.mark.parametrize(
    "strategy",
    [prop_lines(), game_lines(), games(), box_scores(), dead_letters()],
    ids=lambda s: repr(s)[:20],
)
def test_round_trip(strategy: st.SearchStrategy[BaseModel]) -> None:
    @given(strategy)
    def check(event: BaseModel) -> None:
        decoded = decode(encode(event), type(event))
        assert decoded == event
        assert encode(decoded) == encode(event)
        if not isinstance(event, DeadLetter):
            assert decode_any(encode(event)) == event

    check()


@given(prop_lines())
def test_times_are_utc_and_teams_canonical(event: PropLine) -> None:
    assert event.ts.tzinfo is UTC and event.tipoff.tzinfo is UTC
    assert event.home_team in TEAMS and event.away_team in TEAMS
    assert event.game_key == game_key(event.game_date, event.away_team, event.home_team)


PROP: dict[str, Any] = {
    "ts": "2025-11-01T17:00:00Z",
    "event_id": "abc",
    "home_team": "Los Angeles Clippers",
    "away_team": "Utah Jazz",
    "tipoff": "2025-11-02T02:30:00Z",
    "book": "draftkings",
    "market": "points",
    "player_name": "Kawhi Leonard",
    "line": 24.5,
    "over_price": -115,
    "under_price": -105,
    "is_main": True,
}
GAME_LINE: dict[str, Any] = {
    k: v for k, v in PROP.items() if k in ("ts", "event_id", "home_team", "away_team", "tipoff", "book")
} | {
    "total": 221.5,
    "spread_home": -6.5,
    "moneyline_home": -250,
}
GAME: dict[str, Any] = {
    "ts": "2025-11-01T10:00:00Z",
    "game_id": "0022500150",
    "game_date": "2025-11-01",
    "home_team": "LAC",
    "away_team": "UTA",
    "tipoff": None,
    "season_type": "regular",
    "status": "final",
}
BOX: dict[str, Any] = {
    "ts": "2025-11-02T05:00:00+00:00",
    "player_id": 202695,
    "player_name": "Kawhi Leonard",
    "game_date": "2025-11-01",
    "team": "LAC",
    "opponent": "UTA",
    "home": True,
    "minutes": 34.0,
    "points": 30,
    "rebounds": 7,
    "offensive_rebounds": 1,
    "defensive_rebounds": 6,
    "assists": 4,
    "steals": 2,
    "blocks": 0,
    "turnovers": 3,
    "fouls": 2,
    "fgm": 11,
    "fga": 20,
    "fg3m": 3,
    "fg3a": 7,
    "ftm": 5,
    "fta": 6,
    "plus_minus": 9,
}

REJECTIONS = [
    (PropLine, PROP, {"line": 0}, "line:line_not_positive"),
    (PropLine, PROP, {"line": -3.5}, "line:line_not_positive"),
    (PropLine, PROP, {"line": 24.3}, "line:line_not_half_point"),
    (PropLine, PROP, {"over_price": -99}, "over_price:odds_out_of_range"),
    (PropLine, PROP, {"under_price": 50.0}, "under_price:odds_out_of_range"),
    (PropLine, PROP, {"over_price": float("nan")}, "over_price:odds_out_of_range"),
    (PropLine, PROP, {"ts": "2025-11-01T17:00:00"}, "ts:timezone_aware"),
    (PropLine, PROP, {"tipoff": "not a time"}, "tipoff:datetime_from_date_parsing"),
    (PropLine, PROP, {"home_team": "Bendigo Braves"}, "home_team:unknown_team"),
    (PropLine, PROP, {"away_team": "LA Clippers"}, "same_team"),
    (PropLine, PROP, {"market": "double_double"}, "market:literal_error"),
    (PropLine, PROP, {"book": "Draft Kings!"}, "book:string_pattern_mismatch"),
    (PropLine, PROP, {"player_name": ""}, "player_name:string_too_short"),
    (PropLine, PROP, {"schema_version": 2}, "schema_version:literal_error"),
    (PropLine, PROP, {"surprise": 1}, "surprise:extra_forbidden"),
    (GameLine, GAME_LINE, {"total": None, "spread_home": None, "moneyline_home": None}, "no_market"),
    (GameLine, GAME_LINE, {"total": 15.5}, "total:total_out_of_range"),
    (GameLine, GAME_LINE, {"spread_home": 55}, "spread_home:spread_out_of_range"),
    (GameLine, GAME_LINE, {"moneyline_home": 0}, "moneyline_home:odds_out_of_range"),
    (Game, GAME, {"game_id": "22500150"}, "game_id:string_pattern_mismatch"),
    (Game, GAME, {"season_type": "exhibition"}, "season_type:literal_error"),
    (Game, GAME, {"home_team": "SHQ"}, "home_team:unknown_team"),
    (BoxScore, BOX, {"minutes": 71}, "minutes:less_than_equal"),
    (BoxScore, BOX, {"minutes": -1}, "minutes:greater_than_equal"),
    (BoxScore, BOX, {"player_id": 0}, "player_id:greater_than"),
    (BoxScore, BOX, {"fgm": 21}, "made_exceeds_attempted"),
    (BoxScore, BOX, {"fg3m": 12, "fg3a": 12}, "made_exceeds_attempted"),
    (BoxScore, BOX, {"points": 31}, "points_inconsistent"),
    (BoxScore, BOX, {"rebounds": 8}, "rebounds_inconsistent"),
    (BoxScore, BOX, {"fouls": 7}, "fouls:less_than_equal"),
    (BoxScore, BOX, {"opponent": "LAC"}, "same_team"),
    (BoxScore, BOX, {"points": -2}, "points:greater_than_equal"),
    # range rules: every number and time within a documented window (issue 14's reproducers)
    (PropLine, PROP, {"over_price": 1e308}, "over_price:odds_out_of_range"),
    (PropLine, PROP, {"under_price": -1e308}, "under_price:odds_out_of_range"),
    (PropLine, PROP, {"over_price": 100_001}, "over_price:odds_out_of_range"),
    (PropLine, PROP, {"line": 1e300}, "line:line_out_of_range"),
    (PropLine, PROP, {"line": 100.5}, "line:line_out_of_range"),
    (PropLine, PROP, {"market": "threes", "line": 30.5}, "line:line_out_of_range"),
    (PropLine, PROP, {"ts": "9999-12-31T23:00:00-05:00"}, "ts:date_out_of_range"),
    (PropLine, PROP, {"tipoff": "0001-01-01T00:00:00Z"}, "tipoff:date_out_of_range"),
    (PropLine, PROP, {"tipoff": "1989-12-31T23:59:59Z"}, "tipoff:date_out_of_range"),
    (GameLine, GAME_LINE, {"moneyline_home": 1e308}, "moneyline_home:odds_out_of_range"),
    (GameLine, GAME_LINE, {"ts": "2101-01-01T00:00:00Z"}, "ts:date_out_of_range"),
    (Game, GAME, {"game_date": "0001-01-01"}, "game_date:date_out_of_range"),
    (Game, GAME, {"tipoff": "9999-12-31T23:59:59-05:00"}, "tipoff:date_out_of_range"),
    (BoxScore, BOX, {"game_date": "2101-01-01"}, "game_date:date_out_of_range"),
    (BoxScore, BOX, {"minutes": 1e308}, "minutes:less_than_equal"),
]


@pytest.mark.parametrize(
    ("model", "base", "change", "reason"), REJECTIONS, ids=[r[3] + ":" + str(list(r[2])) for r in REJECTIONS]
)
def test_rejection_names_field_and_rule(
    model: type[BaseModel], base: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    model.model_validate(base)  # the base case is valid, so the change alone is what fails
    raw = encode_dict(base | change)
    with pytest.raises(DecodeError) as caught:
        decode(raw, model)
    assert caught.value.reason == reason


def encode_dict(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, default=str).encode()


def test_a_tombstone_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(None, PropLine)
    assert caught.value.reason == "empty_message"


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(b'{"kind": "prop_line", ', PropLine)
    assert caught.value.reason == "malformed_json"
    with pytest.raises(DecodeError) as caught:
        decode(b"\xff\xfe", PropLine)
    assert caught.value.reason == "malformed_json"


def test_game_keys_agree_across_feeds() -> None:
    """A sportsbook's late tip-off (after midnight UTC) is still the US date's game."""
    prop = PropLine.model_validate(PROP)
    game = Game.model_validate(GAME)
    box = BoxScore.model_validate(BOX)
    assert prop.game_date == date(2025, 11, 1)
    assert prop.game_key == game.game_key == box.game_key == "20251101-UTA@LAC"
