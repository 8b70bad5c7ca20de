"""Reading the data folder: counts, event times, main lines, and bad rows as dead letters."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.adapters import GAME_LENGTH, Record, read_records
from connectors.exceptions import DataLayoutError
from connectors.files import DataLayout
from tests.data_folders import BAD_BOX_SCORES, BAD_PROPS, make_day_folder
from vocabulary.events import BoxScore, PropLine


def test_shipped_data_counts(shipped_records: list[Record]) -> None:
    rows: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for record in shipped_records:
        rows[record.topic] += record.rows
        events[record.topic] += record.event is not None
    # every row of every loaded file is accounted for (DATA.md's row counts)
    assert rows == {
        "props": 36_822 + 84_326,  # points, and the six other markets
        "game_lines": 10_128 + 101_912,
        "games": 2_802 + 191,
        "box_scores": 22_124 + 3_157,
    }
    assert events["props"] == 36_822 + 84_326
    assert events["box_scores"] == 25_281
    assert events["games"] == 1_581  # 1,401 + 191 games less 11 exhibition games against non-NBA clubs
    dead = Counter(r.dead_letter.reason for r in shipped_records if r.dead_letter)
    assert dead == {"home_team:unknown_team": 7, "away_team:unknown_team": 4}


def test_records_are_in_event_time_order(shipped_records: list[Record]) -> None:
    times = [r.event.ts for r in shipped_records if r.event is not None]
    assert times == sorted(times)


def test_one_sided_quote_is_a_valid_prop(shipped_records: list[Record]) -> None:
    one_sided = [
        r.event for r in shipped_records if isinstance(r.event, PropLine) and r.event.under_price is None
    ]
    points = [(e.player_name, e.book, e.line) for e in one_sided if e.market == "points"]
    assert points == [("Ben Sheppard", "fanatics", 7.5)]
    assert len(one_sided) - len(points) == 8  # DATA.md: 8 other-market rows lack a price


def test_exactly_one_main_line_closest_to_even(shipped_records: list[Record]) -> None:
    groups: dict[tuple[object, ...], list[PropLine]] = {}
    for r in shipped_records:
        if isinstance(r.event, PropLine):
            e = r.event
            groups.setdefault((e.ts, e.event_id, e.player_name, e.book, e.market), []).append(e)
    assert sum(key[4] == "points" for key in groups) == 19_582  # DATA.md: (player, game, book) triples
    alternates = 0
    for key, lines in groups.items():
        assert sum(e.is_main for e in lines) == 1
        if len(lines) > 1 and all(e.under_price is not None for e in lines):
            alternates += key[4] == "points"
            main = next(e for e in lines if e.is_main)
            gap = {e.line: abs(_p(e.over_price) - _p(e.under_price)) for e in lines}  # type: ignore[arg-type]
            assert gap[main.line] == min(gap.values())
    assert alternates == 4_022


def _p(price: float) -> float:
    return 100 / (price + 100) if price > 0 else -price / (100 - price)


def test_box_score_time_is_tipoff_plus_game_length(shipped_records: list[Record]) -> None:
    props = {r.event.game_key: r.event.tipoff for r in shipped_records if isinstance(r.event, PropLine)}
    boxes = [r.event for r in shipped_records if isinstance(r.event, BoxScore) and r.event.game_key in props]
    assert len(boxes) == 3_157
    for box in boxes:
        assert box.ts - props[box.game_key] <= GAME_LENGTH  # odds files may list an earlier tip-off
        assert box.ts - props[box.game_key] >= GAME_LENGTH - timedelta(minutes=15)


def test_box_score_without_known_tipoff_uses_documented_evening(tmp_path: Path) -> None:
    folder = make_day_folder(tmp_path / "d", day="2025-11-01")
    for odds in (folder / "odds").glob("*"):
        if "props" not in odds.name:
            odds.unlink()
    for props in (folder / "odds").glob("props_*.csv.gz"):
        props.unlink()
    (folder / "odds" / "props_x.csv").write_text("snapshot_file_ts,event_id,player,market,line,bookmaker\n")
    boxes = [r.event for r in read_records(DataLayout.discover(folder)) if isinstance(r.event, BoxScore)]
    assert boxes
    # 19:30 US Eastern (EDT on 2025-11-01) + 2h30
    assert {b.ts for b in boxes} == {datetime(2025, 11, 2, 2, 0, tzinfo=UTC)}


def test_plain_and_gzip_csv_read_the_same(tmp_path: Path) -> None:
    gz = read_records(DataLayout.discover(make_day_folder(tmp_path / "gz")))
    plain = read_records(DataLayout.discover(make_day_folder(tmp_path / "plain", plain=True)))
    assert [r.event for r in gz] == [r.event for r in plain]
    assert len(gz) > 1000


def test_bad_rows_become_dead_letters_with_reasons(salted_folder: Path) -> None:
    records = read_records(DataLayout.discover(salted_folder))
    letters = {r.dead_letter.original.decode(): r.dead_letter for r in records if r.dead_letter}
    for row, reason in [*BAD_PROPS, *BAD_BOX_SCORES]:
        assert letters[row].reason == reason
        assert letters[row].source.startswith(("odds/props_", "boxscores/"))
        assert letters[row].offset is not None and letters[row].offset > 1


def test_missing_layout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="does not exist"):
        DataLayout.discover(tmp_path / "nope")
    (tmp_path / "odds").mkdir()
    with pytest.raises(DataLayoutError, match="no props, schedule, box_scores files"):
        DataLayout.discover(tmp_path)
