"""A failure inside the engine's flush (the rescoring and grading an event time asks for) is
tied to the inputs that asked for it (issue 14). A real engine with real models, one of which
raises on one player's quotes (a model bug), over a week of the shipped data: the shard never
raises, each input that asked for a rescoring of that player is dead-lettered
`internal:<Type>` with its exact bytes, every other record equals a clean run's, the counts
reconcile and the engine's state is what a clean run leaves (the facts stay applied)."""

from __future__ import annotations

import collections
import pickle
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from connectors.adapters import Record
from connectors.inputs import FileReader
from flows.run import RunCounts, counts
from flows.shard import Shard
from scoring.engine import Engine
from scoring.scorer import Request, Scorer, Stamp
from vocabulary.errors import EventError
from vocabulary.events import DeadLetter, PropLine
from vocabulary.letters import each_record
from vocabulary.records import Grade, Prediction
from vocabulary.topics import DEFAULT_NAMES, INPUT_TOPICS
from vocabulary.window import Window

TOPICS = {t: DEFAULT_NAMES[t] for t in INPUT_TOPICS}
DAYS = (date(2025, 11, 3), date(2025, 11, 7))


class FailsOn(Scorer):
    """A real scorer whose model blows up on one player's quotes (a bug in it)."""

    def __init__(self, scorer: Scorer, player_id: int) -> None:
        super().__init__(scorer.model, scorer.gate, scorer.min_edge, scorer.calibration)
        self.player_id = player_id

    def _prediction(  # type: ignore[override]
        self, version: object, request: Request, loc: float, sigma: float, stamp: Stamp
    ) -> Prediction:
        if request.vector.target.player_id == self.player_id:
            raise FloatingPointError(f"the model cannot score player {self.player_id}")
        return super()._prediction(version, request, loc, sigma, stamp)  # type: ignore[arg-type]


def _run(records: Sequence[Record], scorers: Sequence[Scorer]) -> tuple[list[BaseModel], RunCounts, Shard]:
    before = counts()
    shard = Shard(0, 1, FileReader(records, TOPICS), Engine(scorers), Window(), future_tolerance_s=None)
    out: list[BaseModel] = []
    while not shard.reader.exhausted:
        out += each_record(shard.step(300))
    return out, counts(before), shard


def _content(record: BaseModel) -> tuple[Any, ...]:
    return tuple(sorted((k, str(v)) for k, v in record.__dict__.items() if k != "emitted_at"))


@pytest.fixture(scope="module")
def week(shipped_records: list[Record]) -> list[Record]:
    return [r for r in shipped_records if r.event is not None and r.day and DAYS[0] <= r.day <= DAYS[1]]


@pytest.fixture(scope="module")
def clean(week: list[Record], scorers: list[Scorer]) -> tuple[list[BaseModel], RunCounts, Shard]:
    return _run(week, scorers)


def test_a_model_failing_on_one_player_dead_letters_the_inputs_that_asked_for_it(
    week: list[Record], scorers: list[Scorer], clean: tuple[list[BaseModel], RunCounts, Shard]
) -> None:
    clean_out, clean_counts, clean_shard = clean
    refused = sorted(map(_content, (r for r in clean_out if isinstance(r, DeadLetter))))
    assert not [r for r in clean_out if isinstance(r, DeadLetter) and r.reason.startswith("internal:")]
    by_player = collections.Counter(r.player_id for r in clean_out if isinstance(r, Prediction))
    victim = by_player.most_common(1)[0][0]
    games = {r.game_key for r in clean_out if isinstance(r, Prediction) and r.player_id == victim}

    out, run, shard = _run(week, [FailsOn(scorers[0], victim), *scorers[1:]])  # never raises

    letters = [r for r in out if isinstance(r, DeadLetter) and r.reason.startswith("internal:")]
    others = [r for r in out if isinstance(r, DeadLetter) and not r.reason.startswith("internal:")]
    assert sorted(map(_content, others)) == refused  # the refusals are the clean run's
    assert letters and {d.reason for d in letters} == {"internal:FloatingPointError"}
    assert all("cannot score player" in d.detail for d in letters)
    # each names the input that asked for the failed rescoring, with its exact bytes
    raws = {raw.offset: raw for raw in FileReader(week, TOPICS).items}  # offset: the record's index
    for letter in letters:
        raw, record = raws[letter.offset or -1], week[letter.offset or -1]
        assert letter.original == raw.value and letter.source == raw.topic
        assert record.event is not None and record.event.game_key in games
    # every other record is exactly the clean run's; the victim has none
    records = [r for r in out if isinstance(r, Prediction | Grade)]
    assert not [r for r in records if r.player_id == victim]
    expected = [r for r in clean_out if isinstance(r, Prediction | Grade) and r.player_id != victim]
    assert sorted(map(_content, records)) == sorted(map(_content, expected))
    # counts: the dead-lettered inputs moved from applied to dead-lettered, and reconcile
    assert run.reconciles and clean_counts.reconciles
    assert sum(run.events_in.values()) == sum(clean_counts.events_in.values()) == len(week)
    assert sum(run.dead_letters.values()) == sum(clean_counts.dead_letters.values()) + len(letters)
    assert run.dead_letters["internal:FloatingPointError"] == len(letters)
    assert sum(run.applied.values()) == sum(clean_counts.applied.values()) - len(letters)
    # the state is consistent: nothing pending, the features hold every fact as in the clean run
    state, clean_state = shard.engine.state, clean_shard.engine.state
    assert not state.pending and not state.pending_grades and state.pending_ts is None
    assert pickle.dumps(state.store) == pickle.dumps(clean_state.store)
    assert state.watermark == clean_state.watermark


