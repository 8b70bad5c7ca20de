"""The dataflow from files, in process, over the whole shipped history: shards, batch sizes,
windows and other markets never change the rows it writes, and no prediction id is ever
emitted with two contents."""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
import traceback
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.adapters import Record
from connectors.inputs import FileReader
from connectors.parquet import ParquetSink, read_emissions, read_grades, read_latest, read_predictions_log
from flows.dataflow import ShardSource, build_flow
from flows.run import Cluster, counts, execute
from scoring.engine import Engine
from scoring.evaluate import make_model
from scoring.scorer import Scorer
from scoring.training import TrainingSet
from vocabulary.events import PropLine
from vocabulary.records import KEY
from vocabulary.topics import DEFAULT_NAMES, INPUT_TOPICS
from vocabulary.window import Window

TOPICS = {t: DEFAULT_NAMES[t] for t in INPUT_TOPICS}
WINDOW = Window.parse("2025-11-10", "2025-11-12")
Tables = dict[str, pl.DataFrame]


def _replay(
    out: Path,
    records: list[Record],
    scorers: list[Scorer],
    *,
    shards: int = 1,
    batch: int = 1000,
    window: Window | None = None,
    recovery: Path | None = None,
    snapshots: bool = False,
) -> Path:
    def open_reader(shard: int, n: int, position: int | None) -> FileReader:
        return FileReader(records, TOPICS, shard=shard, shards=n, position=position or 0)

    source = ShardSource(
        open_reader,
        lambda: Engine(scorers),
        shards=shards,
        window=window,
        batch=batch,
        checkpoints=recovery if snapshots else None,
    )
    flow = build_flow(source, [lambda: ParquetSink(out)])
    execute(flow, Cluster(workers=shards), recovery_dir=recovery, epoch_s=5)
    return out


def _tables(root: Path) -> Tables:
    """predictions_latest, predictions_log and grades, as the Parquet reader gives them."""
    frames = {"latest": read_latest(root), "log": read_predictions_log(root), "grades": read_grades(root)}
    return {name: frame.drop("emitted_at").sort(frame.columns[:6]) for name, frame in frames.items()}


def _two_contents(root: Path) -> int:
    """Prediction ids emitted with more than one content (emit time and name aside)."""
    emissions = read_emissions(root).drop("emitted_at", "player_name")
    lists = [c for c, t in emissions.schema.items() if isinstance(t, pl.List)]
    flat = emissions.with_columns(pl.col(c).list.join("|") for c in lists).unique()
    return flat.group_by("prediction_id").len().filter(pl.col("len") > 1).height


@pytest.fixture(scope="module")
def full(
    tmp_path_factory: pytest.TempPathFactory, shipped_records: list[Record], scorers: list[Scorer]
) -> Path:
    """One replay of the whole shipped history, every market, one shard."""
    return _replay(tmp_path_factory.mktemp("full"), shipped_records, scorers)


