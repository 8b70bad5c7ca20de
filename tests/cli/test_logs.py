"""Log lines: plain and never wrapped off a terminal, one JSON object a line with
--log-format json, rich's columns only on a terminal."""

from __future__ import annotations

import io
import json
import logging

from rich.logging import RichHandler

from cli.logs import HANDLER_NAME, configure

LONG = "resuming 16 input partitions in timestamp order at offsets " + ", ".join(
    f"odds.props#{p}:{p * 1000}" for p in range(16)
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_are_not_wrapped(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure("INFO", "text", stream)
    logging.getLogger("propstream").info("%s", LONG)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) > 300
    assert lines[0].endswith(f" INFO propstream: {LONG}")


def test_json_lines(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure("INFO", "json", stream)
    logging.getLogger("propstream").warning("%s", LONG)
    logging.getLogger("librdkafka").debug("not at INFO")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record == {"time": record["time"], "level": "WARNING", "logger": "propstream", "message": LONG}
    assert record["time"].endswith("+00:00")


def test_a_terminal_gets_rich_and_a_second_call_replaces_the_first(root_logger: logging.Logger) -> None:
    configure("INFO", "text", _Terminal())
    configure("DEBUG", "text", _Terminal())
    ours = [h for h in root_logger.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1 and isinstance(ours[0], RichHandler)
    assert root_logger.level == logging.DEBUG
