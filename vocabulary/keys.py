"""Key rules: the canonical player key, the Kafka key of every input event, and the one
partitioner that divides player-keyed input between shards.

A prop names its player as the book spells him and a box score as nba.com does; both are
keyed by the same canonical form (one normalisation plus a short alias table), so a player's
props and box scores share a Kafka partition number (topics of equal partition counts) and a
shard, without any lookup at the producer.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Mapping

from vocabulary.events import BoxScore, Game, GameLine, InputEvent, PropLine

__all__ = ["PLAYER_ALIASES", "canonical_player", "message_key", "normalize_name", "shard_of"]

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v"})
_DROP = re.compile(r"[.'’`]")
_SPLIT = re.compile(r"[\s\-]+")

# Book spelling (normalised) -> nba.com spelling (normalised). Each seen in the shipped props.
PLAYER_ALIASES: Mapping[str, str] = {
    "herb jones": "herbert jones",
    "vincent williams": "vince williams",
    "nicolas claxton": "nic claxton",
}


def normalize_name(name: str) -> str:
    """`"Vincent Williams Jr."` -> `"vincent williams"`: the form both feeds agree on."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    tokens = _SPLIT.split(_DROP.sub("", ascii_name.casefold()).strip())
    return " ".join(t for t in tokens if t and t not in _SUFFIXES)


@functools.lru_cache(maxsize=8192)  # a season names about a thousand players, many times each
def canonical_player(name: str) -> str:
    """The player key both feeds share: the normalised name, book aliases resolved."""
    normalized = normalize_name(name)
    return PLAYER_ALIASES.get(normalized, normalized)


def message_key(event: InputEvent) -> bytes:
    """The Kafka key of an input event (the partitioning unit; per-key order is kept)."""
    if isinstance(event, PropLine | BoxScore):
        return canonical_player(event.player_name).encode()
    if isinstance(event, GameLine | Game):
        return event.game_key.encode()
    raise TypeError(f"no key rule for {type(event).__name__}")


def shard_of(key: bytes, shards: int) -> int:
    """The shard a player key belongs to when the input has no partitions of its own (files)."""
    return zlib.crc32(key) % shards
