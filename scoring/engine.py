"""One player's engine: events in, predictions and grades out (pure; the dataflow keeps one per
player, and the same code runs in tests without Bytewax).

Rescoring rules (docs/operations.md):
- a prop whose book's main line or prices changed: one prediction per model for that
  (player, game, book), and no others; an unchanged re-send or an alternate line: nothing;
- a rescoring that yields exactly the prediction last emitted for its key emits nothing;
- events applied together (the dataflow passes a join, or a run of one player's events with
  the same event time) rescore once: their predictions share one `as_of`, so one identity;
- a box score of an earlier game, a game line, or a final score of a team's earlier game:
  every open book of the player's affected games, per model;
- the player's box score for G (or G going final without one: VOID) grades the latest
  prediction for every book of G made before tip-off; a prediction made after G is done is
  graded at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from features.schema import Target
from features.store import FeatureStore
from scoring.grading import grade
from scoring.scorer import Request, Scorer
from vocabulary.events import BoxScore, GameLine, InputEvent, PropLine
from vocabulary.records import Grade, Prediction

__all__ = ["Engine", "PlayerState"]

Output = Prediction | Grade


@dataclass
class PlayerState:
    """Everything kept for one player (picklable, no models: those live in the Engine)."""

    store: FeatureStore = field(default_factory=FeatureStore)
    tipoffs: dict[str, datetime] = field(default_factory=dict)
    boxes: dict[str, BoxScore] = field(default_factory=dict)
    finals: set[str] = field(default_factory=set)
    emitted: dict[tuple[str, str, str, str], int] = field(default_factory=dict)  # see Engine._new


class Engine:
    def __init__(self, scorers: Sequence[Scorer]) -> None:
        if not scorers:
            raise ValueError("the engine needs at least one model")
        self.scorers = list(scorers)

    def apply(
        self, state: PlayerState, events: InputEvent | tuple[InputEvent, ...], player_id: int
    ) -> list[Output]:
        """Apply one event, or a batch of them (then rescore once for all of them)."""
        targets: dict[tuple[str, str], None] = {}
        to_grade: dict[str, None] = {}
        for event in events if isinstance(events, tuple) else (events,):
            changed, done = self._update(state, event, player_id)
            targets.update(dict.fromkeys(changed))
            to_grade.update(dict.fromkeys(done))
        out = self._rescore(state, player_id, list(targets))
        for game_key in to_grade:
            out += self._grades(state, player_id, game_key)
        return out

    def _update(
        self, state: PlayerState, event: InputEvent, player_id: int
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """Apply an event to the state; returns the (game, book) to rescore and the games to grade."""
        store = state.store
        if isinstance(event, PropLine):
            state.tipoffs.setdefault(event.game_key, event.tipoff)
            return ([(event.game_key, event.book)] if store.apply_prop(player_id, event) else []), []
        if isinstance(event, BoxScore):
            held = state.boxes.get(event.game_key)
            if held is None or (event.ts, event.model_dump_json()) > (held.ts, held.model_dump_json()):
                state.boxes[event.game_key] = event
            return self._books(store, store.apply_box_score(event)), [event.game_key]
        if isinstance(event, GameLine):
            return self._books(store, store.apply_game_line(event)), []
        changed = self._books(store, store.apply_game(event))
        if event.status != "final":
            return changed, []
        # remembered even before the player's prop arrives (it may come by another path):
        # a prediction made later for a finished game is graded at once
        state.finals.add(event.game_key)
        return changed, ([] if event.game_key in state.boxes else [event.game_key])

    @staticmethod
    def _books(store: FeatureStore, affected: Iterable[tuple[int, str]]) -> list[tuple[str, str]]:
        return [(game, book) for player, game in affected for book, _ in store.open_books(player, game)]

    def _predict(
        self, state: PlayerState, player_id: int, targets: Sequence[tuple[str, str]]
    ) -> list[Prediction]:
        requests = []
        for game_key, book in targets:
            main = state.store.markets[(player_id, game_key)].books[book].main
            if main is None:
                continue  # the book's main line was withdrawn: nothing to score until it returns
            vector = state.store.vector(Target(player_id, game_key, book, main.line))
            requests.append(Request(vector, main.over_price, main.under_price))
        return [p for scorer in self.scorers for p in scorer.score(requests)]

    def _rescore(
        self, state: PlayerState, player_id: int, targets: Sequence[tuple[str, str]]
    ) -> list[Output]:
        predictions = self._predict(state, player_id, targets)
        done = [p for p in predictions if p.game_key in state.boxes or p.game_key in state.finals]
        return [*self._new(state, predictions), *self._grade(state, done)]

    @staticmethod
    def _new(state: PlayerState, predictions: Iterable[Prediction]) -> list[Prediction]:
        """Leave out a prediction identical to the last one emitted for its (model, game, book,
        market): news the model does not use (a game line, another team's final) rescores to
        the same prediction, and saying it again only costs every sink a write (it was half
        of a season replay's output). Signatures are Python hashes, so after a restart in a new
        process one identical prediction may be said again, which the idempotent sinks absorb."""
        out = []
        for p in predictions:
            key = (p.model, p.game_key, p.book, p.market)
            signature = hash(tuple(p.__dict__.values()))
            if state.emitted.get(key) != signature:
                state.emitted[key] = signature
                out.append(p)
        return out

    def _grades(self, state: PlayerState, player_id: int, game_key: str) -> list[Output]:
        books = [(game_key, book) for book, _ in state.store.open_books(player_id, game_key)]
        return list(self._grade(state, self._predict(state, player_id, books)))

    @staticmethod
    def _grade(state: PlayerState, predictions: Iterable[Prediction]) -> list[Grade]:
        """Grade predictions made before their game's tip-off."""
        return [
            grade(p, state.boxes.get(p.game_key))
            for p in predictions
            if p.as_of < state.tipoffs.get(p.game_key, p.as_of)
        ]
