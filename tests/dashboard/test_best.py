"""The best price per prop and the prop's row (dashboard/best.py): properties over generated
quotes, with ties (few lines and prices) and one-sided quotes (no under price)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dashboard.best import SIDES, Side, best, consensus, ev, price, prop_row, prop_rows, side_of

T0 = datetime(2025, 11, 10, 17, tzinfo=UTC)
BOOKS = ("betmgm", "betonlineag", "bovada", "draftkings", "fanduel", "williamhill_us")


def _profit(american: float) -> float:
    return american / 100 if american > 0 else 100 / -american


def quote(
    book: str,
    line: float,
    over: float,
    under: float | None,
    p_over: float,
    *,
    min_edge: float = 0.03,
    player_id: int = 1,
    market: str = "points",
    minute: int = 0,
) -> dict[str, Any]:
    """A book's prediction as the scorer makes it: EV from the model's probability and the
    price, edge against the de-vigged market, the pick by the scorer's rule."""
    p_under = 1 - p_over
    implied_over = 1 / (1 + _profit(over))
    market_p_over = None
    if under is not None:
        implied_under = 1 / (1 + _profit(under))
        market_p_over = implied_over / (implied_over + implied_under)
    edge = None if market_p_over is None else p_over - market_p_over
    ev_over = p_over * _profit(over) - p_under
    ev_under = None if under is None else p_under * _profit(under) - p_over
    pick = "PASS"
    if edge is not None and edge >= min_edge and ev_over > 0:
        pick = "OVER"
    elif edge is not None and -edge >= min_edge and ev_under is not None and ev_under > 0:
        pick = "UNDER"
    return {
        "prediction_id": f"{book}-{player_id}-{market}-{minute}",
        "model": "champion",
        "player_id": player_id,
        "player_name": f"Player {player_id}",
        "game_key": "20251110-ATL@LAC",
        "game_date": "2025-11-10",
        "book": book,
        "market": market,
        "line": line,
        "as_of": (T0 + timedelta(minutes=minute)).isoformat(),
        "over_price": over,
        "under_price": under,
        "mean": 20.0,
        "sigma": 5.0,
        "p_over": p_over,
        "p_under": p_under,
        "p_push": 0.0,
        "market_p_over": market_p_over,
        "edge": edge,
        "ev_over": ev_over,
        "ev_under": ev_under,
        "recommendation": pick,
        "actionable": pick != "PASS",
        "reasons": [] if pick != "PASS" else ["edge<0.03"],
        "defaulted": [],
        "result": None,
        "actual": None,
        "graded_side": None,
        "graded_pick": None,
    }


PRICES = st.sampled_from([-130.0, -120.0, -110.0, -105.0, 100.0, 110.0])
# the model's P(over) by line: lower lines are likelier to go over
P_AT = {22.5: 0.62, 23.5: 0.55, 24.5: 0.48}


@st.composite
def props(draw: st.DrawFn, *, player_id: int = 1) -> list[dict[str, Any]]:
    books = draw(st.lists(st.sampled_from(BOOKS), min_size=1, max_size=len(BOOKS), unique=True))
    shift = draw(st.sampled_from([-0.2, 0.0, 0.2]))  # the model leaning one way or the other
    out = []
    for minute, book in enumerate(books):
        line = draw(st.sampled_from(sorted(P_AT)))
        under = draw(st.one_of(st.none(), PRICES))
        out.append(
            quote(book, line, draw(PRICES), under, P_AT[line] + shift, player_id=player_id, minute=minute)
        )
    return out


def _rank(row: dict[str, Any], side: Side) -> tuple[float, float, float]:
    return (ev(row, side), price(row, side), -row["line"] if side == "OVER" else row["line"])  # type: ignore[return-value]


