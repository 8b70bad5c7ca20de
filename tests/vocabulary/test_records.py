"""`construct`, the hot path's record builder: the record validation builds, without validating,
and one fields set shared by the records of a type, which no record can change."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from connectors.adapters import Record
from connectors.serde import encode, validate
from vocabulary.events import PropLine
from vocabulary.records import construct


def test_a_constructed_record_is_the_validated_one(shipped_records: list[Record]) -> None:
    events = [r.event for r in shipped_records if isinstance(r.event, PropLine)][:200]
    for event in events:
        validated = validate(encode(event), PropLine)
        built = construct(PropLine, dict(validated.__dict__))
        assert built == validated and built.model_dump() == validated.model_dump()
        assert built.model_fields_set == validated.model_fields_set == set(PropLine.model_fields)
        assert built.game_key == validated.game_key and hash(built) == hash(validated)


def test_the_shared_fields_set_stays_each_records_own(shipped_records: list[Record]) -> None:
    """What could change a record's fields set (a copy with an update, an assignment, which a
    frozen record refuses) leaves every record of the type with all its fields set."""
    first, second = [r.event for r in shipped_records if isinstance(r.event, PropLine)][:2]
    a, b = construct(PropLine, dict(first.__dict__)), construct(PropLine, dict(second.__dict__))
    moved = a.model_copy(update={"line": a.line + 1})
    assert moved.line == a.line + 1 and b.line == second.line
    assert a.model_fields_set == b.model_fields_set == set(PropLine.model_fields)
    with pytest.raises(Exception, match="frozen"):
        a.line = 1.0  # type: ignore[misc]
    assert a.model_fields_set == set(PropLine.model_fields)


def test_construct_refuses_a_record_type_that_is_not_frozen() -> None:
    class Mutable(BaseModel):
        x: int

    with pytest.raises(TypeError, match="frozen records only"):
        construct(Mutable, {"x": 1})
