"""What the pages call things: sportsbooks by the names bettors know them by, each with a colour
of its own, and the markets. Served once to every page (`/api/meta`), so the names live here
only.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BOOKS", "MARKETS", "OTHER_COLORS", "meta"]

# The Odds API's bookmaker keys (the keys the feeds use) -> (name, colour). The colours are
# far apart in hue and lightness, so eight books at one line still read as eight lines.
BOOKS: Final[dict[str, tuple[str, str]]] = {
    "draftkings": ("DraftKings", "#1b9e3e"),
    "fanduel": ("FanDuel", "#1464d8"),
    "betmgm": ("BetMGM", "#b8860b"),
    "williamhill_us": ("Caesars", "#7b3fb5"),
    "betrivers": ("BetRivers", "#0fb5c9"),
    "fanatics": ("Fanatics", "#d62728"),
    "bovada": ("Bovada", "#ff7f0e"),
    "betonlineag": ("BetOnline", "#e377c2"),
    "espnbet": ("ESPN BET", "#5c5c5c"),
    "hardrockbet": ("Hard Rock Bet", "#8c564b"),
    "ballybet": ("Bally Bet", "#bcbd22"),
    "pinnacle": ("Pinnacle", "#17324d"),
    "pointsbetus": ("PointsBet", "#9e1f63"),
    "unibet_us": ("Unibet", "#2e7d32"),
    "betus": ("BetUS", "#00838f"),
    "lowvig": ("LowVig", "#6d4c41"),
    "mybookieag": ("MyBookie", "#ad1457"),
    "betparx": ("betPARX", "#4527a0"),
    "fliff": ("Fliff", "#00695c"),
    "superbook": ("SuperBook", "#283593"),
    "wynnbet": ("WynnBET", "#827717"),
}

# For a book not listed above, in order of first appearance on a page.
OTHER_COLORS: Final[tuple[str, ...]] = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")

# Every market a prop can be quoted in, in the order the selectors list them.
MARKETS: Final[dict[str, str]] = {
    "points": "Points",
    "rebounds": "Rebounds",
    "assists": "Assists",
    "threes": "Threes",
    "points_rebounds_assists": "Pts+Reb+Ast",
    "blocks": "Blocks",
    "steals": "Steals",
}


def meta() -> dict[str, object]:
    return {
        "books": {key: {"name": name, "color": color} for key, (name, color) in BOOKS.items()},
        "other_colors": list(OTHER_COLORS),
        "markets": MARKETS,
    }
