"""Topics a run creates and deletes on the real broker (`connectors.kafka`)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from connectors.kafka import delete_topics, ensure_topics


def _listed(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def test_delete_topics_removes_the_prefix_s_topics_and_no_other(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    mine = [f"{topic_prefix}props", f"{topic_prefix}predictions"]
    other = f"{topic_prefix.rstrip('.')}x.props"  # the same start, not the prefix
    ensure_topics(kafka_bootstrap, {mine[0]: 1, mine[1]: 2, other: 1})
    try:
        assert delete_topics(kafka_bootstrap, topic_prefix) == sorted(mine)
        deadline = time.monotonic() + 10
        while set(mine) & _listed(kafka_bootstrap) and time.monotonic() < deadline:
            time.sleep(0.2)
        listed = _listed(kafka_bootstrap)
        assert not set(mine) & listed
        assert other in listed
        assert delete_topics(kafka_bootstrap, topic_prefix) == []  # nothing left: nothing to do
    finally:
        delete_topics(kafka_bootstrap, other)
    with pytest.raises(ValueError, match="every topic"):
        delete_topics(kafka_bootstrap, "")
