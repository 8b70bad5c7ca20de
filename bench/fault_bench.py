"""Faults and memory, on a Kafka and a PostgreSQL of their own (the shared ones are never
stopped): how many scenarios of the fault matrix pass (tests/fault_matrix.py, the very code the
suite runs), and the peak resident memory of a worker that has consumed the whole shipped
history from Kafka (with its retention, its state must not grow with the season).

Usage: python -m bench.fault_bench [--models DIR]
(alone it trains small models when none are given, and prints its keys as JSON)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from cli.settings import Settings
from tests.fault_matrix import messages, metric, prepare, run_all
from tests.stack import PrivateServices, database, free_port, private_services, run_cli, spawn, stop_worker
from vocabulary.topics import INPUT_TOPICS

__all__ = ["run", "worker_rss_mb_after_history"]

console = Console(stderr=True)


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def worker_rss_mb_after_history(services: PrivateServices, models_dir: Path, work: Path) -> float:
    """Load the whole shipped history, start a worker at `earliest`, and once it has read every
    message and written its last batch, its peak RSS in MiB: what a deployed worker needs by
    the time it has caught up."""
    env = services.env("history.", models_dir, work / "out")
    run_cli(env, "load", "--max-speed", timeout=900)
    names = Settings(topic_prefix="history.")
    total = messages(services.kafka_bootstrap, [names.topic(t) for t in INPUT_TOPICS])
    db, port = database(services.admin_dsn, "history"), free_port()
    worker = spawn(
        env, "worker", "--recovery-dir", str(work / "recovery"), "--metrics-port", str(port), dsn=db
    )
    try:
        read, deadline = 0.0, time.monotonic() + 900
        while read < total:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker read {read:,.0f} of {total:,} messages and stopped or stalled"
                )
            time.sleep(1)
            with contextlib.suppress(OSError):  # its metrics are served once it has started
                read = metric(port, "propstream_events_in_total")
        time.sleep(3)  # its last batch written
        peak = _peak_rss_mb(worker.pid)
    except BaseException:
        worker.kill()
        worker.communicate(timeout=30)
        raise
    stop_worker(worker, signal.SIGTERM)
    console.print(f"worker read {total:,} messages; peak RSS {peak:,.0f} MiB")
    return peak


def run(models_dir: Path) -> dict[str, float]:
    """The fault matrix's scenarios (each printed with what it measured or why it failed), then
    the worker's memory after the history, on private services started and removed here."""
    with private_services() as services, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = run_all(prepare(services, models_dir, work / "matrix"))
        for name, (passed, what) in results.items():
            console.print(f"fault matrix: {'PASS' if passed else 'FAIL'} {name}: {what}")
        rss = worker_rss_mb_after_history(services, models_dir, work / "history")
    return {
        "fault_matrix_scenarios_passed": float(sum(passed for passed, _ in results.values())),
        "fault_matrix_scenarios_total": float(len(results)),
        "worker_rss_mb_after_history": rss,
    }


def _small_models(root: Path) -> Path:
    """Points models as the suite trains them (40 iterations: fast, real all the same)."""
    from cli.settings import SHIPPED_DATA  # noqa: PLC0415 (only when run alone)
    from connectors.adapters import read_records  # noqa: PLC0415
    from connectors.files import DataLayout  # noqa: PLC0415
    from features.identity import PlayerDirectory  # noqa: PLC0415
    from scoring.evaluate import make_model  # noqa: PLC0415
    from scoring.model import ModelKind, Registry  # noqa: PLC0415
    from scoring.training import build_training_set  # noqa: PLC0415
    from vocabulary.events import BoxScore  # noqa: PLC0415

    events = [r.event for r in read_records(DataLayout.discover(SHIPPED_DATA)) if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    data, _ = build_training_set(events, directory)
    kinds: dict[str, ModelKind] = {"champion": "sqrt_uncertainty", "shadow": "normal_uncertainty"}
    for name, kind in kinds.items():
        model, catboost_model = make_model(name, kind, data, {"iterations": 40})
        Registry(root).save(catboost_model, model.meta)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=Path, help="a registry with points champion and shadow")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        models = args.models or _small_models(Path(tmp))
        started = time.monotonic()
        results = run(models)
    print(json.dumps(results | {"seconds": round(time.monotonic() - started)}, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
