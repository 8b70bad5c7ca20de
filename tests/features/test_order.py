"""Order independence: how the topics interleave never changes the final vectors."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from features.oracle import oracle_features
from features.schema import FeatureVector, Target
from features.store import FeatureStore
from tests.features.streams import interleavings, streams
from vocabulary.events import BoxScore, Game, GameLine, PropLine


def _run(events: list) -> FeatureStore:
    store = FeatureStore()
    for event in events:
        if isinstance(event, tuple):
            store.apply(event[1], event[0])
        else:
            store.apply(event)
    return store


def _vectors(store: FeatureStore) -> dict[Target, FeatureVector]:
    out = {}
    for (player, game, market_name), market in store.markets.items():
        for book, ladder in market.books.items():
            for line in ladder.quotes:
                target = Target(player, game, book, line, market_name)
                out[target] = store.vector(target)
    return out


def _same(a: FeatureVector, b: FeatureVector) -> bool:
    return (
        a.as_of == b.as_of
        and a.provenance == b.provenance
        and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a.values, b.values, strict=True))
    )


@given(data=st.data(), topics=streams())
def test_interleaving_does_not_change_final_vectors(data: st.DataObject, topics: dict[str, list]) -> None:
    first = _vectors(_run(data.draw(interleavings(topics))))
    second = _vectors(_run(data.draw(interleavings(topics))))
    # topic by topic, box scores first and props first: the two orders the flow tests use too
    boxes_first = _vectors(
        _run([e for name in ("box_scores", "games", "game_lines", "props") for e in topics[name]])
    )
    props_first = _vectors(
        _run([e for name in ("props", "game_lines", "games", "box_scores") for e in topics[name]])
    )
    assert first.keys() == second.keys() == boxes_first.keys() == props_first.keys()
    for target, vector in first.items():
        for other in (second, boxes_first, props_first):
            assert _same(vector, other[target]), target


@settings(max_examples=40)
@given(data=st.data(), topics=streams())
def test_random_streams_equal_the_oracle(data: st.DataObject, topics: dict[str, list]) -> None:
    store = _run(data.draw(interleavings(topics)))
    props = topics["props"]
    if not props:
        return
    oracle = oracle_features(
        [e for e in topics["box_scores"] if isinstance(e, BoxScore)],
        [e for e in topics["games"] if isinstance(e, Game)],
        [e for e in topics["game_lines"] if isinstance(e, GameLine)],
        [(pid, p) for pid, p in props if isinstance(p, PropLine)],
    )
    vectors = _vectors(store)
    assert oracle.height == len(vectors)
    names = vectors[next(iter(vectors))].names
    for row in oracle.iter_rows(named=True):
        vector = vectors[Target(row["player_id"], row["game_key"], row["book"], row["line"], row["market"])]
        for name, value, provenance in zip(names, vector.values, vector.provenance, strict=True):
            expected = row[f"v_{name}"]
            assert (math.isnan(value) and math.isnan(expected)) or abs(value - expected) <= 1e-9, name
            assert provenance == row[f"prov_{name}"], name
