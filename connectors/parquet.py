"""Parquet: an append log of predictions and grades, partitioned by game date, and the reader
that turns it into exactly the rows of `predictions_latest` / `grades`; and the dead letters,
with their exact original bytes, which `read_dead_letters` gives as the rows of `dead_letters`.

Files are named by a hash of their records' ids, so a batch re-delivered whole rewrites the
same file; a re-delivery split differently adds a file with rows already present, which the
reader drops (newest `as_of` per key wins, then the later `emitted_at`, as in Postgres; an id
whose last emission withdrew it is in neither table, as in Postgres).
Files are written to a temporary name in the same folder and renamed, so a reader never sees
half a file. A full disk (no space, a quota, a file-size limit) does not lose a batch: the sink
removes the half-written file and, by default, holds the batch (and so the input:
backpressure), retrying until the write goes through (`Backpressure`); with `wait=False` it
raises `SinkError`.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import operator
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import AwareDatetime, BaseModel

from connectors.sinks import Backpressure, Item, Sink, SinkError
from vocabulary.events import DeadLetter
from vocabulary.letters import DeadLetters
from vocabulary.records import KEY, Grade, Prediction

__all__ = [
    "ParquetSink",
    "log_files",
    "read_dead_letters",
    "read_emissions",
    "read_grades",
    "read_latest",
    "read_log",
    "read_predictions_log",
]

_MODELS: dict[str, type[Prediction] | type[Grade] | type[DeadLetter]] = {
    "predictions": Prediction,
    "grades": Grade,
    "dead_letters": DeadLetter,  # one folder, no date: a dead letter may have none
}
_FOLDERS: dict[type[BaseModel], str] = {model: folder for folder, model in _MODELS.items()}
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})  # what freeing space or a limit cures
logger = logging.getLogger(__name__)
_DEAD_KEY = ("source", "partition", "offset")  # where the input was read: the key in Postgres too
_DEAD_ID = "%s|%s|%s"  # a dead letter's id in its file's name: its key's values as text
# lz4: the dead letters' files written in 1.6 µs a row against snappy's 2.3-2.8 (the originals'
# JSON compresses as well); the predictions' and grades' alike or a little faster
_COMPRESSION = "lz4"


class ParquetSink(Sink):
    accepts = (Prediction, Grade, DeadLetter, DeadLetters)

    def __init__(
        self,
        root: Path,
        *,
        wait: bool = True,
        max_backoff_s: float = 2.0,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """`wait`: on a full disk, hold the batch and retry until it is written (backpressure);
        else raise `SinkError`. `stop` is asked between retries: once it says yes, `SinkStopped`."""
        self.root = root
        self.files_written = 0
        self._wait, self._max_backoff_s = wait, max_backoff_s
        self._backpressure = Backpressure("parquet", logger, stop)

    def setup(self) -> None:
        for folder in _FOLDERS.values():
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def write_batch(self, records: Sequence[Item]) -> None:
        predictions, grades, letters = _last_per_identity(records)
        if letters:
            self._write(
                self.root / "dead_letters",
                _columns_table(_SCHEMAS["dead_letters"], letters.columns),
                _letter_ids(letters),
            )
        for folder, kept in (("grades", grades), ("predictions", predictions)):
            days: dict[date, list[BaseModel]] = {}
            for record in kept:
                members = days.get(record.game_date)
                if members is None:
                    members = days[record.game_date] = []
                members.append(record)
            for day in sorted(days):
                directory = self.root / folder / f"game_date={day.isoformat()}"
                self._write(directory, _table(_SCHEMAS[folder], days[day]), _record_ids(days[day]))

    def _write(self, directory: Path, table: pa.Table, ids: list[str]) -> None:
        """Write `table` as the file its records' sorted `ids` name."""
        records = table.num_rows
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:24]
        target = directory / f"part-{digest}.parquet"
        temporary = directory / f".part-{digest}.parquet.tmp"
        delay = 0.1
        while True:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, temporary, compression=_COMPRESSION)
                os.replace(temporary, target)
                break
            except OSError as exc:
                temporary.unlink(missing_ok=True)
                if exc.errno not in _FULL:
                    raise SinkError(f"cannot write {target}: {exc}") from exc
                if not self._wait:
                    raise SinkError(
                        f"the disk of {self.root} is full ({exc}): {records} records not written"
                    ) from exc
                self._backpressure.hold(
                    f"the disk of {self.root} is full ({exc}): holding {records} records and the input "
                    "(backpressure) until there is room"
                )
                self._backpressure.check_stop(records, f"the disk of {self.root} is full: {exc}")
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
        self._backpressure.released(f"there is room on the disk of {self.root} again")
        self.files_written += 1


