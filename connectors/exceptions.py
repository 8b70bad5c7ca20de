"""Errors raised at the wire (the root and the dead-letterable errors are in vocabulary.errors)."""

from __future__ import annotations

from vocabulary.errors import PropstreamError

__all__ = ["BrokerUnreachableError", "DataLayoutError", "MissingTopicError", "PublishError"]


class DataLayoutError(PropstreamError):
    """A data folder that is not laid out like the shipped `data/` folder."""


class MissingTopicError(PropstreamError):
    """An input topic the dataflow should read does not exist."""


class PublishError(PropstreamError):
    """Kafka refused or failed to deliver messages."""


class BrokerUnreachableError(PropstreamError):
    """No Kafka broker answered at the bootstrap address."""

    def __init__(self, bootstrap: str, timeout_s: float, reason: str) -> None:
        super().__init__(
            f"cannot reach Kafka at {bootstrap} within {timeout_s:.0f} s ({reason}): start it "
            "(make services) or point PROPSTREAM_KAFKA_BOOTSTRAP (--bootstrap) at a running broker"
        )
        self.bootstrap = bootstrap
