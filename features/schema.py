"""The feature vector: ordered names, values, provenance per feature and a quality summary.

Provenance is `ok`, or `default:<reason>` when the value could not be measured (the value is
then NaN, which CatBoost treats as missing). Quality gates decide whether a prediction is
actionable; they never stop a vector from being built. See docs/features.md.
"""

from __future__ import annotations

from dataclasses import dataclass

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

FEATURE_SCHEMA_VERSION = "1"
OK = "ok"

STATS = ("pts", "min", "fga", "fta", "fg3a", "usage")
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


_N_BOOKS = FEATURE_NAMES.index("n_books")


def default(reason: str) -> str:
    return f"default:{reason}"


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
    """Values in `FEATURE_NAMES` order, each with its provenance, plus the quality summary."""

    target: Target
    values: tuple[float, ...]
    provenance: tuple[str, ...]
    history_games: int
    schema_version: str = FEATURE_SCHEMA_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    @property
    def n_defaulted(self) -> int:
        return len(self.provenance) - self.provenance.count(OK)

    @property
    def defaulted(self) -> tuple[str, ...]:
        """`name=reason` for each defaulted feature."""
        if not self.n_defaulted:
            return ()
        return tuple(
            f"{name}={prov.removeprefix('default:')}"
            for name, prov in zip(FEATURE_NAMES, self.provenance, strict=True)
            if prov != OK
        )

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class QualityGate:
    """When a prediction from a vector may be acted on. It is still emitted either way."""

    max_defaulted: int = 1
    min_history_games: int = 3
    min_books: int = 2

    def reasons(self, vector: FeatureVector) -> tuple[str, ...]:
        """Why the vector is not actionable; empty when it is."""
        reasons = []
        if vector.n_defaulted > self.max_defaulted:
            reasons.append(f"defaulted_features>{self.max_defaulted}")
        if vector.history_games < self.min_history_games:
            reasons.append(f"history_games<{self.min_history_games}")
        n_books = vector.values[_N_BOOKS]
        if not n_books >= self.min_books:
            reasons.append(f"books<{self.min_books}")
        return tuple(reasons)
