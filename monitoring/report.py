"""The whole health report of a slate, as `propstream health` prints it and the dashboard's
health page shows it: coverage from Postgres, and from Kafka (when it answers) the newest
event per input topic and the schedule that decides which quotes are stale."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from confluent_kafka import KafkaException

from connectors.exceptions import BrokerUnreachableError
from connectors.kafka_config import check_reachable
from monitoring.coverage import Schedule, SlateHealth, slate_health
from monitoring.inputs import schedule, topic_freshness

__all__ = ["HealthConfig", "games_schedule", "slate_report"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthConfig:
    """What the report needs to know of a deployment: the active models and the champion, the
    topics, a quote's age before tip-off that makes it stale, and the grading delay."""

    models: tuple[str, ...]
    champion: str
    props_topic: str
    games_topic: str
    input_topics: tuple[str, ...]
    stale_after: timedelta = timedelta(minutes=30)
    grading_delay: timedelta = timedelta(hours=12)


def games_schedule(bootstrap: str | None, topic: str, day: date) -> Schedule | None:
    """The day's schedule from the games topic, or None without a broker (no Kafka configured,
    or none answers: logged as a warning)."""
    if bootstrap is None:
        return None
    try:
        check_reachable(bootstrap)
        return schedule(bootstrap, topic, day, timeout_s=5)
    except (BrokerUnreachableError, KafkaException) as exc:
        logger.warning("stale quotes not known: Kafka at %s did not answer (%s)", bootstrap, exc)
        return None


def slate_report(
    dsn: str, day: date, config: HealthConfig, bootstrap: str | None, *, now: datetime | None = None
) -> SlateHealth:
    """The slate's coverage (monitoring.coverage) at `now` (default: the wall clock), with the
    newest event per input topic when Kafka answers."""
    games = games_schedule(bootstrap, config.games_topic, day)
    report = slate_health(
        dsn,
        day,
        list(config.models),
        config.champion,
        config.props_topic,
        grading_delay=config.grading_delay,
        now=now,
        games_of_day=games,
        stale_after=config.stale_after,
    )
    if bootstrap is not None and games is not None:
        report.newest_event_by_topic = topic_freshness(bootstrap, list(config.input_topics), timeout_s=5)
    return report
