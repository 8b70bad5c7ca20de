"""The one settings object: built once at the entry point from env vars (`PROPSTREAM_*`) and
CLI flags, then passed down as plain values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scoring.model import ModelKind
from vocabulary.markets import MARKETS, Market
from vocabulary.topics import DEFAULT_NAMES

__all__ = ["MODELS_DIR", "SHIPPED_DATA", "Settings"]

SHIPPED_DATA = Path(__file__).resolve().parent.parent / "data"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "out"

_DEFAULT_MODELS: dict[str, ModelKind] = {"champion": "sqrt_uncertainty", "shadow": "normal_uncertainty"}
# The default models of the markets where another distribution won walk-forward (docs/model.md:
# the negative binomial for blocks, steals, threes and rebounds, the normal for
# points+rebounds+assists), in place of the default `models`. Setting `models` sets every
# market's, unless a market has its own in `market_models`.
_COUNT_MODELS: dict[str, ModelKind] = {"champion": "negbin", "shadow": "normal_uncertainty"}
_DEFAULT_MARKET_MODELS: dict[str, dict[str, ModelKind]] = {
    "blocks": _COUNT_MODELS,
    "steals": _COUNT_MODELS,
    "threes": _COUNT_MODELS,
    "rebounds": _COUNT_MODELS,
    "points_rebounds_assists": {"champion": "normal_uncertainty", "shadow": "sqrt_uncertainty"},
}

TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")]


class Settings(BaseSettings):
    """Everything configurable. Every field reads `PROPSTREAM_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="PROPSTREAM_", frozen=True, extra="forbid")

    data_dir: Path = Field(SHIPPED_DATA, description="folder laid out like data/ (--data)")
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers")
    postgres_dsn: SecretStr = SecretStr("postgresql://propstream:propstream@127.0.0.1:54329/propstream")
    postgres_reader_dsn: SecretStr = SecretStr(
        "postgresql://propstream_reader:propstream_reader@127.0.0.1:54329/propstream"
    )
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{0,100}$")] = ""
    topic_props: TopicName = DEFAULT_NAMES["props"]
    topic_game_lines: TopicName = DEFAULT_NAMES["game_lines"]
    topic_games: TopicName = DEFAULT_NAMES["games"]
    topic_box_scores: TopicName = DEFAULT_NAMES["box_scores"]
    topic_predictions: TopicName = DEFAULT_NAMES["predictions"]
    topic_grades: TopicName = DEFAULT_NAMES["grades"]
    topic_dlq: TopicName = DEFAULT_NAMES["dlq"]
    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    models_dir: Path = Field(MODELS_DIR, description="the model registry (--models)")
    models: dict[str, ModelKind] = Field(
        default_factory=lambda: dict(_DEFAULT_MODELS),
        description="active models by name and kind; JSON in PROPSTREAM_MODELS",
    )
    champion: str = "champion"
    markets: list[Market] = Field(
        default_factory=lambda: list(MARKETS),
        description="the markets that get models (the rest are dead-lettered market:unsupported); "
        'JSON in PROPSTREAM_MARKETS, e.g. ["points"]',
    )
    market_models: dict[Market, dict[str, ModelKind]] = Field(
        default_factory=dict,
        description="per market, models by name and kind in place of `models`; JSON in "
        "PROPSTREAM_MARKET_MODELS (while `models` is left at its default, blocks, steals, threes and "
        "rebounds have negbin champions, points+rebounds+assists a normal one: docs/model.md)",
    )
    output_dir: Path = Field(OUTPUT_DIR, description="Parquet output of replays and the demo")
    recovery_dir: Path | None = Field(None, description="Bytewax recovery store (worker: set it)")
    snapshot_interval_s: Annotated[float, Field(gt=0)] = Field(
        30.0,
        description="seconds between the worker's snapshots (its engine state written by a forked "
        "child, its offsets committed, its output topics flushed); a crash redoes up to two "
        "intervals of input. Each fork makes the worker's next writes copy their pages: at 5 s, "
        "line moves near a snapshot had a p99 up to 5 times the rest's (docs/operations.md)",
    )
    progress_interval_s: Annotated[float, Field(gt=0)] = Field(
        10.0, description="seconds between progress lines while a Kafka reader catches up"
    )
    consumer_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")] = Field(
        "propstream-worker",
        description="the worker's Kafka consumer group: it commits its offsets there for lag tools",
    )
    health_interval_s: Annotated[float, Field(gt=0)] = Field(
        60.0, description="seconds between refreshes of the worker's slate coverage gauges"
    )
    stale_after_min: Annotated[float, Field(gt=0)] = Field(
        30.0, description="a quote older than this many minutes before its game's tip-off is stale"
    )
    grading_delay_h: Annotated[float, Field(ge=0)] = Field(
        12.0, description="hours after a game date's end before its ungraded props are a grading gap"
    )
    start_at: Literal["earliest", "latest"] = "earliest"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    metrics_host: str = Field("127.0.0.1", description="address the metrics bind (0.0.0.0 in a container)")
    retention_days: Annotated[int, Field(ge=1, le=400)] = Field(
        3, description="games dated this many days before the newest event time are expired"
    )
    postgres_retry_s: Annotated[float, Field(ge=0)] = 60.0
    postgres_commit_interval_s: Annotated[float, Field(ge=0, le=60)] = Field(
        0.1,
        description="least seconds between two of the worker's PostgreSQL transactions; what comes "
        "meanwhile joins the next (0: one as soon as the last is committed)",
    )
    postgres_outage: Literal["wait", "fail"] = Field(
        "wait", description="beyond postgres_retry_s: hold the input until PostgreSQL returns, or exit"
    )
    kafka_retry_s: Annotated[float, Field(ge=0)] = Field(
        60.0, description="seconds the output producer waits for the broker before kafka_outage applies"
    )
    kafka_outage: Literal["wait", "fail"] = Field(
        "wait", description="beyond kafka_retry_s: hold the input until the broker takes the outputs, or exit"
    )
    parquet_disk_full: Literal["wait", "fail"] = Field(
        "wait", description="the Parquet folder's disk full: hold the input until there is room, or exit"
    )
    future_tolerance_s: Annotated[float, Field(ge=0)] = Field(
        600.0, description="events stamped further ahead of the wall clock are dead-lettered (ts:future)"
    )
    log_level: Annotated[str, Field(pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")] = "INFO"
    log_format: Literal["text", "json"] = Field("text", description="text or json (--log-format)")

    @model_validator(mode="after")
    def _champion_is_a_model(self) -> Settings:
        if self.champion not in self.models:
            raise ValueError(f"champion {self.champion!r} is not among the models {sorted(self.models)}")
        for market, models in self.market_models.items():
            if self.champion not in models:
                raise ValueError(
                    f"champion {self.champion!r} is not among the {market} models {sorted(models)}"
                )
        if len(set(self.markets)) != len(self.markets):
            raise ValueError(f"markets listed twice: {self.markets}")
        return self

    def models_of(self, market: str) -> dict[str, ModelKind]:
        """The models of a market by name and kind: its own (`market_models`), else the
        low-count markets' defaults while `models` is the default, else `models`."""
        own = self.market_models.get(market)  # type: ignore[call-overload]
        if own is not None:
            return dict(own)
        if self.models == _DEFAULT_MODELS and market in _DEFAULT_MARKET_MODELS:
            return dict(_DEFAULT_MARKET_MODELS[market])
        return dict(self.models)

    def topic(self, logical: str) -> str:
        """The full topic name for a logical one (`props`, `game_lines`, `games`, `box_scores`,
        `predictions`, `grades`, `dlq`), with the prefix."""
        name: str = getattr(self, f"topic_{logical}")
        return f"{self.topic_prefix}{name}"