def test_the_whole_history_emits_each_id_once_in_any_layout(
    full: Path, tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    base = _tables(full)
    assert base["latest"].height > 30_000 and base["grades"].height > 30_000
    assert set(base["latest"]["model"]) == {"champion", "shadow"}
    assert _two_contents(full) == 0
    # game-level inputs are never missing for a game that has lines (they were, first, for
    # 91% of ids when game lines reached players after their props)
    defaulted = base["log"].explode("defaulted")["defaulted"].drop_nulls()
    assert not defaulted.str.starts_with("game_total=").any()
    divided = _replay(tmp_path / "two", shipped_records, scorers, shards=2, batch=97)
    assert _two_contents(divided) == 0
    for name, frame in _tables(divided).items():
        assert frame.equals(base[name]), name


def test_a_window_writes_exactly_the_full_runs_rows_for_it(
    full: Path, tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    window = _tables(_replay(tmp_path / "window", shipped_records, scorers, window=WINDOW))
    base = _tables(full)
    assert WINDOW.start is not None and WINDOW.end is not None
    inside = pl.col("as_of").is_between(WINDOW.start, WINDOW.end)
    assert window["log"].height > 2_000
    assert window["log"].equals(base["log"].filter(inside))
    assert window["grades"].equals(base["grades"].filter(inside))
    # the latest of each key among the full run's predictions in the window
    emissions = read_emissions(full).drop("emitted_at")
    latest = (
        emissions.filter(inside).sort([*KEY, "as_of"]).unique(list(KEY), keep="last", maintain_order=True)
    )
    assert window["latest"].equals(latest.sort(window["latest"].columns[:6]))
    assert window["log"]["as_of"].min() >= WINDOW.start  # nothing from the warm-up


def test_other_markets_change_no_points_row_and_are_counted(
    full: Path, tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    others = {id(r) for r in shipped_records if isinstance(r.event, PropLine) and r.event.market != "points"}
    assert len(others) > 80_000
    points_only = [r for r in shipped_records if id(r) not in others]
    before = counts()
    _replay(tmp_path / "points", points_only, scorers)
    without = counts(before)
    assert "market:unsupported" not in without.dead_letters
    base = _tables(full)
    for name, frame in _tables(tmp_path / "points").items():
        assert frame.equals(base[name]), name
    assert set(base["latest"]["market"]) == {"points"}


def test_scoring_other_markets_changes_no_points_row(
    full: Path,
    tmp_path: Path,
    shipped_records: list[Record],
    scorers: list[Scorer],
    history: tuple,  # type: ignore[type-arg]
) -> None:
    """With count models of blocks and threes active beside the points models, the points rows
    are exactly those of the run that scores points alone, and the other markets get rows."""
    data: TrainingSet = history[0]
    more = [
        Scorer(make_model("champion", kind, data.for_market(market), {"iterations": 40})[0])
        for market, kind in (("blocks", "negbin"), ("threes", "poisson"))
    ]
    before = counts()
    every = _tables(_replay(tmp_path / "every", shipped_records, [*scorers, *more]))
    run = counts(before)
    assert run.reconciles and run.dead_letters.get("market:unsupported", 0) > 0  # rebounds, ...
    base = _tables(full)
    points = pl.col("market") == "points"
    for name, frame in every.items():
        assert frame.filter(points).equals(base[name]), name
    assert set(every["latest"]["market"]) == {"points", "blocks", "threes"}
    graded = every["grades"].filter(pl.col("market") == "blocks")
    assert graded.height > 1_000 and set(graded["result"]) >= {"WIN", "LOSS"}


def test_dead_letters_spanning_several_rows_reconcile(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """A game whose two rows fail is one item in and one dead letter out: a full replay of the
    shipped files once counted its rows as dead letters and did not reconcile."""
    spanning = [r for r in shipped_records if r.dead_letter is not None and r.dead_letter.rows > 1]
    assert spanning, "the shipped data has multi-row dead letters (games with an unknown team)"
    before = counts()
    _replay(tmp_path, spanning, scorers)
    run = counts(before)
    assert run.events_in == {"files": len(spanning)}
    assert sum(run.dead_letters.values()) == len(spanning)
    assert run.reconciles


def test_a_flow_built_without_checkpoints_refuses_to_resume(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """Run with a recovery store, a flow built without checkpoints stores empty markers; a
    resume from them must fail loudly, not restart every shard from nothing."""
    recovery = tmp_path / "recovery"
    day = [
        r
        for r in shipped_records
        if r.event is not None and r.event.ts < datetime.fromisoformat("2024-11-01T00:00:00+00:00")
    ]
    _replay(tmp_path / "out", day, scorers, recovery=recovery)
    with pytest.raises(Exception) as raised:
        _replay(tmp_path / "out", day, scorers, recovery=recovery)
    assert "built without checkpoints" in "".join(traceback.format_exception(raised.value))


def test_a_snapshot_of_an_older_state_layout_is_refused_with_what_to_do(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """A worker upgraded across a change of the engine state's layout must not resume from the
    old snapshot (it would fail deep inside a rewind, or worse): one error that says what to do."""
    recovery = tmp_path / "recovery"
    day = [
        r
        for r in shipped_records
        if r.event is not None and r.event.ts < datetime.fromisoformat("2024-11-01T00:00:00+00:00")
    ]
    _replay(tmp_path / "out", day, scorers, recovery=recovery, snapshots=True)
    rewritten = 0
    for path in recovery.glob("*.sqlite3"):  # as the previous layout wrote them: (positions, state)
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            rows = db.execute("SELECT rowid, ser_change FROM snaps WHERE ser_change IS NOT NULL").fetchall()
            for rowid, blob in rows:
                _, positions, state = pickle.loads(pickle.loads(blob))
                old = pickle.dumps(pickle.dumps((positions, state)))
                db.execute("UPDATE snaps SET ser_change = ? WHERE rowid = ?", (old, rowid))
                rewritten += 1
    assert rewritten
    with pytest.raises(Exception) as raised:
        _replay(tmp_path / "out", day, scorers, recovery=recovery, snapshots=True)
    assert "--start-at earliest" in "".join(traceback.format_exception(raised.value))
