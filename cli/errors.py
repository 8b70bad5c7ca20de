"""One line for every failure a user can meet: what went wrong and what to do about it.

`explain` turns an exception (or the first cause in its chain that it knows) into that line
and an exit code; `main()` logs the line, and the traceback only with `--debug`. The
`preflight` checks run before a command starts, so a broker or database that is down, or a
metrics port that is taken, fails in seconds rather than halfway through a run.
"""

from __future__ import annotations

import argparse
import errno
import re
import socket
from collections.abc import Iterator, Mapping

import psycopg
from confluent_kafka import KafkaException
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError as PydanticSettingsError

from cli.commands import replay_writes_postgres
from cli.settings import Settings
from connectors.kafka_config import REACH_TIMEOUT_S, check_reachable
from vocabulary.errors import PropstreamError
from vocabulary.window import WindowError

__all__ = [
    "PostgresUnreachableError",
    "SettingsError",
    "UsageError",
    "explain",
    "preflight",
    "settings_error",
]

ENV_PREFIX = Settings.model_config.get("env_prefix", "PROPSTREAM_")


class UsageError(PropstreamError):
    """The command line asks for something that cannot be done (exit code 2)."""


class SettingsError(UsageError):
    """A setting (an env var or a flag) with a value the settings refuse."""


class PostgresUnreachableError(PropstreamError):
    """No PostgreSQL answered at the configured DSN."""


def _env(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def settings_error(exc: ValidationError | PydanticSettingsError, flags: Mapping[str, str]) -> SettingsError:
    """Name the env var (`PROPSTREAM_PARTITIONS`) or, for a value given as a flag, the flag
    (`--partitions`) of each refused setting, with the value and the rule it breaks."""
    if isinstance(exc, PydanticSettingsError):
        found = re.search(r'field "(\w+)"', str(exc))
        name = _env(found.group(1)) if found else "a PROPSTREAM_* variable"
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        return SettingsError(f"invalid setting {name}: cannot parse its value{cause}; fix or unset it")
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if not field:  # a rule over several fields (the champion must be one of the models)
            problems.append(f"{error['msg'].removeprefix('Value error, ')} (fix PROPSTREAM_* or the flags)")
            continue
        info = Settings.model_fields.get(field)
        secret = info is not None and info.annotation is SecretStr
        value = "" if secret or "input" not in error else f"={error['input']!r}"
        if field in flags:
            problems.append(f"{flags[field]}{value}: {error['msg']} (fix the flag)")
        else:
            default = (
                ""
                if secret or info is None
                else f": the default is {info.get_default(call_default_factory=True)!r}"
            )
            problems.append(f"{_env(field)}{value}: {error['msg']} (fix or unset it{default})")
    return SettingsError(f"invalid setting {'; '.join(problems)}")


def _postgres_place(dsn: str) -> str:
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(a DSN that does not parse)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _postgres_reason(exc: psycopg.Error) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first.rsplit(": ", 1)[-1].strip() or first


def check_postgres(dsn: SecretStr, variable: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Connect once; `PostgresUnreachableError` names the server (never the password) and the fix."""
    secret = dsn.get_secret_value()
    try:
        psycopg.conninfo.conninfo_to_dict(secret)
    except psycopg.ProgrammingError as exc:
        raise SettingsError(
            f"{variable} is not a connection string ({_postgres_reason(exc)}): set it like "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from exc
    try:
        with psycopg.connect(secret, connect_timeout=max(1, round(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise PostgresUnreachableError(
            f"cannot reach PostgreSQL at {_postgres_place(secret)} ({_postgres_reason(exc)}): start it "
            f"(make services) or set {variable} to a database that answers"
        ) from exc


def check_port_free(host: str, port: int) -> None:
    """The metrics server binds `host`:`port`; a port already taken fails here, in one line."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror}): stop what holds the port "
                "or choose a free one with --metrics-port or PROPSTREAM_METRICS_PORT "
                "(and PROPSTREAM_METRICS_HOST for the address)"
            ) from exc


def preflight(command: str, args: argparse.Namespace, settings: Settings) -> None:
    """Check what `command` needs before it starts: the broker, the database, the metrics port."""
    source = getattr(args, "source", None)
    kafka = command in ("load", "worker") or (command == "replay" and source == "kafka")
    postgres = command in ("migrate", "import", "worker", "health") or (
        command == "replay" and replay_writes_postgres(args)
    )
    if command in ("replay", "worker") and settings.metrics_port:
        check_port_free(settings.metrics_host, settings.metrics_port)
    if kafka:
        check_reachable(settings.kafka_bootstrap)
    if postgres:
        check_postgres(settings.postgres_dsn, _env("postgres_dsn"))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _known(exc: BaseException, settings: Settings | None) -> tuple[str, int] | None:
    bootstrap = settings.kafka_bootstrap if settings else "the bootstrap address"
    if isinstance(exc, UsageError | WindowError):
        return str(exc), 2
    if isinstance(exc, PropstreamError):
        return str(exc), 1
    if isinstance(exc, KafkaException):
        return (
            f"Kafka failed ({exc.args[0].str()}): check the broker at {bootstrap} (make services) "
            "and PROPSTREAM_KAFKA_BOOTSTRAP",
            1,
        )
    if isinstance(exc, psycopg.OperationalError):
        return (
            f"PostgreSQL failed ({_postgres_reason(exc)}): check that it is running (make services) "
            "and PROPSTREAM_POSTGRES_DSN",
            1,
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"address already in use ({exc}): stop what holds the port or choose another", 1
    return None


def explain(exc: BaseException, settings: Settings | None) -> tuple[str, int]:
    """The line to print for `exc` and the exit code: the first error in its chain of causes
    that names a cause and a fix, or its type and message with a pointer to `--debug`."""
    for link in _chain(exc):
        known = _known(link, settings)
        if known is not None:
            return _one_line(known[0]), known[1]
    return _one_line(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)"), 1
