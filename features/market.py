"""The prop market for one (player, game): every book's lines, as of event time.

Per (book, line) the quote with the latest event time counts (an older one arriving late is
stale); the book's main line is its latest quote flagged main; the first-seen main line is
the main line at the book's earliest time. Ties in time are broken by a total order on the
quote. So the state is a function of the set of events, not of their arrival order. An exact
re-send changes nothing; the same prices re-quoted later move the main quote's time, and so
the as-of time of the prediction it backs (rescored, under a new identity).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime

from features.odds import devig_over
from features.schema import CONSENSUS_FEATURES, MARKET_FEATURES, OK, default
from vocabulary.events import PropLine

__all__ = ["BookLadder", "PropMarket", "Quote"]

_NAN = math.nan


@dataclass(frozen=True, slots=True)
class Quote:
    line: float
    over_price: float
    under_price: float | None
    is_main: bool

    @classmethod
    def of(cls, prop: PropLine) -> Quote:
        return cls(prop.line, prop.over_price, prop.under_price, prop.is_main)

    def order_key(self) -> tuple[float, float, float, bool]:
        """A total order, to pick between two different quotes for the same line and time."""
        under = -math.inf if self.under_price is None else self.under_price
        return (self.line, self.over_price, under, self.is_main)

    @property
    def p_over(self) -> float | None:
        return None if self.under_price is None else devig_over(self.over_price, self.under_price)


@dataclass(slots=True)
class BookLadder:
    quotes: dict[float, tuple[datetime, Quote]]
    first_ts: datetime
    first_main: float | None
    main: Quote | None = None
    main_ts: datetime | None = None

    def refresh_main(self) -> None:
        mains = [(ts, q.order_key(), q) for ts, q in self.quotes.values() if q.is_main]
        best = max(mains) if mains else None
        self.main, self.main_ts = (best[2], best[0]) if best else (None, None)


@dataclass(slots=True)
class PropMarket:
    """All books' lines for one player in one game."""

    game_date: date
    home_team: str
    away_team: str
    books: dict[str, BookLadder] = field(default_factory=dict)

    @classmethod
    def of(cls, prop: PropLine) -> PropMarket:
        return cls(prop.game_date, prop.home_team, prop.away_team)

    def copy(self) -> PropMarket:
        """An independent copy (the quotes themselves are immutable and shared)."""
        books = {
            book: BookLadder(dict(b.quotes), b.first_ts, b.first_main, b.main, b.main_ts)
            for book, b in self.books.items()
        }
        return PropMarket(self.game_date, self.home_team, self.away_team, books)

    def apply(self, prop: PropLine) -> bool:
        """Apply one quote; True when the book's main quote or its time changed (the rescoring rule)."""
        quote = Quote.of(prop)
        ladder = self.books.get(prop.book)
        if ladder is None:
            ladder = self.books[prop.book] = BookLadder({}, prop.ts, quote.line if quote.is_main else None)
        elif prop.ts < ladder.first_ts:
            ladder.first_ts, ladder.first_main = prop.ts, (quote.line if quote.is_main else None)
        elif prop.ts == ladder.first_ts and quote.is_main:
            ladder.first_main = (
                quote.line if ladder.first_main is None else max(ladder.first_main, quote.line)
            )
        current = ladder.quotes.get(quote.line)
        if current is not None and (prop.ts, quote.order_key()) <= (current[0], current[1].order_key()):
            return False
        ladder.quotes[quote.line] = (prop.ts, quote)
        before = (ladder.main_ts, ladder.main)
        ladder.refresh_main()
        return (ladder.main_ts, ladder.main) != before

    def consensus(self) -> tuple[list[float], list[str]]:
        """The book-independent market features, in CONSENSUS_FEATURES order."""
        mains = [m for b in self.books.values() if (m := b.main) is not None]
        values: list[float] = []
        provenance: list[str] = []
        consensus = statistics.median(m.line for m in mains) if mains else None
        lines = [m.line for m in mains]
        p_overs = [p for m in mains if (p := m.p_over) is not None]
        firsts = [b.first_main for b in self.books.values() if b.first_main is not None]
        for value, reason in (
            (consensus, "no_main_lines"),
            (max(lines) - min(lines) if lines else None, "no_main_lines"),
            (sum(p_overs) / len(p_overs) if p_overs else None, "no_two_sided_main"),
            (
                consensus - statistics.median(firsts) if consensus is not None and firsts else None,
                "no_first_main",
            ),
        ):
            values.append(_NAN if value is None else value)
            provenance.append(OK if value is not None else default(reason))
        values.append(float(len(mains)))
        provenance.append(OK)
        return values, provenance

    def features(self, book: str, line: float) -> tuple[list[float], list[str]]:
        """Values and provenance in MARKET_FEATURES order for the quote (book, line)."""
        ladder = self.books[book]
        quote = ladder.quotes[line][1]
        main = ladder.main
        consensus_values, consensus_provenance = self.consensus()
        consensus = consensus_values[0] if consensus_provenance[0] == OK else None
        values: list[float] = [line]
        provenance: list[str] = [OK]
        for value, reason in (
            (quote.p_over, "one_sided_quote"),
            (main.line if main else None, "no_main_line"),
            (
                main.line - ladder.first_main if main and ladder.first_main is not None else None,
                "no_first_main",
            ),
            (line - consensus if consensus is not None else None, "no_main_lines"),
        ):
            values.append(_NAN if value is None else value)
            provenance.append(OK if value is not None else default(reason))
        return values + consensus_values, provenance + consensus_provenance


if MARKET_FEATURES[5:] != CONSENSUS_FEATURES:
    raise RuntimeError("PropMarket.features is out of step with MARKET_FEATURES")
