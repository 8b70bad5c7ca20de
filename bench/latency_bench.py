"""The line-move latency alone (`flow_bench._latency`, the very code `make bench` runs), on
topics and a database of its own, with the parts of the latency split at the worker's batch.

Usage: python -m bench.latency_bench [--models DIR] [--rate N] [--seconds S] [--log FILE]
       [--set PROPSTREAM_X=value ...]
Loads the whole shipped history into fresh topics (`propstream load --max-speed`), starts a
worker at `earliest` that catches up on it, publishes line moves stamped with the wall clock,
and prints p50/p99/max of: the producer's timestamp to the prediction's arrival on the output
topic (the bench's figure), to the start of the worker's batch that took the move (its
`emitted_at`), and from there to the arrival. `--models` reuses a registry (else small models
are trained, as `make bench` does); `--set` passes a setting to the worker (e.g.
PROPSTREAM_SNAPSHOT_INTERVAL_S=5) to compare one change at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.flow_bench import LineMoves, _latency, _loaded, line_moves, percentiles
from bench.history import shipped_stream
from bench.scratch import scratch_database
from cli.settings import SHIPPED_DATA, Settings
from features.identity import PlayerDirectory
from scoring.evaluate import make_model
from scoring.model import Registry
from scoring.training import build_training_set
from vocabulary.events import BoxScore, InputEvent

__all__ = ["main"]

console = Console()


def _train(events: list[InputEvent], into: Path) -> None:
    """The bench's models (bench/run.py): every default model on the whole shipped history."""
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, _ = build_training_set(events, directory)
    registry = Registry(into)
    for name, kind in Settings().models.items():
        model, catboost_model = make_model(name, kind, data)
        registry.save(catboost_model, model.meta)


def _summary(moves: LineMoves) -> dict[str, float]:
    out: dict[str, float] = {"predictions": float(len(moves.samples)), "warmup_max_ms": moves.warmup_max_ms}
    for name, ms in (
        ("latency", moves.latencies_ms),
        ("to_batch", moves.to_batch_ms),
        ("from_batch", moves.from_batch_ms),
    ):
        p50, p99 = percentiles(ms)
        out |= {f"{name}_p50_ms": p50, f"{name}_p99_ms": p99, f"{name}_max_ms": ms[-1]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHIPPED_DATA)
    parser.add_argument("--models", type=Path, help="a model registry (trained into it when empty)")
    parser.add_argument("--rate", type=float, default=1000, help="line moves a second")
    parser.add_argument(
        "--seconds", type=float, default=30, help="measured seconds after the warm-up (a snapshot interval)"
    )
    parser.add_argument("--log", type=Path, help="the worker's log")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a worker setting")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    stream = shipped_stream(args.data)
    models = args.models or Path(tempfile.mkdtemp()) / "models"
    if not models.exists() or not any(models.iterdir()):
        models.mkdir(parents=True, exist_ok=True)
        _train([e for e, _ in stream], models)
    started = time.perf_counter()
    with _loaded(Settings(), models) as settings:
        loaded_s = time.perf_counter() - started
        console.print(f"loaded the history into {settings.topic_prefix}* in {loaded_s:.0f} s")
        with scratch_database(settings.postgres_dsn.get_secret_value()) as dsn:
            moves = _latency(
                settings,
                dsn,
                line_moves(stream),
                seconds=args.seconds,
                rate=args.rate,
                log=args.log,
                env=extra,
            )
    console.print_json(json.dumps({"rate": args.rate, "settings": extra} | _summary(moves)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
