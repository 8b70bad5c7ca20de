"""Kafka client settings in one place: every Producer, Consumer and AdminClient propstream
builds starts from `client_config(bootstrap)`.

librdkafka logs on its own (a refused connection is logged every second or so, per broker,
for as long as a client lives). Those lines go to the Python logger `librdkafka` at debug
level, never straight to the terminal: a command that cannot reach the broker says so in one
line of its own (`check_reachable`), and `--debug` shows librdkafka's lines when they help.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from connectors.exceptions import BrokerUnreachableError

__all__ = ["LIBRDKAFKA_LOGGER", "REACH_TIMEOUT_S", "check_reachable", "client_config"]

LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
REACH_TIMEOUT_S = 5.0  # a broker that answers at all answers metadata well within this


class _AtDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """librdkafka calls `logger.log(level, fmt, *args)` with its own syslog-like level (a
    refused connection is ERROR); every line is logged at DEBUG instead."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


_LOGGER = _AtDebug(LIBRDKAFKA_LOGGER, {})


def client_config(bootstrap: str, properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration of a Kafka client for `bootstrap`: librdkafka's logging routed to
    the `librdkafka` logger at debug level, then `properties` (group id, acks, ...)."""
    return {"bootstrap.servers": bootstrap, "logger": _LOGGER, **(properties or {})}


def check_reachable(bootstrap: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Fail fast, in one line, when no broker at `bootstrap` answers within `timeout_s`:
    `BrokerUnreachableError` names the address and the fix."""
    admin = AdminClient(client_config(bootstrap))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        admin.poll(0)  # serve librdkafka's queued log lines (why it failed) to the debug log
        raise BrokerUnreachableError(bootstrap, timeout_s, exc.args[0].str()) from exc
    if not metadata.brokers:
        raise BrokerUnreachableError(bootstrap, timeout_s, "the cluster reports no brokers")
