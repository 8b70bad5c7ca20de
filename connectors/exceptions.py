"""Errors raised at the wire (the root and the dead-letterable errors are in vocabulary.errors)."""

from __future__ import annotations

from vocabulary.errors import PropstreamError

__all__ = ["DataLayoutError", "MissingTopicError", "PublishError"]


class DataLayoutError(PropstreamError):
    """A data folder that is not laid out like the shipped `data/` folder."""


class MissingTopicError(PropstreamError):
    """An input topic the dataflow should read does not exist."""


class PublishError(PropstreamError):
    """Kafka refused or failed to deliver messages."""
