"""Faults and memory, on a Kafka and a PostgreSQL of their own (the shared ones are never
stopped): how many scenarios of the fault matrix pass (tests/fault_matrix.py, the very code the
suite runs), and the resident memory of a worker that has consumed a quarter, a half and the
whole of the shipped history from Kafka, side by side (with its retention, it must not grow
with how much it has consumed), beside its peak on the whole.

Usage: python -m bench.fault_bench [--models DIR] [--memory-only]
(alone it trains small models when none are given, and prints its keys as JSON)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from cli.settings import Settings
from tests.fault_matrix import run_all
from tests.matrix_harness import messages, metric, prepare
from tests.stack import PrivateServices, database, free_port, private_services, run_cli, spawn, stop_worker
from vocabulary.topics import INPUT_TOPICS

__all__ = ["HISTORY_PARTS", "run", "worker_memory_after_history"]

console = Console(stderr=True)


# How much of the shipped history a worker consumes before its memory is read: about a quarter
# of the messages (the 2024-25 season and the first night of 2025-26), about a half, all.
HISTORY_PARTS = {"quarter": "2025-10-21", "half": "2025-10-29", "whole": None}
_SETTLE_S = 5.0  # resident memory is sampled this long once the worker has read everything


def _memory_mb(pid: int) -> tuple[float, float, float]:
    """The process's resident set size now (VmRSS), the part of it that is its own memory
    (RssAnon: the rest is mapped files, the shared libraries, which the kernel may drop and
    read again) and its peak (VmHWM), in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    rss, anonymous, peak = (int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "RssAnon", "VmHWM"))
    return rss, anonymous, peak


def _worker_memory(
    services: PrivateServices, models_dir: Path, work: Path, to: str | None
) -> dict[str, float]:
    """Load the shipped history up to the game date `to` (all of it: None) into topics of its
    own, start a worker at `earliest`, and once it has read every message: its resident
    memory (the median of samples over `_SETTLE_S`, while it tails) and its peak, in MiB."""
    part = to or "all"
    env = services.env(f"history-{part}.", models_dir, work / "out")
    run_cli(env, "load", "--max-speed", *(("--to", to) if to else ()), timeout=900)
    names = Settings(topic_prefix=f"history-{part}.")
    total = messages(services.kafka_bootstrap, [names.topic(t) for t in INPUT_TOPICS])
    db, port = database(services.admin_dsn, f"history_{part}".replace("-", "_")), free_port()
    recovery = str(work / f"recovery-{part}")
    worker = spawn(env, "worker", "--recovery-dir", recovery, "--metrics-port", str(port), dsn=db)
    try:
        read, deadline = 0.0, time.monotonic() + 900
        while read < total:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker read {read:,.0f} of {total:,} messages and stopped or stalled"
                )
            time.sleep(0.5)
            with contextlib.suppress(OSError):  # its metrics are served once it has started
                read = metric(port, "propstream_events_in_total")
        samples = []
        for _ in range(int(_SETTLE_S / 0.5)):
            time.sleep(0.5)
            samples.append(_memory_mb(worker.pid))
    except BaseException:
        worker.kill()
        worker.communicate(timeout=30)
        raise
    stop_worker(worker, signal.SIGTERM)
    rss, anonymous = (statistics.median(sample[i] for sample in samples) for i in (0, 1))
    console.print(
        f"worker on {total:,} messages to {to or 'the end'}: RSS {rss:,.0f} MiB "
        f"(anonymous {anonymous:,.0f}), peak {samples[-1][2]:,.0f}"
    )
    return {"messages": float(total), "rss": rss, "peak": samples[-1][2]}


def worker_memory_after_history(services: PrivateServices, models_dir: Path, work: Path) -> dict[str, float]:
    """A worker's resident memory once it has consumed a quarter, a half and the whole of the
    shipped history, side by side (it must not grow with how much it has consumed), and its
    peak on the whole (what a worker catching up on all of it needs)."""
    parts = {
        name: _worker_memory(services, models_dir, work / name, to) for name, to in HISTORY_PARTS.items()
    }
    return {
        "worker_rss_mb_after_history": parts["whole"]["rss"],
        "worker_rss_mb_after_half_history": parts["half"]["rss"],
        "worker_rss_mb_after_quarter_history": parts["quarter"]["rss"],
        "worker_peak_rss_mb_after_history": parts["whole"]["peak"],
        "worker_history_messages": parts["whole"]["messages"],
    }


def run(models_dir: Path, *, matrix: bool = True) -> dict[str, float]:
    """The fault matrix's scenarios (each printed with what it measured or why it failed;
    `matrix=False` skips them), then the worker's memory after the history, on private
    services started and removed here."""
    with private_services() as services, tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp), {}
        if matrix:
            results = run_all(prepare(services, models_dir, work / "matrix"))
            for name, (passed, what) in results.items():
                console.print(f"fault matrix: {'PASS' if passed else 'FAIL'} {name}: {what}")
            out = {
                "fault_matrix_scenarios_passed": float(sum(passed for passed, _ in results.values())),
                "fault_matrix_scenarios_total": float(len(results)),
            }
        return out | worker_memory_after_history(services, models_dir, work / "history")


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
    parser.add_argument("--memory-only", action="store_true", help="the worker's memory, not the matrix")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        models = args.models or _small_models(Path(tmp))
        started = time.monotonic()
        results = run(models, matrix=not args.memory_only)
    when = {
        "seconds": round(time.monotonic() - started),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(results | when, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
