"""The best price per prop, and a prop's row on the slate: pure functions over one model's latest
prediction at each book for one (player, game, market).

- **Best over / best under**: the book whose quote pays most on that side by the model: the
  highest expected value per unit staked. At one line that is simply the best price; across
  lines the model's probability at each line prices the half points. Ties go to the better
  price, then the better line (lower for the over, higher for the under), then the book key
  in alphabetical order. A book with no price on a side (a one-sided quote) is not a candidate
  on that side.
- **Pick**: among the books whose own prediction recommends a side, the best of them by the
  same order (the larger EV if both sides are recommended somewhere); PASS when no book's
  prediction recommends a bet. The pick's quote gives the row its edge, EV and P(over).
- **A PASS** shows the better of the best over and best under (by EV), on the side it is
  about; it is graded on the model's lean at its book, with no money at stake.

`static/best.js` implements the same rules for live updates in the browser; a browser test
checks the two agree on generated quotes.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

__all__ = ["SIDES", "Side", "best", "consensus", "edge", "ev", "price", "prop_row", "prop_rows", "side_of"]

Side = Literal["OVER", "UNDER"]
SIDES: Final[tuple[Side, Side]] = ("OVER", "UNDER")
Row = Mapping[str, Any]

# copied from the quote the row shows (the pick's, or for a PASS the better side's)
_FROM_QUOTE: Final = (
    "model",
    "player_name",
    "game_date",
    "book",
    "line",
    "mean",
    "sigma",
    "p_over",
    "market_p_over",
    "actionable",
    "reasons",
    "defaulted",
    "prediction_id",
    "result",
    "actual",
    "graded_side",
    "graded_pick",
    "stale",  # the quote's stale flag (dashboard/stale.py), where the slate sets one
    "model_version",
    "in_sample",
)


def side_of(row: Row) -> Side:
    """The side one prediction is about: its pick, or for a PASS the side the model favours
    (P(over) >= P(under), as grading reads a PASS)."""
    if row["recommendation"] in SIDES:
        return row["recommendation"]  # type: ignore[no-any-return]
    return "OVER" if row["p_over"] >= row["p_under"] else "UNDER"


def price(row: Row, side: Side) -> float | None:
    return row["over_price"] if side == "OVER" else row["under_price"]  # type: ignore[no-any-return]


def ev(row: Row, side: Side) -> float | None:
    """Expected profit per unit staked on `side` at the book's price, by the model."""
    return row["ev_over"] if side == "OVER" else row["ev_under"]  # type: ignore[no-any-return]


def edge(row: Row, side: Side) -> float | None:
    """The model's probability of `side` (pushes aside) minus the market's de-vigged one."""
    if row["edge"] is None:
        return None
    return row["edge"] if side == "OVER" else -row["edge"]  # type: ignore[no-any-return]


def _rank(row: Row, side: Side) -> tuple[float, float, float]:
    """Larger is better: EV, then price, then line (lower for the over)."""
    line = -row["line"] if side == "OVER" else row["line"]
    return (ev(row, side), price(row, side), line)  # type: ignore[return-value]


def best(rows: Iterable[Row], side: Side) -> Row | None:
    """The best quote on `side`, or None when no book prices it."""
    quoted = [r for r in rows if price(r, side) is not None and ev(r, side) is not None]
    if not quoted:
        return None
    top = max(_rank(r, side) for r in quoted)
    return min((r for r in quoted if _rank(r, side) == top), key=lambda r: str(r["book"]))


def consensus(rows: Iterable[Row]) -> float:
    """The median line of the books."""
    return float(statistics.median(r["line"] for r in rows))


def _quote(row: Row | None, side: Side) -> dict[str, Any] | None:
    return None if row is None else {"book": row["book"], "line": row["line"], "price": price(row, side)}


def _better(found: Sequence[tuple[Side, Row]]) -> tuple[Side, Row]:
    """Of (side, quote) pairs, the larger EV; the over on a tie."""
    return max(found, key=lambda sq: (ev(sq[1], sq[0]), sq[0] == "OVER"))


def _shown(rows: Sequence[Row]) -> tuple[str, Side, Row]:
    """(pick, side, quote) of a prop: the best recommended quote, or for a PASS the better side."""
    recommended = [(s, best([r for r in rows if r["recommendation"] == s], s)) for s in SIDES]
    found = [(s, q) for s, q in recommended if q is not None]
    if found:
        side, quote = _better(found)
        return side, side, quote
    side, quote = _better([(s, q) for s in SIDES if (q := best(rows, s)) is not None])
    return "PASS", side, quote


def prop_row(rows: Sequence[Row]) -> dict[str, Any]:
    """The slate's row of one prop, from its books' latest predictions (one model)."""
    if not rows:
        raise ValueError("a prop needs at least one quote")
    first = rows[0]
    pick, side, quote = _shown(rows)
    row: dict[str, Any] = {
        "key": f"{first['player_id']}|{first['game_key']}|{first['market']}",
        "player_id": first["player_id"],
        "game_key": first["game_key"],
        "market": first["market"],
        "consensus": consensus(rows),
        "books": len({r["book"] for r in rows}),
        "best_over": _quote(best(rows, "OVER"), "OVER"),
        "best_under": _quote(best(rows, "UNDER"), "UNDER"),
        "pick": pick,
        "side": side,
        "picked_at": sum(r["recommendation"] == pick for r in rows) if pick != "PASS" else 0,
        "price": price(quote, side),
        "edge": edge(quote, side),
        "ev": ev(quote, side),
        "as_of": max(r["as_of"] for r in rows),
    }
    row |= {name: quote.get(name) for name in _FROM_QUOTE}
    return row


def prop_rows(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """One row per (player, game, market), in the order the props first appear."""
    props: dict[tuple[Any, Any, Any], list[Row]] = {}
    for r in rows:
        props.setdefault((r["player_id"], r["game_key"], r["market"]), []).append(r)
    return [prop_row(quotes) for quotes in props.values()]
