"""docker/ as far as it can be checked without a Docker engine: the Docker Compose v2 client
(`make compose`) parses and normalises docker/compose.yaml, and its services, health checks,
settings, ports and mounts fit together; the Dockerfile installs every package the CLI
imports. Nothing is built or started here (no engine): docs/operations.md says so."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.stack import REPO

DOCKER = REPO / "docker"
SERVICES = {"kafka", "postgres", "train", "worker", "dashboard", "prometheus", "grafana"}
LONG_RUNNING = SERVICES - {"train"}


def _compose_client() -> list[str]:
    for candidate in (
        REPO / ".services" / "compose" / "bin" / "docker-compose",
        shutil.which("docker-compose"),
    ):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    pytest.fail("no Docker Compose v2 client: run `make compose`", pytrace=False)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker/compose.yaml as the Compose client normalises it (profiles included)."""
    result = subprocess.run(
        [
            *_compose_client(),
            "-f",
            str(DOCKER / "compose.yaml"),
            "--profile",
            "cli",
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert SERVICES | {"propstream"} == set(services)
    for name in LONG_RUNNING:
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["kafka"]["condition"] == worker_deps["postgres"]["condition"] == "service_healthy"
    assert worker_deps["train"]["condition"] == "service_completed_successfully"
    assert services["dashboard"]["depends_on"]["worker"]["condition"] == "service_healthy"
    for name, service in services.items():  # nothing listens beyond loopback on the host
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)


def test_settings_reach_the_containers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("train", "worker", "dashboard", "propstream"):
        env = services[name]["environment"]
        assert env["PROPSTREAM_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert "@postgres:5432/" in env["PROPSTREAM_POSTGRES_DSN"]
    worker = services["worker"]
    assert worker["environment"]["PROPSTREAM_METRICS_HOST"] == "0.0.0.0"
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    # Prometheus scrapes the worker where it listens, with the config and rules of ops/
    prometheus = services["prometheus"]
    mounted = {m["target"]: Path(m["source"]) for m in prometheus["volumes"] if m["type"] == "bind"}
    assert mounted["/etc/prometheus"] == REPO / "ops" / "prometheus"
    assert f'"worker:{port}"' in (mounted["/etc/prometheus"] / "prometheus.yml").read_text()
    grafana = {m["target"]: Path(m["source"]) for m in services["grafana"]["volumes"] if m["type"] == "bind"}
    assert grafana["/etc/grafana/provisioning"] == REPO / "ops" / "grafana" / "provisioning"
    assert (
        grafana["/var/lib/grafana/dashboards/propstream.json"] == REPO / "ops" / "grafana" / "propstream.json"
    )


def test_postgres_creates_the_reader_role_the_dashboard_uses(compose: dict[str, Any]) -> None:
    services = compose["services"]
    init = next(
        Path(m["source"])
        for m in services["postgres"]["volumes"]
        if m["target"].startswith("/docker-entrypoint-initdb.d/")
    )
    created = re.search(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']+)'", init.read_text())
    assert created is not None
    reader = psycopg.conninfo.conninfo_to_dict(
        services["dashboard"]["environment"]["PROPSTREAM_POSTGRES_READER_DSN"]
    )
    assert (reader["user"], reader["password"]) == created.groups()


def _first_party_imports() -> set[str]:
    """Top-level first-party packages imported by any module of the installed packages."""
    first_party = {p.name for p in REPO.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    seen: set[str] = set()
    for package in ("cli", "dashboard", "flows", "connectors", "features", "scoring", "vocabulary"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    seen.add(node.module.split(".")[0])
                elif isinstance(node, ast.Import):
                    seen |= {alias.name.split(".")[0] for alias in node.names}
    return seen & first_party


def test_dockerfile_installs_every_package_the_cli_imports() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, flags=re.MULTILINE))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert listed <= copied, f"pyproject packages the image lacks: {listed - copied}"
    imported = _first_party_imports()
    assert "cli" in imported or "dashboard" in imported
    assert imported <= copied, f"imported by the CLI but not in the image: {imported - copied}"
    assert imported <= listed, f"imported but not packaged by pyproject: {imported - listed}"
    assert 'ENTRYPOINT ["propstream"]' in dockerfile
    for setting in ("PROPSTREAM_DATA_DIR", "PROPSTREAM_MODELS_DIR", "PROPSTREAM_OUTPUT_DIR"):
        assert setting in dockerfile  # installed into site-packages, the defaults would point there
