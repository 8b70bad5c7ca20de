"""Decoding the wire: µs per input event for the hot path's `decode` (msgspec with the models'
rules) beside pydantic's JSON mode (`validate`, the schema of record and the path before), on
events as the loader encodes them: CPU time, best of `rounds` passes each, alternating.
`make bench` gives it the shipped history's events (props of a known player);
`python -m bench.decode_bench` runs it alone on every event of the shipped history."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from cli.settings import SHIPPED_DATA
from connectors.adapters import read_records
from connectors.files import DataLayout
from connectors.serde import decode, encode, validate
from vocabulary.events import InputEvent

__all__ = ["run"]


def _us_per_event(
    decoder: Callable[[bytes, type[BaseModel]], BaseModel], wire: Sequence[tuple[bytes, type[BaseModel]]]
) -> float:
    t0 = time.process_time()  # CPU time: the machine is shared
    for value, model in wire:
        decoder(value, model)
    return 1e6 * (time.process_time() - t0) / len(wire)


def run(events: Sequence[InputEvent], rounds: int = 3) -> dict[str, float]:
    wire = [(encode(event), type(event)) for event in events]
    times: dict[str, list[float]] = {"decode_us_per_event": [], "decode_pydantic_us_per_event": []}
    for _ in range(rounds):  # side by side, so both meet the same neighbours
        times["decode_us_per_event"].append(_us_per_event(decode, wire))
        times["decode_pydantic_us_per_event"].append(_us_per_event(validate, wire))
    return {key: min(values) for key, values in times.items()}


if __name__ == "__main__":
    shipped = [r.event for r in read_records(DataLayout.discover(SHIPPED_DATA)) if r.event is not None]
    for key, value in run(shipped).items():
        print(f"{key} {value:.2f} ({len(shipped):,} events)")  # noqa: T201
    sys.exit(0)
