"""Model versions by event time: a quote as of t is scored by the version active at t, so a
replay across a retrain reproduces the live run that switched versions at the activation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from connectors.adapters import Record
from features.identity import PlayerDirectory
from features.store import FeatureStore
from scoring.engine import Engine, Output
from scoring.evaluate import make_model
from scoring.model import PointsModel, start_of_day
from scoring.scorer import Scorer, Version
from scoring.training import TrainingSet
from tests.scoring.test_engine import _tables
from vocabulary.errors import EventError
from vocabulary.events import InputEvent
from vocabulary.records import Grade, Prediction

FIRST, RETRAIN, LAST = date(2025, 11, 8), date(2025, 11, 10), date(2025, 11, 11)


def _version(data: TrainingSet, until: date) -> PointsModel:
    return make_model(
        "champion",
        "sqrt_uncertainty",
        data.before(until),
        {"iterations": 20},
        active_from=start_of_day(until),
    )[0]


def _apply(engine: Engine, events: Iterable[InputEvent]) -> list[Output]:
    out: list[Output] = []
    for event in events:
        try:
            out += engine.apply(event)
        except EventError:  # other markets, unknown players: dead letters in the flow
            continue
    return out + engine.flush()


def test_a_replay_across_a_retrain_reproduces_the_live_run_that_switched_versions(
    shipped_records: list[Record], history: tuple[TrainingSet, FeatureStore, PlayerDirectory]
) -> None:
    old, new = _version(history[0], FIRST), _version(history[0], RETRAIN)
    switch = new.meta.active_from
    events = sorted(
        (r.event for r in shipped_records if r.event is not None and r.event.game_date <= LAST),
        key=lambda e: e.ts,
    )
    # live: a worker with the old version until the activation, then restarted with both
    live = Engine([Scorer(old)])
    out = _apply(live, (e for e in events if e.ts < switch))
    both = Scorer.of_versions([Version(new), Version(old)])
    out += _apply(Engine([both], state=live.state), (e for e in events if e.ts >= switch))
    replayed = _apply(Engine([both]), events)
    assert _tables(replayed) == _tables(out)

    predictions = [r for r in replayed if isinstance(r, Prediction)]
    grades = [r for r in replayed if isinstance(r, Grade)]
    assert {p.model_version for p in predictions} == {old.meta.version, new.meta.version}
    for p in predictions:
        version = new if p.as_of >= switch else old  # before the first activation: the first
        assert p.model_version == version.meta.version
        assert p.in_sample == (version.meta.trained_from <= p.game_date <= version.meta.trained_to)
    assert any(p.in_sample for p in predictions) and any(not p.in_sample for p in predictions)
    graded = {p.prediction_id: p for p in predictions}
    assert grades and all(
        (g.model_version, g.in_sample)
        == (graded[g.prediction_id].model_version, graded[g.prediction_id].in_sample)
        for g in grades
    )
    assert {g.game_date for g in grades if not g.in_sample} >= {FIRST, RETRAIN, LAST}


def test_a_model_trained_through_the_graded_days_marks_them_in_sample(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """The shared test models are trained on every shipped game: whatever they grade is
    in-sample, and says so."""
    last = scorers[0].model.meta.trained_to
    events = sorted(
        (
            r.event
            for r in shipped_records
            if r.event is not None and last - r.event.game_date <= date.resolution * 2
        ),
        key=lambda e: e.ts,
    )
    out = _apply(Engine(scorers, retention_days=30), events)
    grades = [r for r in out if isinstance(r, Grade)]
    assert len(grades) > 500 and all(g.in_sample for g in grades)
    assert all(
        p.in_sample and p.model_version == s.model.meta.version
        for s in scorers
        for p in out
        if isinstance(p, Prediction) and p.model == s.model.name
    )
