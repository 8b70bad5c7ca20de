"""No single input stops the shard: every message issue 14 reproduced a crash with, and
whatever fails while one input is handled, comes out as that input's dead letter with a
reason; the inputs after it are still applied. In process, with a stub engine (the engine's
own refusals are tested in tests/scoring)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.inputs import FileReader, Raw
from connectors.kafka import _key_and_stamp
from flows.shard import Shard
from scoring.engine import Engine
from tests.vocabulary.test_events import PROP as EVENT_PROP
from vocabulary.events import DeadLetter, InputEvent
from vocabulary.letters import each_record
from vocabulary.markets import MARKETS
from vocabulary.window import Window

PROP: dict[str, Any] = EVENT_PROP | {"kind": "prop_line"}


def prop(**change: Any) -> bytes:
    return json.dumps(PROP | change).encode()


def _future(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


# issue 14's reproducers, each with the reason its dead letter must carry
POISON: list[tuple[bytes | None, str]] = [
    (b"\x00not json", "malformed_json"),
    (b"\xff" * 400_000, "malformed_json"),
    (prop(ts="9999-12-31T23:00:00-05:00"), "ts:date_out_of_range"),
    (prop(tipoff="0001-01-01T00:00:00Z"), "tipoff:date_out_of_range"),
    (prop(over_price=1e308), "over_price:odds_out_of_range"),
    (prop(line=1e300), "line:line_out_of_range"),
    (prop(ts=_future(2), tipoff=_future(5)), "ts:future"),
    (None, "empty_message"),
    (b"[]", "model_type"),
]


class _Engine:
    """Applies everything, except what `fails` says to blow up on (an engine bug)."""

    def __init__(self, fails: str | None = None, markets: tuple[str, ...] = MARKETS) -> None:
        self.applied: list[InputEvent] = []
        self.fails = fails
        self.markets = markets
        self.state = SimpleNamespace(
            watermark=None, pending_ts=None, pending={}, pending_grades={}, rewinds=0, late=[]
        )

    check_market = Engine.check_market  # the engine's own rule, over `markets`

    def apply(self, event: InputEvent, emitted_at: datetime | None = None) -> list[Any]:
        if self.fails is not None and getattr(event, "player_name", None) == self.fails:
            raise ZeroDivisionError("a bug in the engine")
        self.applied.append(event)
        return []

    def flush_time(self, emitted_at: datetime | None = None) -> list[Any]:
        return []

    def settle(self) -> tuple[list[Any], list[Any]]:
        return [], []

    def rewind(self, emitted_at: datetime | None = None) -> list[Any]:
        return []


def _raws(values: list[bytes | None]) -> list[Raw]:
    return [Raw("props", "odds.props", 0, i, b"k", v, 1_761_999_000_000) for i, v in enumerate(values)]


def _run(values: list[bytes | None], engine: _Engine, **kw: Any) -> list[Any]:
    reader = FileReader([], {})
    reader.items = _raws(values)
    shard = Shard(0, 1, reader, engine, Window(), **kw)  # type: ignore[arg-type]
    out: list[Any] = []
    while not shard.reader.exhausted:
        out += each_record(shard.step(3))
    return out


@pytest.mark.parametrize(("value", "reason"), POISON, ids=[r for _, r in POISON])
def test_a_poison_message_is_dead_lettered_and_the_next_is_applied(value: bytes | None, reason: str) -> None:
    engine = _Engine()
    out = _run([value, prop()], engine)
    assert [type(r) for r in out] == [DeadLetter]
    letter = out[0]
    assert (letter.reason, letter.source, letter.partition, letter.offset) == (reason, "odds.props", 0, 0)
    assert len(engine.applied) == 1  # the valid message after it


def test_an_unexpected_failure_is_an_internal_dead_letter() -> None:
    engine = _Engine(fails="Kawhi Leonard")
    out = _run([prop(), prop(player_name="LeBron James")], engine)
    assert [r.reason for r in out] == ["internal:ZeroDivisionError"]
    assert "a bug in the engine" in out[0].detail
    assert [e.player_name for e in engine.applied] == ["LeBron James"]  # type: ignore[union-attr]


def test_a_prop_of_a_market_no_model_serves_is_refused_so_before_anything_else_is_read() -> None:
    """Refused as the engine refuses it once decoded, whatever else it holds; a market that is
    no market, or a served one, keeps the reason of what is wrong with it."""
    engine = _Engine(markets=("points",))
    values = [
        prop(market="rebounds"),
        prop(market="rebounds", over_price=1e308),
        prop(market="rebounds", ts="not a time", kind="no kind"),
        prop(market="rebound"),
        prop(over_price=1e308),
        prop(),
    ]
    out = _run(values, engine)
    assert [(r.offset, r.reason) for r in out] == [
        (0, "market:unsupported"),
        (1, "market:unsupported"),
        (2, "market:unsupported"),
        (3, "market:literal_error"),
        (4, "over_price:odds_out_of_range"),
    ]
    assert out[0].detail == "no active model scores 'rebounds' (active: ('points',))"
    assert [e.market for e in engine.applied] == ["points"]  # type: ignore[attr-defined]


def test_the_future_check_follows_its_tolerance() -> None:
    soon = prop(ts=_future(0.1), tipoff=_future(5))  # 6 minutes ahead
    assert _run([soon], _Engine()) == []  # within the default 600 s
    assert [r.reason for r in _run([soon], _Engine(), future_tolerance_s=60)] == ["ts:future"]
    late = prop(ts=_future(2), tipoff=_future(5))
    assert _run([late], _Engine(), future_tolerance_s=None) == []  # off


def test_output_messages_are_never_stamped_ahead_of_now() -> None:
    """The broker refuses a time more than an hour ahead of its clock: an output is stamped
    with its `as_of`, or now if that is later."""
    now_ms = datetime.now(UTC).timestamp() * 1000
    past = SimpleNamespace(player_id=7, as_of=datetime(2025, 11, 1, tzinfo=UTC))
    ahead = SimpleNamespace(player_id=7, as_of=datetime.now(UTC) + timedelta(hours=2))
    assert _key_and_stamp(past) == ("7", 1_761_955_200_000)  # type: ignore[arg-type]
    key, stamp = _key_and_stamp(ahead)  # type: ignore[arg-type]
    assert key == "7" and now_ms - 5_000 <= stamp <= now_ms + 5_000
