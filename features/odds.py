"""American-odds arithmetic shared by features and scoring."""

from __future__ import annotations

__all__ = ["devig_over", "implied_probability", "profit_per_unit"]


def implied_probability(price: float) -> float:
    """The book's implied probability of an American price, vig included (-110 -> 0.5238)."""
    return 100.0 / (price + 100.0) if price > 0 else -price / (-price + 100.0)


def devig_over(over_price: float, under_price: float) -> float:
    """P(over) with the vig removed proportionally: over's share of the two implied probabilities."""
    over, under = implied_probability(over_price), implied_probability(under_price)
    return over / (over + under)


def profit_per_unit(price: float) -> float:
    """Profit of a winning one-unit stake at an American price (+150 -> 1.5, -120 -> 0.8333)."""
    return price / 100.0 if price > 0 else 100.0 / -price
