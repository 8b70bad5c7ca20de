"""Dead letters as columns: what the flow makes of the inputs it refuses, and what the sinks
write, without a record object per letter.

A replay of the shipped history with the points models dead-letters 89,279 of its 167,037
inputs (the other markets' props). As `DeadLetter` records, each letter was built (6.4 µs in
the replay) and then read back field by field into the Parquet sink's columns (6.7 µs, most
of it cache misses over 89,279 scattered objects): 17% of the replay's CPU for the letters
alone (docs/operations.md). `DeadLetters` holds a batch's letters as one list per field of
`DeadLetter`, filled in as each is refused; the Parquet sink makes each list one Arrow array,
PostgreSQL copies its rows, and a consumer that wants records (the dead-letter topic, a
test) asks for `letters()`, the very records the validating constructor builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from vocabulary.events import SCHEMA_VERSION, DeadLetter, complete_letter
from vocabulary.records import construct

__all__ = ["FIELDS", "DeadLetters", "each_record"]

FIELDS: tuple[str, ...] = tuple(DeadLetter.model_fields)  # the columns, in the record's order


class DeadLetters:
    """A batch of dead letters, one list per field of `DeadLetter` (`columns`, in `FIELDS`
    order). Built by `add` (a refused input) and `extend` (letters already records: a file
    row that never became an event, the rows of the Parquet log)."""

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in FIELDS}

    def __len__(self) -> int:
        return len(self.columns["source"])

    def add(
        self,
        *,
        source: str,
        partition: int | None,
        offset: int | None,
        original: bytes,
        reason: str,
        detail: str,
    ) -> None:
        """The dead letter of an input the flow read (its topic, Kafka's position, its bytes)
        for a reason the flow names: the values the validating constructor would hold,
        without validating values that are ours."""
        values = {
            "schema_version": SCHEMA_VERSION,
            "kind": "dead_letter",
            "source": source,
            "partition": partition,
            "offset": offset,
            "rows": 1,
            "original": original,
            "reason": reason,
            "detail": detail,
            "preview": "",
            "size": -1,
            "sha256": "",
        }
        self._append(complete_letter(values))

    def extend(self, letters: Iterable[DeadLetter | DeadLetters]) -> None:
        """Add letters that are records already, or other batches' columns."""
        for item in letters:
            if isinstance(item, DeadLetters):
                for name, column in self.columns.items():
                    column.extend(item.columns[name])
            else:
                self._append(item.__dict__)

    def _append(self, values: dict[str, Any]) -> None:
        for name, column in self.columns.items():
            column.append(values[name])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each letter's values by field name."""
        for values in zip(*self.columns.values(), strict=True):
            yield dict(zip(FIELDS, values, strict=True))

    def letters(self) -> list[DeadLetter]:
        """The letters as records (complete and storable already: not validated again)."""
        return [construct(DeadLetter, values) for values in self.rows()]

    @classmethod
    def gather(cls, items: Iterable[DeadLetter | DeadLetters]) -> DeadLetters:
        """One batch of every letter among `items` (what a sink was given)."""
        batch = cls()
        batch.extend(items)
        return batch


T = TypeVar("T")


def each_record(items: Iterable[T | DeadLetters]) -> Iterator[T | DeadLetter]:
    """The records among `items`, a batch of dead letters as its letters (for a consumer that
    takes one record at a time: the dead-letter topic, a test)."""
    for item in items:
        if isinstance(item, DeadLetters):
            yield from item.letters()
        else:
            yield item
