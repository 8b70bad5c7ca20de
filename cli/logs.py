"""Where the log goes and how it looks.

- `text` on a terminal: rich's coloured columns, fitted to the terminal's width;
- `text` elsewhere (a file, a pipe, a container's log): one plain line per record, never
  wrapped: `2026-11-27T10:00:00.123+00:00 INFO propstream: message`;
- `json`: one JSON object per line: `time` (ISO 8601, UTC), `level`, `logger`, `message`,
  and `exception` when a traceback goes with it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["HANDLER_NAME", "LOG_FORMATS", "JsonFormatter", "LogFormat", "PlainFormatter", "configure"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
HANDLER_NAME = "propstream"  # the one handler `configure` installs (and replaces)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class PlainFormatter(logging.Formatter):
    """One line per record (a traceback, with --debug, follows on lines of its own)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure(level: str, fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Log at `level` through one handler for `fmt` on `stream` (stderr), replacing the one
    an earlier call installed."""
    stream = stream or sys.stderr
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    elif stream.isatty():
        handler = RichHandler(console=Console(file=stream), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(PlainFormatter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # others' (pytest's) stay
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
