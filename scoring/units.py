"""A flushed event time's scoring work, built when its time is flushed and scored with the
others of the caller's batch.

Scoring one event time at a time evaluated the trees for a handful of rows per call: a live
line move is one row, and a tree evaluation costs about as much for one row as for twenty
(`make bench`, `score_us_per_prediction_single` / `_batch64`: 48 and 15 µs a prediction; a
live points move in the engine 180 → 112 µs once a batch's moves are scored together). What an event time's
predictions depend on is read when its time is flushed: the feature vectors and prices of the
changed quotes, and the box scores its grades need (`Unit`). What they change is written when
the unit is settled, in event-time order: the last emission per key (a rescoring equal to it
emits nothing) and the predictions kept to grade (`finish`). So settling several units at once
gives exactly what settling each at its own time gives, as long as nothing reads those tables
in between; the engine settles first wherever something does (a game going final, expiry, a
fork, a rewind).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from features.store import Change, FeatureStore
from scoring.games import GameState, Undo, remember, undo
from scoring.grading import grade
from scoring.rewind import Output, content
from scoring.scorer import Request, Scorer, Stamp
from vocabulary.events import BoxScore
from vocabulary.records import Prediction

__all__ = ["FlushFailure", "Part", "Unit", "build", "finish", "score", "settle_each", "settle_parts"]

_Target = tuple[int, str]  # (player, game)


@dataclass(slots=True)
class Unit:
    """One event time's scoring work: per change (in the order the events asked for them) the
    requests of its quotes; the (player, game) pairs to grade; the box score of each pair it
    may grade, as of its time (a later event of the batch may replace it); and `outputs`, its
    journal step's records, filled when it is settled."""

    ts: datetime
    emitted_at: datetime | None
    changes: list[tuple[Change, dict[tuple[object, ...], Request]]]
    to_grade: list[_Target]
    boxes: dict[_Target, BoxScore | None]
    outputs: list[Output] = field(default_factory=list)

    def requests(self) -> list[Request]:
        """One request per quote, the last change's where two changes name the same quote."""
        merged: dict[tuple[object, ...], Request] = {}
        for _, requests in self.changes:
            merged.update(requests)
        return list(merged.values())


@dataclass(frozen=True, slots=True)
class FlushFailure:
    """A unit of pending work whose flush raised: the rescoring of a changed prop (`index` in
    the order the events of time `ts` asked for them) or a grading (`index` likewise)."""

    ts: datetime
    kind: Literal["rescore", "grade"]
    index: int
    unit: str
    error: Exception


def build(
    ts: datetime,
    emitted_at: datetime | None,
    changes: Sequence[Change],
    to_grade: Sequence[_Target],
    *,
    store: FeatureStore,
    games: dict[str, GameState],
) -> Unit:
    """The unit of an event time from the state as of it: vectors, prices and box scores."""
    per_change = []
    targets: set[_Target] = set(to_grade)
    for change in changes:
        requests: dict[tuple[object, ...], Request] = {}
        for quote in store.main_quotes(change):
            t = quote.target
            requests[(t.player_id, t.game_key, t.market, t.book)] = Request(
                store.vector(t), quote.over_price, quote.under_price, games[t.game_key].tipoff
            )
            targets.add((t.player_id, t.game_key))
        per_change.append((change, requests))
    boxes = {(p, g): games[g].boxes.get(p) for p, g in targets}
    return Unit(ts, emitted_at, per_change, list(to_grade), boxes)


def score(
    scorers: Sequence[Scorer], units: Sequence[Unit], name: Callable[[int], str | None]
) -> list[list[Prediction]]:
    """Each unit's predictions (per scorer, its market's requests), one tree evaluation per
    scorer for all the units that share an emit time (`name` gives the players' names)."""
    requests = [unit.requests() for unit in units]
    out: list[list[Prediction]] = [[] for _ in units]
    start = 0
    while start < len(units):
        emitted_at = units[start].emitted_at
        end = start
        while end < len(units) and units[end].emitted_at == emitted_at:
            end += 1
        stamp = Stamp(emitted_at, name)
        for scorer in scorers:
            market = scorer.model.market
            mine = [[r for r in requests[i] if r.vector.target.market == market] for i in range(start, end)]
            scored = iter(scorer.score([r for rs in mine for r in rs], stamp))
            for i, rs in zip(range(start, end), mine, strict=True):
                out[i] += [next(scored) for _ in rs]
        start = end
    return out


def finish(
    unit: Unit, predictions: Sequence[Prediction], games: dict[str, GameState], log: Undo
) -> list[Output]:
    """The unit's records from its predictions, against the tables as settled up to its time:
    the predictions that differ from the last emitted for their key, then the grade of each one
    made before tip-off for a player whose game is done, then the unit's gradings. Writes are
    logged in `log`; the records join the unit's journal step."""
    new = []
    for p in predictions:
        held = games[p.game_key].emitted.get((p.model, p.player_id, p.book, p.market))
        signature = hash(content(p))
        if held is None or held[0] != signature:  # what was last said for the key is not said again
            new.append((signature, p))
    out: list[Output] = [p for _, p in new]
    grading = set(unit.to_grade)  # graded below with every prediction of the time: not twice
    for signature, p in new:
        target = (p.player_id, p.game_key)
        box = unit.boxes[target]
        done = games[p.game_key].final or box is not None
        if remember(games, signature, p, log) and done and target not in grading:
            out.append(grade(p, box, unit.emitted_at))  # learnt after the game was done
    for player_id, game_key in unit.to_grade:
        box = unit.boxes[(player_id, game_key)]
        slots = games[game_key].before_tipoff.get(player_id, {})
        out += [grade(p, box, unit.emitted_at) for p in slots.values()]
    unit.outputs += out
    return out


Part = tuple[Literal["rescore", "grade"], int, str, Unit]  # (kind, index, what, its unit)


def settle_each(
    scorers: Sequence[Scorer], unit: Unit, name: Callable[[int], str | None], games: dict[str, GameState]
) -> tuple[list[Output], list[FlushFailure]]:
    """A unit whose batch failed to settle, one change and then one grading at a time."""
    parts: list[Part] = [
        ("rescore", i, repr(change), Unit(unit.ts, unit.emitted_at, [(change, requests)], [], unit.boxes))
        for i, (change, requests) in enumerate(unit.changes)
    ]
    parts += [
        ("grade", i, repr(key), Unit(unit.ts, unit.emitted_at, [], [key], unit.boxes))
        for i, key in enumerate(unit.to_grade)
    ]
    out, failures = settle_parts(scorers, parts, name, games)
    unit.outputs += out
    return out, failures


def settle_parts(
    scorers: Sequence[Scorer],
    parts: Sequence[Part],
    name: Callable[[int], str | None],
    games: dict[str, GameState],
) -> tuple[list[Output], list[FlushFailure]]:
    """Each part scored and finished on its own, in order; a part that raises is left out,
    undone, and returned as a failure of its event time."""
    out: list[Output] = []
    failures: list[FlushFailure] = []
    for kind, index, described, part in parts:
        log: Undo = []
        try:
            (predictions,) = score(scorers, [part], name)
            out += finish(part, predictions, games, log)
        except Exception as exc:
            undo(log)
            failures.append(FlushFailure(part.ts, kind, index, described, exc))
    return out, failures
