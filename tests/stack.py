"""Running the CLI as users do, against the real services: fresh databases, subprocesses,
and waiting for a worker to settle. Shared by the flow and dashboard tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from cli.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DAY_FROM, DAY_TO = "2025-11-05", "2025-11-11"  # a week: players learn their ids from box scores


def cli_env(kafka_bootstrap: str, topic_prefix: str, models_dir: Path, output_dir: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: the given topics, models and output folder, and no
    PROPSTREAM_* setting leaking in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPSTREAM_")}
    return env | {
        "PROPSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PROPSTREAM_TOPIC_PREFIX": topic_prefix,
        "PROPSTREAM_MODELS_DIR": str(models_dir),
        "PROPSTREAM_MARKETS": '["points"]',  # the test registry (models_dir) holds points models
        "PROPSTREAM_OUTPUT_DIR": str(output_dir),
        "PROPSTREAM_SNAPSHOT_INTERVAL_S": "1",
        "PROPSTREAM_POSTGRES_READER_DSN": Settings().postgres_reader_dsn.get_secret_value(),
    }


def database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)


def run_cli(
    env: dict[str, str], *args: str, dsn: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    run_env = env | ({"PROPSTREAM_POSTGRES_DSN": dsn} if dsn else {})
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=run_env,
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def spawn(env: dict[str, str], *args: str, dsn: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=env | {"PROPSTREAM_POSTGRES_DSN": dsn},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def fetch(dsn: str, query: str, params: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchall()  # type: ignore[arg-type]


def wait_until_stable(dsn: str, seconds: float = 6, limit: float = 240) -> int:
    """Wait until the prediction log stops growing: the worker has caught up."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            count = fetch(dsn, "SELECT count(*) FROM predictions_log")[0][0]
        except psycopg.errors.UndefinedTable:
            count = -1
        if count != last:
            last, since = count, time.monotonic()
        elif count > 0 and time.monotonic() - since > seconds:
            return count
        time.sleep(0.5)
    raise AssertionError(f"the worker did not settle within {limit}s (log rows: {last})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load(env: dict[str, str], *extra: str, days: tuple[str, str] = (DAY_FROM, DAY_TO)) -> None:
    run_cli(env, "load", "--from", days[0], "--to", days[1], "--partitions", "3", *extra)


def reader_dsn(dsn: str) -> str:
    """The read-only role's DSN for the database `dsn` names."""
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    return psycopg.conninfo.make_conninfo(Settings().postgres_reader_dsn.get_secret_value(), dbname=name)


EVENTS_IN = re.compile(r"events in ([\d,]+) = applied ([\d,]+) \+ dead-lettered ([\d,]+): counts reconcile")


def events_in(output: str) -> int:
    match = EVENTS_IN.search(output)
    assert match, output[-3000:]
    return int(match.group(1).replace(",", ""))


def stop_worker(worker: subprocess.Popen[str], sig: signal.Signals, *, frozen: bool = False) -> str:
    """Stop a worker with `sig` and return its output once it has stopped cleanly (exit 0, no
    traceback, the stop named). `frozen`: it was left stopped by `run_until`, and acts on the
    signal as it goes on."""
    worker.send_signal(sig)
    if frozen:
        worker.send_signal(signal.SIGCONT)
    try:
        output = worker.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        worker.kill()
        raise
    assert worker.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "panicked" not in output, output[-3000:]
    assert f"worker stopped on {sig.name}" in output, output[-3000:]
    return output


def log_rows(db: str) -> int:
    """The rows of the worker's log; -1 if it cannot say (not migrated yet, the database away,
    or a migration's lock held). It never waits for a lock: a worker `run_until` stopped inside
    its migration holds one, and a look that waited for it hung the fault matrix."""
    try:
        with psycopg.connect(db, options="-c lock_timeout=200") as conn:
            return int(conn.execute("SELECT count(*) FROM predictions_log").fetchall()[0][0])
    except psycopg.Error:
        return -1


SLICE_S = 0.02  # how long `run_until` lets a worker run between two looks


def run_until(worker: subprocess.Popen[str], condition: Callable[[], bool], what: str) -> None:
    """Run `worker` in slices of `SLICE_S` (SIGSTOP, look, SIGCONT) until `condition` holds,
    and leave it stopped there: signal it (`stop_worker(..., frozen=True)`), kill it, or SIGCONT
    it. Looking between slices finds a moment of a catch-up however fast it is on this machine:
    looks while it ran came too late once a catch-up took 1.9 s (2026-11-28), and so did slices
    of 0.05 s."""
    deadline = time.monotonic() + 120
    while True:
        worker.send_signal(signal.SIGSTOP)
        if condition():
            return
        assert worker.poll() is None and time.monotonic() < deadline, (
            f"the worker exited or stalled before {what}"
        )
        worker.send_signal(signal.SIGCONT)
        time.sleep(SLICE_S)


def caught_up(db: str, clean: str, limit: float = 240) -> None:
    """Wait until the worker has written as many latest predictions and grades as the
    uninterrupted run, then until its log stops growing."""
    counts = "SELECT (SELECT count(*) FROM predictions_latest), (SELECT count(*) FROM grades)"
    target, deadline = fetch(clean, counts), time.monotonic() + limit
    while fetch(db, counts) != target and time.monotonic() < deadline:
        time.sleep(1)
    wait_until_stable(db, seconds=3)


class Gate:
    """127.0.0.1:`port` forwarded to `target` while open; refused while closed (a server gone
    away, without stopping one others use)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._server: socket.socket | None = None
        self._links: list[socket.socket] = []

    def open(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in self._links:
            with contextlib.suppress(OSError):
                link.close()
        self._links.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.close()


@dataclass(frozen=True)
class PrivateServices:
    """A Kafka and a PostgreSQL of one's own (scripts/services.sh in a folder of their own, on
    free ports), for tests that stop and start them: the shared ones are never touched."""

    root: Path
    kafka_port: int
    controller_port: int
    pg_port: int

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://propstream:propstream@127.0.0.1:{self.pg_port}/propstream"

    @property
    def reader_dsn(self) -> str:
        return f"postgresql://propstream_reader:propstream_reader@127.0.0.1:{self.pg_port}/propstream"

    def env(self, topic_prefix: str, models_dir: Path, output_dir: Path) -> dict[str, str]:
        """`cli_env` pointed at these services."""
        env = cli_env(self.kafka_bootstrap, topic_prefix, models_dir, output_dir)
        return env | {"PROPSTREAM_POSTGRES_READER_DSN": self.reader_dsn}

    def run(self, action: str) -> None:
        """`kafka-start`, `kafka-stop`, `postgres-start`, `postgres-stop`, `start` or `stop`."""
        env = os.environ | {
            "PROPSTREAM_SERVICES_DIR": str(self.root),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PG_PORT": str(self.pg_port),
        }
        done = subprocess.run(
            [str(REPO / "scripts" / "services.sh"), action],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"services.sh {action}: {done.stderr[-3000:]}"


@contextlib.contextmanager
def private_services() -> Iterator[PrivateServices]:
    """Start a private Kafka and PostgreSQL (about 10-20 s), yield them, stop and remove them.
    The Kafka jars are the shared services' (no second Maven resolution) when they are there."""
    root = Path(tempfile.mkdtemp(prefix="propstream-services-"))
    root.chmod(0o755)  # the postgres user (the server runs as it under root) must reach its folder
    shared_libs = Path(os.environ.get("PROPSTREAM_SERVICES_DIR", REPO / ".services")) / "kafka" / "libs"
    if (shared_libs / ".resolved").exists():
        (root / "kafka").mkdir()
        (root / "kafka" / "libs").symlink_to(shared_libs)
    services = PrivateServices(root, free_port(), free_port(), free_port())
    try:
        services.run("start")
        yield services
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            services.run("stop")
        shutil.rmtree(root, ignore_errors=True)