@given(props())
def test_the_best_quote_of_a_side_pays_most_then_has_the_better_price_line_and_book_name(
    rows: list[dict[str, Any]],
) -> None:
    for side in SIDES:
        chosen = best(rows, side)
        priced = [r for r in rows if price(r, side) is not None]
        if not priced:
            assert chosen is None  # a one-sided quote is not a candidate on its missing side
            continue
        assert chosen is not None and chosen in priced
        assert all(_rank(r, side) <= _rank(chosen, side) for r in priced)
        tied = [r["book"] for r in priced if _rank(r, side) == _rank(chosen, side)]
        assert chosen["book"] == min(tied)  # a full tie goes to the first book key


@given(props(), st.randoms(use_true_random=False))
def test_the_row_does_not_depend_on_the_order_of_the_books(
    rows: list[dict[str, Any]], rnd: random.Random
) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert prop_row(shuffled) == prop_row(rows)


@given(st.sampled_from(sorted(P_AT)), st.lists(st.tuples(st.sampled_from(BOOKS), PRICES, PRICES), min_size=1))
def test_at_one_line_the_best_over_and_under_are_the_best_prices(
    line: float, quotes: list[tuple[str, float, float]]
) -> None:
    rows = [quote(b, line, o, u, P_AT[line]) for b, o, u in dict((q[0], q) for q in quotes).values()]
    row = prop_row(rows)
    assert row["best_over"]["price"] == max(r["over_price"] for r in rows)
    assert row["best_under"]["price"] == max(r["under_price"] for r in rows)
    assert row["consensus"] == line and row["books"] == len(rows)


@given(props())
def test_the_pick_is_the_best_recommended_quote_and_a_pass_shows_the_better_side(
    rows: list[dict[str, Any]],
) -> None:
    row = prop_row(rows)
    picks = [(r, r["recommendation"]) for r in rows if r["recommendation"] != "PASS"]
    if not picks:
        assert row["pick"] == "PASS" and row["picked_at"] == 0
        sides = [(s, best(rows, s)) for s in SIDES]
        top = max(ev(q, s) for s, q in sides if q is not None)  # type: ignore[type-var]
        assert row["ev"] == top
    else:
        assert row["pick"] in SIDES and row["side"] == row["pick"]
        assert row["ev"] == max(ev(r, s) for r, s in picks)  # type: ignore[type-var]
        shown = next(r for r in rows if r["book"] == row["book"])
        assert shown["recommendation"] == row["pick"]
        assert row["picked_at"] == sum(r["recommendation"] == row["pick"] for r in rows)
    assert row["price"] == price(next(r for r in rows if r["book"] == row["book"]), row["side"])
    assert row["as_of"] == max(r["as_of"] for r in rows)


@given(st.lists(props(player_id=1), min_size=1, max_size=1), props(player_id=2))
def test_prop_rows_gives_one_row_per_player_game_and_market(
    first: list[list[dict[str, Any]]], second: list[dict[str, Any]]
) -> None:
    rows = [*first[0], *second]
    out = prop_rows(rows)
    assert [r["player_id"] for r in out] == [1, 2]
    assert out[1] == prop_row(second)


def test_a_pass_is_about_the_side_the_model_favours() -> None:
    lean_under = quote("fanduel", 24.5, -110.0, -110.0, 0.49)
    assert lean_under["recommendation"] == "PASS" and side_of(lean_under) == "UNDER"
    one_sided = quote("bovada", 24.5, -110.0, None, 0.6)
    assert one_sided["recommendation"] == "PASS" and side_of(one_sided) == "OVER"
    row = prop_row([one_sided])
    assert row["best_under"] is None and row["side"] == "OVER" and row["edge"] is None


def test_consensus_is_the_median_line() -> None:
    rows: Sequence[dict[str, Any]] = [
        quote(b, line, -110.0, -110.0, 0.5) for b, line in zip(BOOKS, (22.5, 23.5, 23.5, 24.5), strict=False)
    ]
    assert consensus(rows) == 23.5
    assert consensus(rows[:2]) == 23.0
