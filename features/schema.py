"""The feature vector: ordered names, values, provenance per feature and a quality summary.

Provenance is `ok`, or `default:<reason>` when the value could not be measured (the value is
then NaN, which CatBoost treats as missing). Quality gates decide whether a prediction is
actionable; they never stop a vector from being built. See docs/features.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "BOOK_FEATURES",
    "FEATURE_NAMES",
    "FEATURE_SCHEMA_VERSION",
    "OK",
    "FeatureVector",
    "QualityGate",
    "Target",
    "default",
]

FEATURE_SCHEMA_VERSION = "2"  # 2: window means of every graded stat (reb, ast, fg3m, blk, stl)
OK = "ok"

# Each graded stat's box-score column (vocabulary.markets) and what the markets need beside:
# minutes, shot attempts (fg3a for threes) and a usage proxy. Points+rebounds+assists reads the
# sum of its parts' means.
STATS = ("pts", "min", "fga", "fta", "fg3a", "usage", "reb", "ast", "fg3m", "blk", "stl")
WINDOWS = ("3", "5", "10", "season")

PLAYER_FEATURES = (
    *(f"{stat}_mean_{window}" for stat in STATS for window in WINDOWS),
    "pts_std_10",
    "pts_ewm",
    "min_ewm",
    "games_played_season",
    "rest_days",
    "long_break",
    "back_to_back",
    "home",
)
TEAM_FEATURES = ("opp_pts_allowed_10", "opp_pace_10", "team_pace_10")
BOOK_FEATURES = ("line", "book_p_over", "book_main_line", "book_line_move", "line_vs_consensus")
CONSENSUS_FEATURES = ("consensus_line", "consensus_spread", "consensus_p_over", "consensus_move", "n_books")
MARKET_FEATURES = (*BOOK_FEATURES, *CONSENSUS_FEATURES)
GAME_FEATURES = ("game_total", "team_spread", "team_implied_total")
FEATURE_NAMES: tuple[str, ...] = (*PLAYER_FEATURES, *TEAM_FEATURES, *MARKET_FEATURES, *GAME_FEATURES)


_INPUTS = tuple(i for i, name in enumerate(FEATURE_NAMES) if name not in CONSENSUS_FEATURES)


def default(reason: str) -> str:
    return f"default:{reason}"


@functools.lru_cache(maxsize=1024)
def _defaulted(provenance: tuple[str, ...]) -> tuple[str, ...]:
    """`name=reason` for each defaulted prediction input of a provenance. Vectors share very
    few provenances (7 over the 33,410 predictions of the shipped history), and walking one's
    every entry twice (the gate, then the record) was a third of the scorer's time."""
    return tuple(
        f"{FEATURE_NAMES[i]}={provenance[i].removeprefix('default:')}" for i in _INPUTS if provenance[i] != OK
    )


GAME_VECTOR_BOOK = "*"


@dataclass(frozen=True, slots=True)
class Target:
    """What a vector is for: one player's prop at one book and line, in one game. A game-level
    vector (for training, no particular book) has book `*` and a NaN line."""

    player_id: int
    game_key: str
    book: str
    line: float
    market: str = "points"


@dataclass(frozen=True, slots=True)
class FeatureVector:
    """Values in `FEATURE_NAMES` order, each with its provenance, plus the quality summary.

    `as_of` is the newest event time among the vector's prediction inputs (the quote, the box
    scores, team results and game lines it used): a function of the set of events, so the same
    in live and replay."""

    target: Target
    values: tuple[float, ...]
    provenance: tuple[str, ...]
    history_games: int
    as_of: datetime
    schema_version: str = FEATURE_SCHEMA_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    @property
    def n_defaulted(self) -> int:
        """Defaulted prediction inputs (the consensus of other books is context, not input)."""
        return len(_defaulted(self.provenance))

    @property
    def defaulted(self) -> tuple[str, ...]:
        """`name=reason` for each defaulted prediction input."""
        return _defaulted(self.provenance)

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class QualityGate:
    """When a prediction from a vector may be acted on. It is still emitted either way."""

    max_defaulted: int = 1
    min_history_games: int = 3

    def reasons(self, vector: FeatureVector) -> tuple[str, ...]:
        """Why the vector is not actionable; empty when it is."""
        reasons = []
        if vector.n_defaulted > self.max_defaulted:
            reasons.append(f"defaulted_features>{self.max_defaulted}")
        if vector.history_games < self.min_history_games:
            reasons.append(f"history_games<{self.min_history_games}")
        return tuple(reasons)
