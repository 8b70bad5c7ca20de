"""The data folder: its layout, and reading its CSV files (`.csv` or `.csv.gz`) row by row.

A folder is laid out like the shipped `data/` (and `../shared/data`): `boxscores/`,
`schedule/` and `odds/`, with files recognised by name pattern and header, so a later slice
of the season with other file names works as long as the formats are the same.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.exceptions import DataLayoutError

__all__ = ["DataLayout", "SourceRow", "read_rows"]

PROPS_COLUMNS = frozenset({"snapshot_file_ts", "event_id", "player", "market", "line", "bookmaker"})
GAME_LINE_COLUMNS = frozenset({"event_id", "commence_time", "home_team", "away_team", "bookmaker"})
SNAPSHOT_COLUMNS = frozenset({"snapshot_ts"})
EVENT_COLUMNS = frozenset({"event_id", "commence_time", "home_team", "away_team", "game_date"})
SCHEDULE_COLUMNS = frozenset({"GAME_ID", "GAME_DATE", "MATCHUP", "TEAM_ABBREVIATION"})
BOX_SCORE_COLUMNS = frozenset({"player", "player_id", "date", "matchup", "minutes", "pts"})


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One CSV row: where it came from, its exact text (for dead letters) and its fields."""

    file: str
    line: int
    raw: str
    fields: dict[str, str]
    width_error: str | None = None


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def header(path: Path) -> list[str]:
    with _open_text(path) as handle:
        return next(csv.reader(handle), [])


def read_rows(path: Path, label: str | None = None) -> Iterator[SourceRow]:
    """Rows with their 1-based line number. A row whose field count differs from the header's
    still comes out, with `width_error` set, so it is dead-lettered rather than dropped."""
    name = label or path.name
    with _open_text(path) as handle:
        lines = iter(handle)
        columns = next(csv.reader([next(lines, "")]), [])
        for number, text in enumerate(lines, start=2):
            raw = text.rstrip("\r\n")
            if not raw:
                continue
            values = next(csv.reader([raw]), [])
            width_error = None
            if len(values) != len(columns):
                width_error = f"{len(values)} fields where the header has {len(columns)}"
            yield SourceRow(name, number, raw, dict(zip(columns, values, strict=False)), width_error)


def _csv_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.name.endswith((".csv", ".csv.gz")))


@dataclass(frozen=True)
class DataLayout:
    """The files of a data folder, sorted into the kinds propstream reads."""

    root: Path
    props: tuple[Path, ...]
    game_lines: tuple[Path, ...]
    game_line_snapshots: tuple[Path, ...]
    game_events: tuple[Path, ...]
    schedule: tuple[Path, ...]
    box_scores: tuple[Path, ...]

    @classmethod
    def discover(cls, root: Path) -> DataLayout:
        """Sort a folder's CSV files by their headers; fail with what is missing."""
        if not root.is_dir():
            raise DataLayoutError(f"data folder {root} does not exist")
        kinds: dict[str, list[Path]] = {
            "props": [],
            "game_lines": [],
            "game_line_snapshots": [],
            "game_events": [],
            "schedule": [],
            "box_scores": [],
        }
        for folder, rules in (
            ("odds", ("props", "game_line_snapshots", "game_lines", "game_events")),
            ("schedule", ("schedule",)),
            ("boxscores", ("box_scores",)),
        ):
            for path in _csv_files(root / folder):
                kind = _classify(set(header(path)), rules)
                if kind is not None:
                    kinds[kind].append(path)
        missing = [k for k in ("props", "schedule", "box_scores") if not kinds[k]]
        if missing:
            raise DataLayoutError(
                f"data folder {root} has no {', '.join(missing)} files; expected a folder laid out "
                "like data/: odds/props_*.csv[.gz], schedule/team_game_logs_*.csv[.gz], "
                "boxscores/player_game_logs_*.csv[.gz]"
            )
        return cls(root=root, **{k: tuple(v) for k, v in kinds.items()})

    def label(self, path: Path) -> str:
        """The file's path inside the data folder, as dead letters record it."""
        return path.relative_to(self.root).as_posix()


def _classify(columns: set[str], rules: tuple[str, ...]) -> str | None:
    required = {
        "props": PROPS_COLUMNS,
        "game_line_snapshots": GAME_LINE_COLUMNS | SNAPSHOT_COLUMNS,
        "game_lines": GAME_LINE_COLUMNS | {"market", "outcome_name", "price"},
        "game_events": EVENT_COLUMNS,
        "schedule": SCHEDULE_COLUMNS,
        "box_scores": BOX_SCORE_COLUMNS,
    }
    return next((kind for kind in rules if required[kind] <= columns), None)
