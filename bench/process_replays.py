"""The replay as the CLI runs it, in one process or several dividing the work, beside what the
broker and PostgreSQL used meanwhile (`flow_bench.run`'s two-process figures)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["replays", "services_cpu_s"]

REPO = Path(__file__).resolve().parent.parent
RATE = re.compile(r"replayed ([\d,]+) events in ([\d.]+) s")


def services_cpu_s() -> float:
    """CPU seconds the broker and PostgreSQL have used so far (their processes and the
    backends that ended), from /proc: what the replays shared the cores with."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, fields = stat.read_text().rsplit(")", 1)
        except OSError:  # ended meanwhile
            continue
        if comm.rpartition("(")[2] in ("java", "postgres"):
            total += sum(int(f) for f in fields.split()[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def replays(
    env: Mapping[str, str], dsn: str | None, out: Path, processes: int
) -> tuple[int, float, float, float]:
    """`processes` replay processes dividing the work as the CLI runs them, into `dsn` and Parquet
    (`None`: Parquet alone): the events they read (summed: the game-level input, which every
    process reads, once per process), the slowest process's time, their total CPU seconds and
    the broker's and PostgreSQL's meanwhile."""
    cluster = ["-i", "{i}", "-n", str(processes)] if processes > 1 else []
    sinks = ["--no-postgres"] if dsn is None else []
    before, services = resource.getrusage(resource.RUSAGE_CHILDREN), services_cpu_s()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli.main", "replay", "--source", "kafka", "--parquet", str(out)]
            + sinks
            + [arg.format(i=i) for arg in cluster],
            env={**env, **({} if dsn is None else {"PROPSTREAM_POSTGRES_DSN": dsn})},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(processes)
    ]
    results = []
    for proc in procs:
        output, _ = proc.communicate(timeout=900)
        match = RATE.search(output)
        if proc.returncode != 0 or match is None:
            raise RuntimeError(f"replay failed: {output[-2000:]}")
        results.append((int(match.group(1).replace(",", "")), float(match.group(2))))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return sum(n for n, _ in results), max(s for _, s in results), cpu, services_cpu_s() - services
