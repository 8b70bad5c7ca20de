"""The ordered engine: one identity, one content; late inputs corrected; bounded state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.adapters import Record
from features.store import Change
from scoring.engine import Engine, Output
from scoring.grading import grade
from scoring.rewind import FORK_EVERY, FORK_STEPS, Step
from scoring.scorer import Scorer
from tests.features.streams import interleavings, streams
from vocabulary.errors import BeyondRetentionError, EventError
from vocabulary.events import BoxScore, InputEvent, PropLine
from vocabulary.records import KEY, Grade, Prediction


def _events(topics: dict[str, list]) -> dict[str, list[InputEvent]]:  # type: ignore[type-arg]
    """The stream's topics as plain events (props come as (player, prop) pairs)."""
    return {name: [e[1] if isinstance(e, tuple) else e for e in events] for name, events in topics.items()}


def _run(
    scorers: Sequence[Scorer], events: Iterable[InputEvent], flush_after: set[int] = frozenset()
) -> list[Output]:  # type: ignore[assignment]
    engine = Engine(scorers, retention_days=30)
    out: list[Output] = []
    for i, event in enumerate(events):
        try:
            out += engine.apply(event)
        except EventError:
            continue
        if i in flush_after:
            out += engine.flush()
    return out + engine.flush()


def _tables(out: Sequence[Output]) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    """(log by prediction id, latest by key, grades by key) as a sink keeps them: the last
    emission of an id wins in the log; a withdrawn id leaves the latest table and the grades
    (docs/storage.md); otherwise the newest `as_of` per key wins."""
    log: dict[str, Prediction] = {}
    latest: dict[tuple, Prediction] = {}  # type: ignore[type-arg]
    grades: dict[tuple, Grade] = {}  # type: ignore[type-arg]
    for record in out:
        key = tuple(getattr(record, k) for k in KEY)
        if isinstance(record, Prediction):
            log[record.prediction_id] = record
            if record.withdrawn:
                for table in (latest, grades):
                    if key in table and table[key].prediction_id == record.prediction_id:
                        del table[key]
            elif key not in latest or record.as_of >= latest[key].as_of:
                latest[key] = record
        elif key not in grades or record.as_of >= grades[key].as_of:
            grades[key] = record
    return log, latest, grades


def _in_time_order(data: st.DataObject, events: list[InputEvent]) -> list[InputEvent]:
    """Sorted by event time; events of one time in any order (how topics interleave)."""
    shuffled = data.draw(st.permutations(events))
    return sorted(shuffled, key=lambda e: e.ts)


def _boundaries(data: st.DataObject, events: list[InputEvent]) -> set[int]:
    """Random batch ends, each where the event time changes (a reader never splits a time)."""
    ends = [i for i in range(len(events) - 1) if events[i].ts != events[i + 1].ts]
    return set(data.draw(st.lists(st.sampled_from(ends), unique=True))) if ends else set()


@settings(max_examples=60)
@given(data=st.data(), topics=streams())
def test_in_time_order_every_id_has_one_content_whatever_the_batches(
    scorers: list[Scorer],
    data: st.DataObject,
    topics: dict[str, list],  # type: ignore[type-arg]
) -> None:
    events = [e for stream in _events(topics).values() for e in stream]
    ordered = _in_time_order(data, events)
    out = _run(scorers, ordered, _boundaries(data, ordered))
    contents: dict[str, set[str]] = {}
    for record in out:
        if isinstance(record, Prediction):
            contents.setdefault(record.prediction_id, set()).add(record.model_dump_json())
    assert all(len(c) == 1 for c in contents.values()), "an id was emitted with two contents"
    # and the same tables as any other in-order run: batches and ties change nothing
    assert _tables(out) == _tables(_run(scorers, _in_time_order(data, events)))


