"""The root error, and the errors that become dead letters. Each dead-letterable error has a
short, stable `reason` for counting; the flow decides whether to dead-letter it."""

from __future__ import annotations

import functools

__all__ = [
    "BeyondRetentionError",
    "DecodeError",
    "EventError",
    "PropstreamError",
    "UnknownPlayerError",
    "UnsupportedMarketError",
]


class PropstreamError(Exception):
    """Root of every error propstream raises on purpose."""


class EventError(PropstreamError):
    """An input that cannot be applied: dead-lettered with `reason` and `detail`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class DecodeError(EventError):
    """Bytes that cannot become a valid event."""


class UnknownPlayerError(EventError):
    """A sportsbook player name that maps to no nba.com player in the directory."""

    def __init__(self, name: str, normalized: str, reason: str = "unknown_player") -> None:
        super().__init__(reason, f"player {name!r} (normalised {normalized!r}) is not in the directory")
        self.name = name
        self.normalized = normalized


class UnsupportedMarketError(EventError):
    """A prop of a market no active model scores: counted, never merged into another market."""

    def __init__(self, market: str, supported: tuple[str, ...]) -> None:
        super().__init__("market:unsupported", _unsupported(market, supported))


@functools.lru_cache(maxsize=256)
def _unsupported(market: str, supported: tuple[str, ...]) -> str:
    """The detail, once per market: half the props of a points-only replay are refused."""
    return f"no active model scores {market!r} (active: {supported})"


class BeyondRetentionError(EventError):
    """An event about a game older than the retention behind the event-time watermark: its
    state has been expired, so applying it would start from nothing."""

    def __init__(self, detail: str) -> None:
        super().__init__("late:beyond_retention", detail)
