"""The one table style of the CLI: narrow enough for an 80-column terminal.

No vertical rules, no edges and one space between columns (rich's default box and padding
spend three columns a cell): a table of eleven numbers fits in 80 columns without cutting a
cell short. Long headers are abbreviated and explained in a legend line under the table.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

__all__ = ["WIDTH", "compact_table"]

WIDTH = 80  # what every table must fit (tests/cli/test_tables.py)


def compact_table(title: str | None = None) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=0, title_justify="left")
