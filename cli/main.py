"""`propstream <command>`: the entry point. Parse the command line (cli/parser.py), refuse a bad
--from/--to before anything starts, build the settings from PROPSTREAM_* env vars then flags, and
hand over to the command's handler (cli/*commands.py); an error ends as one line and an exit
code (cli/errors.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError as PydanticSettingsError
from rich.console import Console

from cli import commands, data_commands, database_commands, model_commands
from cli.errors import explain, preflight, settings_error
from cli.logs import configure
from cli.parser import build_parser
from cli.settings import Settings
from vocabulary.window import Window, WindowError, parse_bound

__all__ = ["main"]

logger = logging.getLogger("propstream")


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each destination's flag (`kafka_bootstrap` → `--bootstrap`), over every subcommand."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings:
            flags.setdefault(action.dest, max(action.option_strings, key=len))
        for sub in (action.choices or {}).values() if isinstance(action.choices, dict) else ():
            for dest, flag in _flags(sub).items():
                flags.setdefault(dest, flag)
    return flags


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    fields = set(Settings.model_fields)
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    try:
        return Settings(**overrides)
    except (ValidationError, PydanticSettingsError) as exc:
        flags = _flags(parser)
        raise settings_error(exc, {k: flags.get(k, k) for k in overrides}) from exc


def _window_problem(start: object, end: object) -> str | None:
    if isinstance(start, str | None) and isinstance(end, str | None):  # a Window (replay)
        for flag, bound, is_end in (("--from", start, False), ("--to", end, True)):
            try:
                if bound:
                    parse_bound(bound, end=is_end)
            except WindowError as exc:
                return f"argument {flag}: {exc}"
        try:
            Window.parse(start, end)
        except WindowError as exc:
            return str(exc)
    elif isinstance(start, date) and isinstance(end, date) and start > end:  # game dates
        return f"--from {start} is after --to {end}: swap them"
    return None


def _check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A --from/--to that is not a window (not a date or zoned time, or --from after --to) is
    a usage error of one line, before anything starts."""
    problem = _window_problem(getattr(args, "start", None), getattr(args, "end", None))
    if problem:
        prog = f"{parser.prog} {args.command}"
        parser.exit(2, f"{prog}: error: {problem} (see {prog} --help)\n")


COMMANDS = {
    "replay": commands.replay,
    "worker": commands.worker,
    "migrate": database_commands.migrate,
    "import": database_commands.import_parquet,
    "demo": data_commands.demo,
    "report": data_commands.data_report,
    "load": data_commands.load,
    "train": model_commands.train,
    "evaluate": model_commands.evaluate,
    "dashboard": database_commands.serve_dashboard,
    "health": database_commands.slate_health,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    _check_window(parser, args)
    console = Console(width=None if sys.stdout.isatty() else 150)
    configure(args.log_level or ("DEBUG" if args.debug else "INFO"), args.log_format or "text")
    settings: Settings | None = None
    try:
        settings = _settings(parser, args)
        configure(args.log_level or ("DEBUG" if args.debug else settings.log_level), settings.log_format)
        command: str = {"data": args.__dict__.get("data_command"), "db": args.__dict__.get("db_command")}.get(
            args.command
        ) or args.command
        preflight(command, args, settings)
        return COMMANDS[command](console, settings, args)
    except KeyboardInterrupt:
        logger.warning("interrupted")
        return 130
    except Exception as exc:
        message, code = explain(exc, settings)
        logger.error("%s", message, exc_info=exc if args.debug else None)
        return code


if __name__ == "__main__":
    sys.exit(main())
