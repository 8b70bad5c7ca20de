"""`make bench`: every benchmark in one run, side by side; writes bench/results/latest.json.

Usage: python -m bench.run [--data DIR] [--only features,...]
Figures are from one run on this machine; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import (
    decode_bench,
    fault_bench,
    features_bench,
    flow_bench,
    rewind_bench,
    scoring_bench,
    sinks_bench,
    state_bench,
)
from bench.history import shipped_stream
from cli.settings import SHIPPED_DATA, Settings
from features.identity import PlayerDirectory
from scoring.evaluate import make_model
from scoring.model import Registry
from scoring.scorer import Scorer
from scoring.training import build_training_set
from vocabulary.events import BoxScore, InputEvent, PropLine

RESULTS = Path(__file__).resolve().parent / "results"


def _flow(stream: list[tuple[InputEvent, int | None]]) -> dict[str, float]:
    events = [e for e, _ in stream]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, _ = build_training_set(events, directory)
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp))
        for name, kind in Settings().models.items():
            model, catboost_model = make_model(name, kind, data)
            registry.save(catboost_model, model.meta)
        scorers = [Scorer(registry.load(name)) for name in Settings().models]
        return (
            state_bench.run(events, scorers)
            | rewind_bench.run(events, scorers)
            | _dataflow(Path(tmp), flow_bench.line_moves(stream))
            | fault_bench.run(Path(tmp))
        )


def _dataflow(models: Path, moves: list[PropLine]) -> dict[str, float]:
    """The dataflow section in a process of its own, as a `propstream replay` runs: this one
    holds the shipped history (536,000 objects), and a replay in it ran 23,000-25,000 events/s
    against 27,000-29,000 once the history was freed (alternating runs, 2026-11-27), with no
    other change."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "moves.jsonl"
        flow_bench.save_moves(moves, path)
        done = subprocess.run(
            [sys.executable, "-m", "bench.flow_bench", "--models", str(models), "--moves", str(path)],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the dataflow benchmarks failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    results: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHIPPED_DATA)
    args = parser.parse_args(argv)
    console = Console()
    stream = shipped_stream(args.data)
    results: dict[str, float] = {}
    with console.status("decoding"):
        results |= decode_bench.run([event for event, _ in stream])
    with console.status("features"):
        results |= features_bench.run(stream)
    with console.status("scoring"):
        scoring, predictions = scoring_bench.run([event for event, _ in stream])
        results |= scoring
    with console.status("sinks"):
        results |= sinks_bench.run(Settings().postgres_dsn.get_secret_value(), predictions)
    with console.status(
        "dataflow (loads the season into Kafka, replays it, measures line moves), then the fault "
        "matrix and the worker's memory on a Kafka and PostgreSQL of their own"
    ):
        results |= _flow(stream)
    table = Table(title="propstream benchmarks")
    table.add_column("key")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:,.3f}")
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "results": results,
        "command": "make bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