@pytest.mark.parametrize("isolated_by", ["settle", "flush_each"])
def test_a_failed_settle_keeps_nothing_of_the_failed_units(
    week: list[Record], scorers: list[Scorer], isolated_by: str
) -> None:
    """Scoring waits for `Engine.settle`, which scores the batch's event times together; when
    that raises, it is undone and done unit by unit: every record but the failing player's
    comes out as a clean engine's, the failures name their event time, and nothing the failed
    units would have written (the last emissions, the predictions kept to grade) is kept. The
    fallback of a failed flush (`Engine.flush_each`, the time done at once) isolates alike."""
    clean = Engine(scorers)
    for n, record in enumerate(sorted(week, key=lambda r: r.event.ts)):  # type: ignore[union-attr]
        try:
            clean.apply(record.event)  # type: ignore[arg-type]
        except EventError:  # refusals (unknown players, other markets) are not this test's
            continue
        if n > 2000 and len(clean.state.pending) > 3:
            break
    clean.settle()  # the times flushed so far: both engines start from the same settled state
    ts, player = clean.state.pending_ts, next(iter(clean.state.pending)).prop[0]
    twin = Engine(scorers, state=pickle.loads(pickle.dumps(clean.state)))
    failing = Engine([FailsOn(scorers[0], player), *scorers[1:]], state=clean.state)

    def held(engine: Engine) -> tuple[bytes, ...]:
        """What the engine keeps of the player's emissions (pickled: comparable)."""
        games = engine.state.games.values()
        return tuple(
            pickle.dumps((sorted(g.before_tipoff.get(player, {}).items()), k, v))
            for g in games
            for k, v in sorted(g.emitted.items())
            if k[1] == player
        )

    before = held(failing)
    expected = twin.flush_time()  # what a fork due settles at once
    if isolated_by == "settle":
        records = failing.flush_time()
        settled, failures = failing.settle()
        records += settled
    else:
        records, failures = failing.flush_each()
    settled, none = twin.settle()
    expected += settled
    assert not none
    assert failures and {f.error.__class__ for f in failures} == {FloatingPointError}
    assert {f.ts for f in failures} == {ts} and {f.kind for f in failures} == {"rescore"}
    assert [r for r in expected if r.player_id == player]  # the player had records to lose
    assert set(map(_content, records)) == {_content(r) for r in expected if r.player_id != player}
    assert held(failing) == before
    assert not failing.state.pending and failing.state.pending_ts is None


def test_a_rewind_whose_scoring_fails_changes_nothing(week: list[Record], scorers: list[Scorer]) -> None:
    """A rewind scores its replayed event times together at its end; when that raises, the
    rewind is all or nothing: the failure goes on to the caller (which dead-letters the late
    inputs), the state is as before the late input came, and nothing is left waiting."""
    clean = Engine(scorers)
    for record in sorted(week, key=lambda r: r.event.ts):  # type: ignore[union-attr]
        try:
            clean.apply(record.event)  # type: ignore[arg-type]
        except EventError:
            continue
    clean.flush()
    steps = list(clean.state.journal)
    moved = next(
        (e, pid)
        for step in reversed(steps[len(steps) // 2 :])
        for e, pid in step.events
        if isinstance(e, PropLine) and e.is_main and e.market == "points" and pid is not None
    )
    prop, player = moved
    late = prop.model_copy(update={"line": prop.line + 1.0})  # a correction of that time's line
    failing = Engine([FailsOn(scorers[0], player), *scorers[1:]], state=clean.state)
    before = pickle.dumps(failing.state)
    assert failing.apply(late) == [] and failing.state.late  # held for the rewind
    with pytest.raises(FloatingPointError):
        failing.rewind()
    assert pickle.dumps(failing.state) == before
    assert failing.settle() == ([], [])
