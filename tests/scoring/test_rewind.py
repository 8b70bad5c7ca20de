"""The difference a rewind emits (`scoring.rewind.corrections`), on real predictions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scoring.evaluate import main_line_requests, make_model
from scoring.grading import grade
from scoring.rewind import Step, corrections
from scoring.scorer import Scorer
from vocabulary.records import KEY, Prediction, prediction_id

_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def slate(history: tuple) -> list[Prediction]:  # type: ignore[type-arg]
    data, store, _ = history
    model = make_model("champion", "sqrt_uncertainty", data, {"iterations": 40})[0]
    return Scorer(model).score(main_line_requests(store, date(2025, 11, 10)))[:6]


def _later(p: Prediction, minutes: int, **update: object) -> Prediction:
    as_of = p.as_of + timedelta(minutes=minutes)
    pid = prediction_id(
        model=p.model, player_id=p.player_id, game_key=p.game_key, book=p.book, market=p.market, as_of=as_of
    )
    return p.model_copy(update={"as_of": as_of, "prediction_id": pid, **update})


def _key(p: Prediction) -> tuple[str, ...]:
    return tuple(str(getattr(p, k)) for k in KEY)


def test_unchanged_ids_are_not_said_again_and_changed_ones_are(slate: list[Prediction]) -> None:
    since = min(p.as_of for p in slate)
    journal = [Step(since, [], [*slate, *(grade(p, None) for p in slate)])]
    changed = slate[0].model_copy(update={"p_over": 1 - slate[0].p_over})
    replayed = [changed, *slate[1:], *(grade(p, None) for p in slate)]
    out = corrections(journal, [], replayed, since, last_emitted=lambda _: None, emitted_at=_NOW)
    assert out == [changed]


def test_a_regrade_is_said_only_when_it_differs_from_the_last_grade_before_the_late_event(
    slate: list[Prediction],
) -> None:
    """Grades emitted before the rewound steps are read back (newest first) to compare with."""
    since = max(p.as_of for p in slate) + timedelta(minutes=1)
    graded = [grade(p, None) for p in slate]
    earlier = [
        Step(since - timedelta(minutes=2), [], graded[:3]),
        Step(since - timedelta(minutes=1), [], graded[3:]),
    ]
    regraded = graded[0].model_copy(update={"result": "PUSH"})
    out = corrections(
        [], earlier[::-1], [regraded, *graded[1:]], since, last_emitted=lambda _: None, emitted_at=_NOW
    )
    assert out == [regraded]


def test_an_id_no_replay_makes_is_withdrawn_and_the_one_it_displaced_comes_back(
    slate: list[Prediction],
) -> None:
    """The latest table must show again the prediction the withdrawn one had displaced."""
    earlier, since = slate[0], slate[0].as_of + timedelta(minutes=1)
    later = _later(earlier, 30)
    graded = grade(later, None)
    journal = [Step(since, [], [later, graded])]
    last = {_key(earlier): earlier}
    out = corrections(
        journal, [], [grade(earlier, None)], since, last_emitted=lambda p: last.get(_key(p)), emitted_at=_NOW
    )
    withdrawn = later.model_copy(update={"withdrawn": True, "emitted_at": _NOW})
    assert out == [withdrawn, earlier, grade(earlier, None)]
