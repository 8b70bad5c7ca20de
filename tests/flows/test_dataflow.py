"""The dataflow from files, in process: workers and interleavings never change the tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from bytewax.testing import cluster_main, run_main

from cli.settings import Settings
from connectors.adapters import Record
from connectors.parquet import ParquetSink, read_grades, read_latest
from features.identity import PlayerDirectory
from features.schema import Target
from flows.dataflow import build_flow
from flows.run import Cluster, counts, execute
from flows.sources import FileSource, Raw
from scoring.engine import Engine, PlayerState
from scoring.scorer import Scorer
from vocabulary.events import BoxScore, Game, GameLine, PropLine
from vocabulary.records import Prediction

WINDOW = (date(2025, 11, 9), date(2025, 11, 11))
TOPICS = {t: Settings().topic(t) for t in ("games", "game_lines", "props", "box_scores")}


def _source(records: list[Record], order: tuple[str, ...] | None = None) -> FileSource:
    source = FileSource(records, TOPICS, WINDOW, batch=97)
    if order is not None:  # topic by topic, each topic keeping its own order
        rank = {name: i for i, name in enumerate(order)}
        source.items.sort(key=lambda x: rank[x.logical] if isinstance(x, Raw) else -1)
    return source


def _run(
    tmp: Path, source: FileSource, scorers: list[Scorer], directory: PlayerDirectory, workers: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    flow = build_flow(source, directory, scorers, [lambda: ParquetSink(tmp)], snapshots=False)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return read_latest(tmp).drop("emitted_at"), read_grades(tmp).drop("emitted_at")


def _directory(records: list[Record]) -> PlayerDirectory:
    return PlayerDirectory.from_box_scores(r.event for r in records if isinstance(r.event, BoxScore))


def test_one_worker_and_two_and_interleavings_give_identical_tables(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    directory = _directory(shipped_records)
    base_latest, base_grades = _run(tmp_path / "base", _source(shipped_records), scorers, directory)
    assert base_latest.height > 2000 and base_grades.height > 2000
    assert set(base_latest["model"]) == {"champion", "shadow"}
    runs = {
        "two workers": _run(tmp_path / "w2", _source(shipped_records), scorers, directory, workers=2),
        "box scores first": _run(
            tmp_path / "bf",
            _source(shipped_records, ("box_scores", "games", "game_lines", "props")),
            scorers,
            directory,
        ),
        "props first": _run(
            tmp_path / "pf",
            _source(shipped_records, ("props", "game_lines", "games", "box_scores")),
            scorers,
            directory,
        ),
    }
    for name, (latest, grades) in runs.items():
        assert latest.equals(base_latest), name
        assert grades.equals(base_grades), name


def _props_of(records: list[Record], day: date) -> list[PropLine]:
    return [r.event for r in records if isinstance(r.event, PropLine) and r.event.game_date == day]


def _player_on_a_day(
    shipped_records: list[Record], scorers: list[Scorer]
) -> tuple[Engine, PlayerState, int, list[PropLine]]:
    """One player's engine with the history before 2025-11-10 and that day's props applied."""
    directory = _directory(shipped_records)
    engine = Engine(scorers)
    state = PlayerState()
    day = date(2025, 11, 10)
    props = [p for p in _props_of(shipped_records, day) if directory.ids_by_name.get(p.player_name.lower())]
    player = directory.resolve(props[0].player_name)
    mine = [p for p in _props_of(shipped_records, day) if p.player_name == props[0].player_name]
    for box in (
        r.event for r in shipped_records if isinstance(r.event, BoxScore) and r.event.player_id == player
    ):
        if box.game_date < day:
            engine.apply(state, box, player)
    for event in (
        r.event
        for r in shipped_records
        if isinstance(r.event, GameLine | Game) and r.event.game_date < day + (day - day)
    ):
        engine.apply(state, event, player)  # type: ignore[arg-type]
    for prop in mine:
        engine.apply(state, prop, player)
    return engine, state, player, mine


def test_one_changed_line_yields_one_prediction_per_model_for_that_key(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, state, player, mine = _player_on_a_day(shipped_records, scorers)
    main = next(p for p in mine if p.is_main)
    assert engine.apply(state, main, player) == []  # an unchanged re-send: nothing new
    moved = main.model_copy(
        update={"ts": main.ts.replace(minute=30), "line": main.line + 1.0, "over_price": -120.0}
    )
    out = engine.apply(state, moved, player)
    assert sorted((p.model, p.book, p.line) for p in out) == [
        ("champion", main.book, main.line + 1.0),
        ("shadow", main.book, main.line + 1.0),
    ]
    assert all(p.as_of == moved.ts for p in out)
    if len({p.book for p in mine if p.is_main}) > 1:
        other = next(p for p in mine if p.is_main and p.book != main.book)
        assert state.store.vector(
            Target(player, other.game_key, other.book, other.line)
        )  # untouched, still there


def test_a_rescoring_that_changes_no_prediction_emits_nothing(
    shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    engine, state, player, mine = _player_on_a_day(shipped_records, scorers)
    targets = [(p.game_key, p.book) for p in mine if p.is_main]
    first = [r for r in engine._rescore(state, player, targets) if isinstance(r, Prediction)]
    assert first == []  # the props' own application already emitted exactly these
    state.emitted.clear()  # as if nothing had been said yet
    again = [r for r in engine._rescore(state, player, targets) if isinstance(r, Prediction)]
    assert len(again) == len(set(targets)) * len(scorers)
    assert [r for r in engine._rescore(state, player, targets) if isinstance(r, Prediction)] == []


def test_dead_letters_spanning_several_rows_reconcile(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """A game whose two rows fail is one item in and one dead letter out: a full replay of the
    shipped files once counted its rows as dead letters and did not reconcile."""
    spanning = [r for r in shipped_records if r.dead_letter is not None and r.dead_letter.rows > 1]
    assert spanning, "the shipped data has multi-row dead letters (games with an unknown team)"
    before = counts()
    sink = lambda: ParquetSink(tmp_path)  # noqa: E731
    flow = build_flow(
        FileSource(spanning, TOPICS), _directory(shipped_records), scorers, [sink], snapshots=False
    )
    run_main(flow)
    run = counts(before)
    assert run.events_in == {"files": len(spanning)}
    assert sum(run.dead_letters.values()) == len(spanning)
    assert run.reconciles


def test_a_flow_built_without_snapshots_refuses_to_resume(
    tmp_path: Path, shipped_records: list[Record], scorers: list[Scorer]
) -> None:
    """Run with a recovery store, a flow built with snapshots=False stores empty markers; a
    resume from them must fail loudly, not restart every player from nothing."""
    directory = _directory(shipped_records)
    settings = Settings(recovery_dir=tmp_path / "recovery", models_dir=tmp_path)

    def run(last_day: date) -> None:
        source = FileSource(shipped_records, TOPICS, (WINDOW[0], last_day), batch=97)
        flow = build_flow(source, directory, scorers, [lambda: ParquetSink(tmp_path)], snapshots=False)
        execute(flow, Cluster(), recovery_dir=settings.recovery_dir, epoch_s=settings.snapshot_interval_s)

    run(WINDOW[0])
    with pytest.raises(Exception, match="snapshots=False"):
        run(WINDOW[1])  # resumes past the first day's items: the players seen then come back