@settings(max_examples=60)
@given(data=st.data(), topics=streams())
def test_late_inputs_end_in_the_tables_of_an_in_order_run(
    scorers: list[Scorer],
    data: st.DataObject,
    topics: dict[str, list],  # type: ignore[type-arg]
) -> None:
    """Every topic's events in any order (late and re-sent ones included), topics interleaved
    at random, batches ending anywhere: the log, the latest predictions and the grades equal
    those of the same events in time order. A late input corrects what it should have
    informed under the same ids and withdraws, marked in the log, what no in-order run would
    have made (docs/storage.md)."""
    events = _events(topics)
    arrived = data.draw(interleavings(events))
    arrived = data.draw(st.permutations(arrived)) if data.draw(st.booleans()) else arrived
    resent = data.draw(st.lists(st.sampled_from(arrived), max_size=3)) if arrived else []
    arrived += resent
    # every player known before the stream: a prop of a player whose first box score arrives
    # after it is dead-lettered (unknown_player), in any order (docs/operations.md)
    boxes = {e.player_id: e for e in arrived if isinstance(e, BoxScore)}
    known = [_first_box(box) for box in boxes.values()]
    stream = [*known, *arrived]
    ends = data.draw(st.sets(st.integers(0, len(stream) - 1))) if stream else set()
    log, latest, grades = _tables(_run(scorers, stream, ends))  # a rewind at each batch end
    in_order = [*known, *sorted(arrived, key=lambda e: e.ts)]
    ordered_log, ordered_latest, ordered_grades = _tables(_run(scorers, in_order))
    assert latest == ordered_latest
    assert grades == ordered_grades
    assert {i: p for i, p in log.items() if not p.withdrawn} == ordered_log


def _first_box(box: BoxScore) -> BoxScore:
    """The player's box score of a game in the season before (his identity, and a game of history)."""
    return box.model_copy(
        update={"ts": box.ts - timedelta(days=200), "game_date": box.game_date - timedelta(days=200)}
    )


def _day(records: list[Record], day: date) -> tuple[list[InputEvent], list[PropLine]]:
    """The shipped events in time order up to `day`'s props (its box scores not yet in)."""
    before = [r.event for r in records if r.event is not None and r.event.game_date < day]
    props = [
        r.event
        for r in records
        if isinstance(r.event, PropLine) and r.event.game_date == day and r.event.market == "points"
    ]
    return sorted(before, key=lambda e: e.ts), props


def _engine_on(records: list[Record], scorers: list[Scorer], day: date) -> tuple[Engine, list[PropLine]]:
    engine = Engine(scorers)
    before, props = _day(records, day)
    for event in [*before, *props]:
        try:
            engine.apply(event)
        except EventError:
            continue
    engine.flush()
    return engine, props


def _resolvable(engine: Engine, props: list[PropLine]) -> tuple[PropLine, int]:
    """The first main-line prop whose player the engine knows, and his id."""
    for prop in props:
        try:
            return prop, engine.state.directory.resolve(prop.player_name)
        except EventError:
            continue
    raise AssertionError("no prop of a known player")


