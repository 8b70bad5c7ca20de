"""Errors raised at the wire. One root, so callers can catch everything propstream raises."""

from __future__ import annotations

__all__ = [
    "DataLayoutError",
    "DecodeError",
    "MissingTopicError",
    "PropstreamError",
    "PublishError",
    "UnknownPlayerError",
]


class PropstreamError(Exception):
    """Root of every error propstream raises on purpose."""


class DecodeError(PropstreamError):
    """Bytes that cannot become a valid event. `reason` is a short, stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UnknownPlayerError(PropstreamError):
    """A sportsbook player name that maps to no nba.com player in the directory."""

    def __init__(self, name: str, normalized: str) -> None:
        super().__init__(f"unknown player {name!r} (normalised {normalized!r}) is not in the directory")
        self.name = name
        self.normalized = normalized
        self.reason = "unknown_player"


class DataLayoutError(PropstreamError):
    """A data folder that is not laid out like the shipped `data/` folder."""


class MissingTopicError(PropstreamError):
    """An input topic the dataflow should read does not exist."""


class PublishError(PropstreamError):
    """Kafka refused or failed to deliver messages."""
