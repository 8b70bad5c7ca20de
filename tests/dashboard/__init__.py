from monitoring.report import HealthConfig

DAY = "2025-11-10"  # the shipped day the dashboard tests replay

# the health report's settings of a dashboard with no Kafka (its topics are never read)
NO_KAFKA_HEALTH = HealthConfig(
    ("champion", "shadow"), "champion", "unused.odds.props", "unused.nba.games", ()
)