def _record_ids(records: Sequence[BaseModel]) -> list[str]:
    """Predictions' or grades' identities in the log: id and `as_of`, sorted."""
    times: dict[object, str] = {}  # a batch's records share few event times
    return sorted(
        f"{r.prediction_id}|{times.get(r.as_of) or times.setdefault(r.as_of, str(r.as_of))}"  # type: ignore[attr-defined]
        for r in records
    )


def _letter_ids(letters: DeadLetters) -> list[str]:
    """Dead letters' identities: where each input was read, sorted."""
    keys = zip(*(letters.columns[k] for k in _DEAD_KEY), strict=True)
    return sorted(map(_DEAD_ID.__mod__, keys))  # "|".join of each as text, at half the cost


def _last_per_identity(
    records: Sequence[Item],
) -> tuple[list[Prediction], list[Grade], DeadLetters]:
    """One record per identity in a batch, the one Postgres keeps: a prediction by id (the later
    one: a correction), a grade by key (the newer `as_of`, then the later one: a regrade); every
    dead letter. All records of a batch share one emit time, so the readers could not tell
    them apart."""
    predictions: dict[str, Prediction] = {}
    grades: dict[tuple[object, ...], Grade] = {}
    letters: list[DeadLetter | DeadLetters] = []
    for record in records:
        if isinstance(record, Prediction):
            predictions[record.prediction_id] = record
        elif isinstance(record, Grade):
            key = _KEY_OF(record.__dict__)
            held = grades.get(key)
            if held is None or record.as_of >= held.as_of:
                grades[key] = record
        elif isinstance(record, DeadLetter | DeadLetters):
            letters.append(record)
        else:
            raise SinkError(f"ParquetSink cannot write {type(record).__name__}")
    return list(predictions.values()), list(grades.values()), DeadLetters.gather(letters)


_KEY_OF = operator.itemgetter(*KEY)


_ARROW: dict[object, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    date: pa.date32(),
    AwareDatetime: pa.timestamp("us", tz="UTC"),
    bytes: pa.binary(),
}


def _arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of a record field: optional fields are nullable columns of their type,
    tuples lists, literals of their values' type."""
    origin, args = get_origin(annotation), [a for a in get_args(annotation) if a is not type(None)]
    if origin is Literal:
        return _ARROW[type(args[0])]
    if origin is tuple:
        return pa.list_(_arrow_type(args[0]))
    if origin in (Union, UnionType):
        return _arrow_type(args[0])
    return _ARROW[annotation]


def _schema(model: type[BaseModel]) -> pa.Schema:
    return pa.schema([(name, _arrow_type(f.annotation)) for name, f in model.model_fields.items()])


# one schema per folder, from the record type: a column is typed even when a batch holds only
# nulls in it (inferred from the values, it was a null column in that file)
_SCHEMAS = {folder: _schema(model) for folder, model in _MODELS.items()}


def _table(schema: pa.Schema, records: Sequence[BaseModel]) -> pa.Table:
    """The records as columns: each field read from the records' own fields (a frozen
    record's, as they are: no model_dump) in C, each column converted once (a third less than
    a row-wise `from_pylist`)."""
    fields = [record.__dict__ for record in records]
    return _columns_table(schema, {f.name: list(map(operator.itemgetter(f.name), fields)) for f in schema})


