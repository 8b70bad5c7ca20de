"""The model commands: `train` (a new version of each active model, with its calibration
stage, into the registry) and `evaluate` (walk-forward against the market, printed and
written through cli/evaluation_*.py). Both build the training set through the feature store."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console

from cli import evaluation_figures, evaluation_page, evaluation_tables
from cli.data_commands import read_data
from cli.settings import Settings
from connectors.exceptions import DataLayoutError
from features.identity import PlayerDirectory
from features.store import FeatureStore
from scoring.evaluate import fit_stages, make_model, walk_forward
from scoring.model import Registry, start_of_day
from scoring.training import TrainingSet, build_training_set
from vocabulary.events import BoxScore, InputEvent, us_game_date

__all__ = ["evaluate", "train"]

logger = logging.getLogger("propstream")


def _events(console: Console, settings: Settings) -> tuple[list[InputEvent], PlayerDirectory]:
    events = [r.event for r in read_data(console, settings) if r.event is not None]
    return events, PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))


def train(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    events, directory = _events(console, settings)
    if not events:
        raise DataLayoutError(
            f"no events in {settings.data_dir}: nothing to train on; point --data at the data"
        )
    until = args.until or us_game_date(max(e.ts for e in events))
    active_from = args.active_from or start_of_day(until)
    with console.status("building the training set through the feature store"):
        history, store = build_training_set(events, directory)
    registry = Registry(settings.models_dir)
    for market in settings.markets:
        rows = history.for_market(market)
        data = rows.before(until)
        versions = {}
        for name, kind in settings.models_of(market).items():
            with console.status(f"training {market} {name} ({kind}) on {len(data):,} rows"):
                model, catboost_model = make_model(
                    name, kind, data, created_at=datetime.now(UTC), active_from=active_from
                )
            folder = registry.save(catboost_model, model.meta)
            versions[name] = model.meta.version
            logger.info("trained %s %s (%s) on %s rows: %s", market, name, kind, f"{len(data):,}", folder)
        _fit_stages(console, settings, registry, (rows, store, events), day=until, versions=versions)
    window = f"{data.game_dates.min()} → {data.game_dates.max()}"
    why = "--until" if args.until else "the date of the data's newest event; --until DATE to choose"
    console.print(
        f"trained on the games of {window} (before {until}: {why}); version "
        f"{model.meta.version}, active from {active_from.isoformat()}. A game of {window} graded with "
        "it is in-sample: marked in_sample and kept out of the performance figures."
    )
    return 0


def _fit_stages(
    console: Console,
    settings: Settings,
    registry: Registry,
    history: tuple[TrainingSet, FeatureStore, Sequence[InputEvent]],
    *,
    day: date,
    versions: dict[str, str],
) -> None:
    """Each model's calibration stage, fitted on the walk-forward record of the props before
    `day`, saved beside the version just trained (docs/model.md)."""
    data, store, events = history
    boxes = {(e.player_id, e.game_key): e for e in events if isinstance(e, BoxScore)}
    with console.status(f"fitting the {data.market} calibration stages on the graded props before {day}"):
        stages = fit_stages(data, store, boxes, settings.models_of(data.market), day)
    for name, stage in stages.items():
        registry.save_calibration(name, stage, data.market, versions[name])
        weights = ", ".join(f"{n} {w:+.3f}" for n, w in zip(stage.inputs, stage.weights, strict=True))
        logger.info(
            "stage of %s %s: %s graded props of %s days before %s; %s; min edge %s",
            data.market,
            name,
            f"{stage.rows:,}",
            stage.days,
            day,
            weights,
            stage.min_edge if stage.min_edge is not None else "none (no picks)",
        )


def evaluate(console: Console, settings: Settings, args: argparse.Namespace) -> int:
    events, directory = _events(console, settings)
    markets = list(settings.markets) if args.market == "all" else [args.market]
    command = (
        "propstream evaluate " + " ".join(sys.argv[2:])
        if sys.argv[1:2] == ["evaluate"]
        else "propstream evaluate"
    )
    started = time.monotonic()
    logger.info(
        "evaluate: building the training set through the feature store from %s events", f"{len(events):,}"
    )
    with console.status("building the training set through the feature store"):
        prepared = build_training_set(events, directory)
    logger.info(
        "evaluate: training set built in %.1f s; walk-forward by day follows", time.monotonic() - started
    )
    by_market: dict[str, dict[str, Any]] = {}
    for market in markets:
        kinds = settings.models_of(market)
        with console.status(f"walk-forward {market} {args.start} → {args.end} ({', '.join(kinds)})"):
            result = walk_forward(
                events,
                directory,
                (args.start, args.end),
                kinds,
                retrain_days=args.retrain_days,
                market=market,
                prepared=prepared,
            )
        by_market[market] = evaluation_figures.evaluation_json(result, settings.champion, command)
        console.rule(market)
        evaluation_tables.print_evaluation(console, by_market[market])
    payload = evaluation_figures.markets_json(by_market)
    if args.json:
        evaluation_figures.write_json(args.json, payload)
        console.print(f"wrote {args.json}")
    if args.html:
        evaluation_page.write_html(args.html, payload)
        console.print(f"wrote {args.html}")
    return 0
