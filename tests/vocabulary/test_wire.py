"""The hot path's decoder (msgspec, vocabulary.wire) against pydantic's, the schema of record:
for every input, the same event (type, every field, time zones included) or the same
dead-letter reason. Checked on every event of the shipped data, on each of its bad rows, and
on generated payloads: arbitrary bytes and JSON, and valid events with one thing changed."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from connectors.adapters import Record
from connectors.serde import decode, encode, validate
from tests.vocabulary.test_events import box_scores, game_lines, games, prop_lines
from vocabulary.errors import DecodeError
from vocabulary.events import MAX_ODDS, BoxScore, Game, GameLine, PropLine
from vocabulary.teams import TEAMS
from vocabulary.wire import fast_decode, market_of

MODELS: tuple[type[BaseModel], ...] = (PropLine, GameLine, Game, BoxScore)


def outcome(decoder: Any, raw: bytes, model: type[BaseModel]) -> tuple[str, ...]:
    """What a decoder makes of the bytes: the event, exactly (repr keeps types and zones), or
    the reason of its dead letter."""
    try:
        event = decoder(raw, model)
    except DecodeError as exc:
        return ("dead", exc.reason)
    return ("event", type(event).__name__, repr(event.__dict__))


def test_every_shipped_event_takes_the_fast_path_to_the_same_event(shipped_records: list[Record]) -> None:
    events = [r.event for r in shipped_records if r.event is not None]
    assert {type(e) for e in events} == set(MODELS)
    for event in events:
        raw = encode(event)
        fast = fast_decode(raw, type(event))
        assert fast is not None, raw
        assert repr(fast.__dict__) == repr(validate(raw, type(event)).__dict__) == repr(event.__dict__)


def test_every_shipped_bad_row_gets_the_same_reason(shipped_records: list[Record]) -> None:
    """The rows the files refuse, as they would come over the wire (their text) and as the
    JSON of their fields: the same outcome from both decoders, under every event type."""
    letters = [r.dead_letter for r in shipped_records if r.dead_letter is not None]
    assert letters
    for letter in letters:
        for model in MODELS:
            assert outcome(decode, letter.original, model) == outcome(validate, letter.original, model)


SEEDS = st.one_of(prop_lines(), game_lines(), games(), box_scores()).map(
    lambda event: json.loads(encode(event))
)
TIME_VALUES = [
    "2025-11-01T17:00:00Z",
    "2025-11-01T17:00:00.123456Z",
    "2025-11-01T17:00:00.1234567Z",  # msgspec rounds the 7th digit, pydantic truncates
    "2025-11-01T17:00:00.9999995Z",
    "2025-11-01 17:00:00Z",
    "2025-11-01T17:00Z",
    "2025-11-01T17:00:00z",
    "2025-11-01T17:00:00",
    "2025-11-01T17:00:00+05:30",
    "2025-11-01T17:00:00-23:59",
    "2025-11-01T17:00:00+24:00",
    "2025-11-01T24:00:00Z",
    "2025-11-01T23:59:60Z",
    "2025-02-29T17:00:00Z",
    "1989-12-31T23:00:00-05:00",
    "2100-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2025-11-01",
    "1735689600",
]
NUMBER_VALUES = [
    *(0, -0.0, 0.5, 1, 6, 7, 24.2, 24.5, 30, 30.5, 40, 40.5, -40.5, 60.5, 70, 70.01, 99.5, 100, -100),
    *(101, 150, 150.5, 200, 201, 221.5, 350, 350.5, MAX_ODDS, MAX_ODDS + 1, -MAX_ODDS, 2**63, 2**64),
    *(1e308, 5e-324, 2.0, 100.0),
]
TEXT_VALUES = [
    *("", "x", "draftkings", "draftkings\n", "Draftkings", "0022500150", "0022500150\n", "٠٠٢٢٥٠٠١٥٠"),
    *("points", "rebounds", "steals", "player_points", "prop_line", "game_line", "game", "box_score"),
    *("regular", "final", "scheduled", "true", "1", "24.5", "-110", "NaN", "\ud800", "a\x00b"),
    *[name for names in TEAMS.values() for name in names][:40],
    *("LAC", "lac", " LAC ", "UTA"),
]
TIMES, NUMBERS, TEXTS = map(st.sampled_from, (TIME_VALUES, NUMBER_VALUES, TEXT_VALUES))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    NUMBERS.map(str),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TIMES,
    TEXTS,
    st.text(max_size=90),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def variants(value: Any) -> list[Any]:
    """Values next to a valid one, where the two decoders could part: the same number as a
    string or an int, a half point off, the text with a newline or spaces, another form of
    the same time."""
    if isinstance(value, bool) or value is None:
        return [not value, str(value).lower(), 1, 0, None]
    if isinstance(value, int | float):
        return [str(value), float(value), int(value), value + 0.5, value - 0.5, value + 0.25, -value]
    if isinstance(value, str):
        out = [value + "\n", " " + value, value.upper(), value[:1], value * 3, value + "x"]
        if "T" in value:
            out += [
                value.replace("T", " "),
                value.replace("Z", "+00:00"),
                value.replace("Z", ".1234567Z"),
                value.replace("Z", ".9999995Z"),
                value.replace("Z", ""),
                value.replace(":00Z", "Z"),
                value.replace("Z", "z"),
            ]
        return out
    return [value]


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """A valid event's JSON with a few things changed: a field set to a value next to its own
    or to another value, dropped, or added; then, sometimes, a byte changed."""
    payload = draw(SEEDS)
    for _ in range(draw(st.integers(1, 3))):
        change = draw(st.sampled_from(["near", "near", "set", "drop", "add"]))
        key = draw(st.sampled_from(sorted(payload)))
        if change == "near":
            payload[key] = draw(st.sampled_from(variants(payload[key])) | NUMBERS)
        elif change == "set":
            payload[key] = draw(VALUES)
        elif change == "drop":
            payload.pop(key)
        else:
            payload[draw(st.text(max_size=12))] = draw(VALUES)
    raw = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        i = draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1 :]
    return raw


ARBITRARY = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)


def test_every_one_field_change_of_shipped_events_decodes_alike(shipped_records: list[Record]) -> None:
    """Exhaustive where the generated changes are sparse: one event of each kind (a prop of
    each market, a game with and without tip-off), every field set to each value next to its
    own and to each listed value, dropped, or joined by an unknown field; under every type."""
    seeds: dict[tuple[str, ...], dict[str, Any]] = {}
    for record in shipped_records:
        if record.event is not None:
            payload = json.loads(encode(record.event))
            kind = (payload["kind"], str(payload.get("market")), str(payload.get("tipoff") is None))
            seeds.setdefault(kind, payload)
    assert len(seeds) >= 10
    listed = [*NUMBER_VALUES, *TIME_VALUES, *TEXT_VALUES, None, True, [], {}]
    for seed in seeds.values():
        changed = [{**seed, "unknown": 1}] + [{k: v for k, v in seed.items() if k != key} for key in seed]
        changed += [{**seed, key: value} for key in seed for value in [*variants(seed[key]), *listed]]
        for payload in changed:
            raw = json.dumps(payload).encode("utf-8", "surrogatepass")
            for model in MODELS:
                assert outcome(decode, raw, model) == outcome(validate, raw, model), raw


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid(), st.sampled_from(MODELS))
def test_near_valid_payloads_decode_alike(raw: bytes, model: type[BaseModel]) -> None:
    assert outcome(decode, raw, model) == outcome(validate, raw, model)


@settings(max_examples=300, deadline=None)
@given(ARBITRARY, st.sampled_from(MODELS))
def test_arbitrary_payloads_decode_alike(raw: bytes, model: type[BaseModel]) -> None:
    assert outcome(decode, raw, model) == outcome(validate, raw, model)


@settings(max_examples=300, deadline=None)
@given(SEEDS)
def test_valid_events_take_the_fast_path(payload: dict[str, Any]) -> None:
    """Not vacuous: what our encoder writes is decoded by msgspec, to pydantic's event."""
    model = {"prop_line": PropLine, "game_line": GameLine, "game": Game, "box_score": BoxScore}[
        payload["kind"]
    ]
    raw = json.dumps(payload).encode()
    fast = fast_decode(raw, model)
    assert fast is not None
    assert repr(fast.__dict__) == repr(validate(raw, model).__dict__)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(near_valid(), ARBITRARY, SEEDS.map(lambda payload: json.dumps(payload).encode())))
def test_the_market_read_alone_is_the_market_of_the_prop_the_bytes_hold(raw: bytes) -> None:
    """What the flow reads to refuse a prop of a market no model serves (`market_of`) is the
    market of the prop the bytes decode to, whenever they decode to one (a repeated key: the
    last, as pydantic reads it); for any bytes it answers, never raises."""
    market = market_of(raw)
    try:
        prop = validate(raw, PropLine)
    except DecodeError:
        return
    assert market == prop.market
    other = "rebounds" if prop.market != "rebounds" else "points"
    repeated = raw.replace(b"{", b'{"market":"' + other.encode() + b'",', 1)  # the prop's comes last
    assert market_of(repeated) == validate(repeated, PropLine).market == prop.market