def test_one_changed_line_yields_one_prediction_per_model_for_that_key(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    main, player = _resolvable(engine, props)
    assert engine.apply(main) == [] and engine.flush() == []  # an unchanged re-send: nothing new
    moved = main.model_copy(
        update={"ts": main.ts + timedelta(minutes=30), "line": main.line + 1.0, "over_price": -120.0}
    )
    engine.apply(moved)
    out = engine.flush()
    assert sorted((p.model, p.player_id, p.book, p.line) for p in out) == [
        ("champion", player, main.book, main.line + 1.0),
        ("shadow", player, main.book, main.line + 1.0),
    ]
    assert all(p.as_of == moved.ts for p in out)


def test_a_rescoring_that_changes_no_prediction_emits_nothing(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    prop = next(
        p for p in props if (p.is_main and p.player_name in {"Jalen Brunson", "Luka Doncic"}) or p.is_main
    )
    player = engine.state.directory.resolve(prop.player_name)
    engine.state.pending[Change((player, prop.game_key, "points"))] = None
    engine.state.pending_ts = engine.state.watermark  # as if an event of that time had changed it
    assert engine.flush() == []  # every book of the prop rescored: the same predictions as emitted


def test_other_markets_are_refused_until_a_model_scores_them(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    rebounds = props[0].model_copy(update={"market": "rebounds"})
    with pytest.raises(EventError, match="market:unsupported"):
        engine.apply(rebounds)


def test_an_event_beyond_the_retention_is_refused_and_old_games_expire(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    state = engine.state
    assert min(g.game_date for g in state.games.values()) >= date(2025, 11, 10) - timedelta(days=3)
    assert min(m.game_date for m in state.store.markets.values()) >= date(2025, 11, 7)
    old = props[0].model_copy(
        update={"tipoff": props[0].tipoff - timedelta(days=5), "ts": props[0].ts - timedelta(days=5)}
    )
    with pytest.raises(BeyondRetentionError, match="older than the retention"):
        engine.apply(old)
    # a late event about a kept game rewinds from a fork, unless it is stamped at or before the base
    assert state.base is not None and state.base.watermark is not None and state.watermark is not None
    behind = state.watermark - state.base.watermark
    assert engine.retention <= behind < engine.retention + FORK_EVERY
    prop = _resolvable(engine, props)[0]
    with pytest.raises(BeyondRetentionError, match="too late to rewind to"):
        engine.apply(prop.model_copy(update={"ts": state.base.watermark}))
    engine.apply(
        prop.model_copy(update={"ts": state.base.watermark + timedelta(seconds=1), "line": prop.line + 7})
    )
    rewinds = state.rewinds
    engine.flush()
    assert engine.state.rewinds == rewinds + 1
    largest, total = state.size_bytes()
    assert 0 < largest < 250_000 < total < 20_000_000  # a game of props, or two seasons of a player


def test_a_live_rewind_retraces_at_most_fork_steps_of_the_journal(
    shipped_records: list[Record], scorers: list[Scorer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live line moves are an event time each: a move a little late rewinds from a fork at
    most `FORK_STEPS` steps back, not from the last fork by event time (the history's)."""
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    main, _ = _resolvable(engine, props)
    assert engine.state.watermark is not None
    start = engine.state.watermark + timedelta(minutes=1)
    moves = [
        main.model_copy(
            update={
                "ts": start + timedelta(milliseconds=i),
                "tipoff": start + timedelta(hours=2),
                "line": main.line + (0.5 if i % 2 else -0.5),
            }
        )
        for i in range(3 * FORK_STEPS)
    ]
    emitted = 0
    for move in moves:
        engine.apply(move)
        emitted += len(engine.flush())
    assert emitted >= len(moves)  # every move rescored: an event time of its own
    retraced: list[Step] = []
    retrace = engine._retrace
    monkeypatch.setattr(engine, "_retrace", lambda state, step: (retraced.append(step), retrace(state, step)))
    rewinds = engine.state.rewinds
    engine.apply(
        moves[-1].model_copy(update={"ts": moves[-1].ts - timedelta(microseconds=500), "line": 40.5})
    )
    assert engine.flush() and engine.state.rewinds == rewinds + 1
    assert 0 < len(retraced) <= FORK_STEPS


def test_records_built_without_validation_are_valid_records(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """The scorer and the grader skip pydantic's validation on the hot path: what they build
    must be exactly what validation would have built, field for field and in order."""
    engine, props = _engine_on(shipped_records, scorers, date(2025, 11, 10))
    prop, player = _resolvable(engine, props)
    engine.state.pending[Change((player, prop.game_key, "points"))] = None
    engine.state.pending_ts = engine.state.watermark  # as if an event of that time had changed it
    engine.state.games[prop.game_key].emitted.clear()  # say them again
    predictions = engine.flush()
    assert predictions
    graded = [grade(p, None) for p in predictions]
    for record in [*predictions, *graded]:
        assert list(record.__dict__) == list(type(record).model_fields)
        assert type(record).model_validate(record.__dict__) == record