def _columns_table(schema: pa.Schema, columns: Mapping[str, list[Any]]) -> pa.Table:
    """Columns of values as the schema's table, each converted once (`_array`): the records'
    (`_table`), and the dead letters', which travel as columns (no record read back)."""
    return pa.Table.from_arrays([_array(columns[f.name], f.type) for f in schema], schema=schema)


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    """One column; a time column through its distinct values, which a batch's records share (a
    time costs Arrow 0.25 µs to convert)."""
    if not pa.types.is_timestamp(kind):
        return pa.array(values, type=kind)
    codes: dict[Any, int] = {}
    indices = [codes.setdefault(value, len(codes)) for value in values]
    return pa.array(list(codes), type=kind).take(pa.array(indices, type=pa.int32()))


def _files(root: Path, folder: str) -> list[Path]:
    pattern = "part-*.parquet" if folder == "dead_letters" else "game_date=*/part-*.parquet"
    return sorted((root / folder).glob(pattern))


def log_files(root: Path) -> list[Path]:
    """Every file of the dataset, predictions first."""
    return [path for folder in _FOLDERS.values() for path in _files(root, folder)]


def read_log(root: Path) -> Iterator[tuple[Path, list[Prediction | Grade | DeadLetter]]]:
    """Every record the dataset holds, re-deliveries included, file by file (`log_files`
    order): what a sink was given. `propstream db import` replays it into Postgres, whose
    upsert keeps the newest."""
    for path in log_files(root):
        model = _MODELS[path.relative_to(root).parts[0]]
        yield path, [model.model_validate(row) for row in pl.read_parquet(path).to_dicts()]


def _read(root: Path, folder: str) -> pl.DataFrame:
    files = _files(root, folder)
    if not files:
        return pl.DataFrame()
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    withdrawn = _withdrawn(read_predictions_log(root))
    if withdrawn:
        frame = frame.filter(~pl.col("prediction_id").is_in(withdrawn))
    order = [*KEY, "as_of", "emitted_at", "prediction_id"]
    frame = frame.sort(order, nulls_last=False).unique(list(KEY), keep="last", maintain_order=True)
    return frame.sort(list(KEY))


def _withdrawn(log: pl.DataFrame) -> list[str]:
    """Ids whose last emission withdrew them: they leave the latest table and the grades."""
    if "withdrawn" not in log.columns:
        return []
    return log.filter(pl.col("withdrawn").fill_null(False))["prediction_id"].to_list()


def read_emissions(root: Path) -> pl.DataFrame:
    """Every prediction the dataset holds, each emission of it (re-deliveries included)."""
    files = _files(root, "predictions")
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def read_predictions_log(root: Path) -> pl.DataFrame:
    """One row per prediction id, its last emission (a correction replaces what it corrects):
    the rows of `predictions_log`. At one emit time a withdrawal is the later (only an emitted
    id is withdrawn); the order of the files, named by hashes, says nothing."""
    frame = read_emissions(root)
    if frame.is_empty():
        return frame
    order = ["prediction_id", "emitted_at", *(["withdrawn"] if "withdrawn" in frame.columns else [])]
    frame = frame.sort(order, nulls_last=False, maintain_order=True)
    return frame.unique("prediction_id", keep="last", maintain_order=True).sort(["prediction_id"])


def read_latest(root: Path) -> pl.DataFrame:
    """The latest prediction per (model, player, game, book, market): the rows of `predictions_latest`."""
    return _read(root, "predictions")


def read_grades(root: Path) -> pl.DataFrame:
    """The grade per (model, player, game, book, market): the rows of `grades`."""
    return _read(root, "grades")


def read_dead_letters(root: Path) -> pl.DataFrame:
    """One row per input dead-lettered (source, partition, offset), its first delivery (a
    re-delivery is the same letter): the rows of `dead_letters`, `original` as the exact bytes."""
    files = _files(root, "dead_letters")
    if not files:
        return pl.DataFrame()
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    return frame.unique(list(_DEAD_KEY), keep="first", maintain_order=True).sort(
        list(_DEAD_KEY), nulls_last=False
    )
