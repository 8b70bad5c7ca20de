"""A small data folder cut from the shipped files, salted with bad rows."""

from __future__ import annotations

import gzip
from pathlib import Path

from cli.settings import SHIPPED_DATA

DAY = "2025-11-01"

# Bad rows appended to real files, and the reason each must be dead-lettered with.
BAD_PROPS = [
    ('2025-11-01T17:00:00,evt,"Broken, Row', "row:field_count"),
    (
        "2025-11-01 5pm,e1,Kawhi Leonard,player_points,24.5,draftkings,Utah Jazz @ Los Angeles Clippers,"
        "2025-11-02T02:30:00Z,-110.0,-110.0",
        "ts:datetime_parsing",
    ),
    (
        "2025-11-01T17:00:00,e1,Kawhi Leonard,player_points,24.5,draftkings,Utah Jazz @ Los Angeles Clippers,"
        "2025-11-02T02:30:00Z,-40.0,-110.0",
        "over_price:odds_out_of_range",
    ),
    (
        "2025-11-01T17:00:00,e1,Kawhi Leonard,player_points,24.5,draftkings,"
        "Bendigo Braves @ Los Angeles Clippers,2025-11-02T02:30:00Z,-110.0,-110.0",
        "away_team:unknown_team",
    ),
    (
        "2025-11-01T17:00:00,e1,Kawhi Leonard,player_points,24.2,fanduel,Utah Jazz @ Los Angeles Clippers,"
        "2025-11-02T02:30:00Z,-110.0,-110.0",
        "line:line_not_half_point",
    ),
]
BAD_BOX_SCORES = [
    (
        "Kawhi Leonard,202695,,2025-11-01,LAC vs. UTA,W,thirty,11,20,0.55,3,7,0.43,5,6,0.83,"
        "1,6,7,4,2,0,3,2,30,9,UTA,HOME,Kawhi Leonard",
        "minutes:float_parsing",
    ),
]


def _head(src: Path, dst: Path, day: str, extra: list[str], plain: bool) -> None:
    """Copy the header and the rows mentioning `day` (the folder stays small), then `extra`."""
    with gzip.open(src, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines()
    kept = [lines[0], *(line for line in lines[1:] if day in line), *extra]
    text = "\n".join(kept) + "\n"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if plain:
        dst.with_suffix("").write_text(text, encoding="utf-8")
    else:
        with gzip.open(dst, "wt", encoding="utf-8", newline="") as handle:
            handle.write(text)


def make_day_folder(root: Path, day: str = DAY, salt: bool = False, plain: bool = False) -> Path:
    for src in sorted(SHIPPED_DATA.glob("*/*.csv.gz")):
        relative = src.relative_to(SHIPPED_DATA)
        extra: list[str] = []
        if salt and relative.name.startswith("props_points"):
            extra = [row for row, _ in BAD_PROPS]
        if salt and relative.name == "player_game_logs_2025_26.csv.gz":
            extra = [row for row, _ in BAD_BOX_SCORES]
        _head(src, root / relative, day, extra, plain)
    return root
