"""As-of semantics on real data: no look-ahead, and late box scores reach later open games."""

from __future__ import annotations

import pickle
from datetime import date

from features.schema import FEATURE_NAMES, PLAYER_FEATURES, Target
from features.store import Change, FeatureStore
from tests.features.conftest import Season
from vocabulary.events import BoxScore, PropLine


def _player_with_props(season: Season, game_date: date) -> tuple[int, PropLine, list[BoxScore]]:
    """A player with a main prop on `game_date` and box scores before and after it."""
    boxes: dict[int, list[BoxScore]] = {}
    for box in season.of(BoxScore):
        boxes.setdefault(box.player_id, []).append(box)
    for pid, prop in season.props:
        if prop.is_main and prop.game_date == game_date:
            mine = sorted(boxes.get(pid, []), key=lambda b: b.game_date)
            if (
                sum(b.game_date < game_date for b in mine) >= 5
                and sum(b.game_date > game_date for b in mine) >= 3
            ):
                return pid, prop, mine
    raise AssertionError("no such player in the shipped data")


def test_future_box_scores_fed_early_do_not_change_an_earlier_game(season: Season) -> None:
    pid, prop, boxes = _player_with_props(season, date(2025, 11, 5))
    target = Target(pid, prop.game_key, prop.book, prop.line, prop.market)
    before = [b for b in boxes if b.game_date < prop.game_date]
    same_or_later = [b for b in boxes if b.game_date >= prop.game_date]
    assert same_or_later[0].game_date == prop.game_date  # his box score of the game itself is among them

    honest = FeatureStore()
    for box in before:
        honest.apply(box)
    honest.apply(prop, pid)

    early = FeatureStore()
    for box in same_or_later:  # the future first: his box score of G and of later games
        assert early.apply(box) == []
    for box in before:
        early.apply(box)
    assert early.apply(prop, pid) == [Change((pid, prop.game_key, prop.market), prop.book)]
    for box in same_or_later:  # and again after the prop is open: still nothing to rescore
        assert early.apply(box.model_copy(update={"ts": box.ts.replace(microsecond=1)})) == []
    assert early.vector(target) == honest.vector(target)
    # the full season (other books, game lines, team results too) agrees on the player's history
    n = len(PLAYER_FEATURES)
    full, own = season.store.vector(target), honest.vector(target)
    assert (full.values[:n], full.provenance[:n]) == (own.values[:n], own.provenance[:n])


def test_a_late_box_score_changes_later_open_games_and_says_which(season: Season) -> None:
    pid, prop, boxes = _player_with_props(season, date(2025, 11, 5))
    target = Target(pid, prop.game_key, prop.book, prop.line, prop.market)
    earlier = [b for b in boxes if b.game_date < prop.game_date]
    store = FeatureStore()
    for box in earlier[:-1]:
        store.apply(box)
    store.apply(prop, pid)
    stale = store.vector(target)

    changed = store.apply(earlier[-1])  # the last game before G arrives late
    assert changed == [Change((pid, prop.game_key, prop.market))]
    fresh = store.vector(target)
    assert fresh.history_games == stale.history_games + 1
    moved = {n for n, a, b in zip(FEATURE_NAMES, stale.values, fresh.values, strict=True) if a != b}
    assert {"pts_mean_3", "rest_days", "games_played_season"} <= moved
    assert store.apply(earlier[-1]) == []  # re-sent unchanged: nothing to rescore


def test_state_is_picklable_and_small(season: Season) -> None:
    store = season.store
    clone = pickle.loads(pickle.dumps(store))
    some = next(iter(store.markets))
    target = store.main_quotes(Change(some))[0].target
    assert clone.vector(target) == store.vector(target)
    per_player = [len(pickle.dumps(history)) for history in store.players.values()]
    # two seasons of box scores (up to 96 games here): about 100 bytes a game
    assert max(per_player) < 12_000
    assert sum(per_player) / len(per_player) < 7_000


def test_expiry_bounds_the_state(season: Season) -> None:
    store = pickle.loads(pickle.dumps(season.store))
    markets_before = len(store.markets)
    dropped = store.expire(date(2025, 11, 13))
    assert dropped > 0
    assert all(m.game_date >= date(2025, 11, 13) for m in store.markets.values())
    assert 0 < len(store.markets) < markets_before
    # a year later everything has expired
    store.expire(date(2026, 12, 31))
    assert not store.markets and not store.players and not store.games
