"""`propstream evaluate` says how far it is while it runs: a log line per day scored (day i/n,
graded rows so far, seconds elapsed), the first long before the end, through the real CLI on
the shipped data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tests.stack import REPO

LINE = re.compile(
    r"evaluate points: day (\d+)/(\d+) (\d{4}-\d{2}-\d{2})( \(calibration warm-up\))?, "
    r"([\d,]+) graded rows so far, ([\d.]+) s elapsed"
)
START, END = date(2025, 11, 10), date(2025, 11, 12)


@dataclass(frozen=True)
class Progress:
    i: int
    n: int
    day: date
    warm_up: bool
    rows: int
    elapsed: float

    @classmethod
    def parse(cls, match: re.Match[str]) -> Progress:
        i, n, day, warm, rows, elapsed = match.groups()
        return cls(
            int(i), int(n), date.fromisoformat(day), bool(warm), int(rows.replace(",", "")), float(elapsed)
        )


def test_evaluate_logs_its_progress_by_day_while_it_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    out = tmp_path / "evaluation.json"
    window = [
        "--from",
        START.isoformat(),
        "--to",
        END.isoformat(),
        "--market",
        "points",
        "--retrain-days",
        "30",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "evaluate", *window, "--json", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    progress: list[Progress] = []
    running_at_first_day = False
    timer = threading.Timer(600, proc.kill)  # a hung run fails, it does not hang the suite
    timer.start()
    try:
        for line in proc.stderr:
            assert "Traceback" not in line, line + proc.stderr.read()
            match = LINE.search(line)
            if match:
                running_at_first_day = running_at_first_day or (not progress and proc.poll() is None)
                progress.append(Progress.parse(match))
    finally:
        timer.cancel()
    assert proc.wait() == 0
    assert running_at_first_day  # the first day's line came while the run went on

    days = [p.day for p in progress]
    assert days == sorted(days) and days[-1] == END and len(days) > 10
    assert [p.i for p in progress] == sorted({p.i for p in progress}) and progress[-1].i == progress[-1].n
    assert {p.n for p in progress} == {progress[-1].n}  # the days from the first scored to --to
    assert all(p.warm_up == (p.day < START) for p in progress)
    rows = [p.rows for p in progress]
    assert rows == sorted(rows) and rows[-1] > 1000 and all(p.rows == 0 for p in progress if p.warm_up)
    assert [p.elapsed for p in progress] == sorted(p.elapsed for p in progress)
    graded_days = {date.fromisoformat(d["day"]) for d in json.loads(out.read_text())["by_day"]}
    assert graded_days == {p.day for p in progress if not p.warm_up}
