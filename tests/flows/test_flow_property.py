"""The Bytewax flow adds nothing to the engine: random streams through the real dataflow, with
random batch sizes, shard counts and epoch intervals, write exactly the tables of the engine run
alone in time order, and emit every prediction id with one content."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connectors.adapters import Record
from connectors.inputs import FileReader
from connectors.parquet import ParquetSink, read_emissions, read_grades, read_latest, read_predictions_log
from flows.dataflow import ShardSource, build_flow
from flows.run import Cluster, execute
from scoring.engine import Engine
from scoring.scorer import Scorer
from tests.features.streams import streams
from tests.scoring.test_engine import _events, _first_box, _run, _tables
from vocabulary.events import BoxScore
from vocabulary.topics import DEFAULT_NAMES, INPUT_TOPICS

TOPICS = {t: DEFAULT_NAMES[t] for t in INPUT_TOPICS}


def _flow(
    out: Path, records: list[Record], scorers: list[Scorer], shards: int, batch: int, epoch_s: float
) -> None:
    def open_reader(shard: int, n: int, position: int | None) -> FileReader:
        return FileReader(records, TOPICS, shard=shard, shards=n, position=position or 0)

    source = ShardSource(open_reader, lambda: Engine(scorers, retention_days=30), shards=shards, batch=batch)
    execute(
        build_flow(source, [lambda: ParquetSink(out)]),
        Cluster(workers=shards),
        recovery_dir=None,
        epoch_s=epoch_s,
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.reuse, Phase.generate],
)
@given(
    topics=streams(),
    shards=st.sampled_from([1, 2]),
    batch=st.integers(1, 40),
    epoch_s=st.sampled_from([0.001, 0.05, 5.0]),
)
def test_any_batching_sharding_and_epochs_write_the_engines_tables(
    scorers: list[Scorer],
    topics: dict[str, list],  # type: ignore[type-arg]
    shards: int,
    batch: int,
    epoch_s: float,
) -> None:
    events = _events(topics)
    known = [
        _first_box(box)
        for box in {e.player_id: e for e in events["box_scores"] if isinstance(e, BoxScore)}.values()
    ]
    records = [
        Record(topic, event, None, 1, event.game_date)
        for topic, stream in [("box_scores", known), *events.items()]
        for event in stream
    ]
    in_order = sorted((r.event for r in records if r.event is not None), key=lambda e: e.ts)
    log, latest, grades = _tables(_run(scorers, in_order))
    with TemporaryDirectory() as tmp:
        _flow(Path(tmp), records, scorers, shards, batch, epoch_s)
        emissions = read_emissions(Path(tmp))
        flow_log, flow_latest, flow_grades = (
            read_predictions_log(Path(tmp)),
            read_latest(Path(tmp)),
            read_grades(Path(tmp)),
        )
    if emissions.is_empty():
        assert not log and not grades
        return
    contents = emissions.drop("emitted_at", "player_name").with_columns(
        pl.col("reasons").cast(pl.List(pl.String)).list.join("|"),
        pl.col("defaulted").cast(pl.List(pl.String)).list.join("|"),
    )
    assert contents.unique().height == contents["prediction_id"].n_unique()  # one content per id
    assert _rows(flow_log) == {i: _values(p) for i, p in log.items()}
    assert _rows(flow_latest) == {p.prediction_id: _values(p) for p in latest.values()}
    assert _grades(flow_grades) == sorted((g.prediction_id, g.result) for g in grades.values())


_COMPARED = ("model", "book", "market", "line", "as_of", "mean", "p_over", "recommendation")


def _values(p: object) -> tuple[object, ...]:
    return tuple(getattr(p, c) for c in _COMPARED)


def _rows(frame: pl.DataFrame) -> dict[str, tuple[object, ...]]:
    if frame.is_empty():
        return {}
    return {r["prediction_id"]: tuple(r[c] for c in _COMPARED) for r in frame.iter_rows(named=True)}


def _grades(frame: pl.DataFrame) -> list[tuple[str, str]]:
    return [] if frame.is_empty() else sorted(zip(frame["prediction_id"], frame["result"], strict=True))
