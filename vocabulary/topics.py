"""Topic names: the logical names every layer uses, their default full names, and what each
input topic carries. The only place a topic is spelled (settings add a prefix)."""

from __future__ import annotations

from pydantic import BaseModel

from vocabulary.events import BoxScore, DeadLetter, Game, GameLine, PropLine

__all__ = ["DEFAULT_NAMES", "EVENT_TYPES", "GAME_TOPICS", "INPUT_TOPICS", "OUTPUT_TOPICS", "PLAYER_TOPICS"]

PLAYER_TOPICS = ("props", "box_scores")  # keyed by canonical player (vocabulary.keys)
GAME_TOPICS = ("games", "game_lines")  # keyed by game; small, read whole by every shard
INPUT_TOPICS = (*GAME_TOPICS, *PLAYER_TOPICS)
OUTPUT_TOPICS = ("predictions", "grades", "dlq")

DEFAULT_NAMES: dict[str, str] = {
    "props": "odds.props",
    "game_lines": "odds.games",
    "games": "nba.games",
    "box_scores": "nba.boxscores",
    "predictions": "propstream.predictions",
    "grades": "propstream.grades",
    "dlq": "propstream.dlq",
}

# The event kind each input topic carries (and the dead-letter topic's record).
EVENT_TYPES: dict[str, type[BaseModel]] = {
    "props": PropLine,
    "game_lines": GameLine,
    "games": Game,
    "box_scores": BoxScore,
    "dlq": DeadLetter,
}
