"""Which distribution fits each market: walk-forward Brier, log-loss and calibration of the model
alone (no calibration stage) per distribution kind, beside the market, on the same props.

    PYTHONPATH=. .venv/bin/python scripts/compare_distributions.py --from 2025-10-28 --to 2025-11-15 \
        --markets blocks,steals,threes --retrain-days 7 --iterations 150 --json out/distributions.json

The feature replay is cached under /tmp (keyed by the data folder and the feature schema), so a
second run only trains and scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from cli.settings import SHIPPED_DATA
from connectors.adapters import read_records
from connectors.files import DataLayout
from features.identity import PlayerDirectory
from features.schema import FEATURE_SCHEMA_VERSION
from scoring.evaluate import calibration_by_quantile, walk_forward
from scoring.model import ModelKind
from scoring.training import build_training_set
from vocabulary.events import BoxScore

KINDS: dict[str, ModelKind] = {
    "normal": "normal_uncertainty",
    "sqrt_normal": "sqrt_uncertainty",
    "poisson": "poisson",
    "negbin": "negbin",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    parser.add_argument("--markets", default="blocks,steals,threes")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--retrain-days", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--data", type=Path, default=SHIPPED_DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    events = [r.event for r in read_records(DataLayout.discover(args.data)) if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    key = f"{args.data.resolve()}:{FEATURE_SCHEMA_VERSION}:{len(events)}"
    cache = (
        Path(tempfile.gettempdir())
        / f"propstream-training-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pkl"
    )
    if cache.is_file():
        prepared = pickle.loads(cache.read_bytes())  # noqa: S301 (our own cache, written below)
    else:
        prepared = build_training_set(events, directory)
        cache.write_bytes(pickle.dumps(prepared))
    kinds = {name: KINDS[name] for name in args.kinds.split(",")}
    params = {"iterations": args.iterations}
    out: dict[str, Any] = {
        "command": "python scripts/compare_distributions.py " + " ".join(sys.argv[1:]),
        "markets": {},
    }
    for market in args.markets.split(","):
        result = walk_forward(
            events,
            directory,
            (args.start, args.end),
            kinds,
            params=params,
            retrain_days=args.retrain_days,
            stage=False,
            market=market,
            prepared=prepared,
        )
        rows: dict[str, Any] = {}
        for name in kinds:
            grades = [g for g in result.grades if g.model == name]
            perf = result.overall[name].as_dict()
            decided = [g for g in grades if g.result in ("WIN", "LOSS") and g.actual is not None]
            forecasts = [(g.p_over, g.actual > g.line) for g in decided]  # type: ignore[operator]
            rows[name] = perf | {"calibration": calibration_by_quantile(forecasts, bins=5)}
            print(  # noqa: T201 (a script's output)
                f"{market:>24} {name:>12}: n={perf['n_graded']:5d} brier {perf['brier_model']:.4f} "
                f"(market {perf['brier_market']:.4f}) log-loss {perf['logloss_model']:.4f} "
                f"(market {perf['logloss_market']:.4f}) mae {perf['mae_model']:.3f} "
                f"(line {perf['mae_line']:.3f})",
                flush=True,
            )
        out["markets"][market] = rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
