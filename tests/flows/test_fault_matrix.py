"""The fault matrix against a Kafka and a PostgreSQL of this module's own (tests/fault_matrix.py
says what each scenario breaks and checks): one test per scenario, on one load of three shipped
days and one clean run to compare with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault_matrix import SCENARIOS
from tests.matrix_harness import Matrix, prepare
from tests.stack import private_services


@pytest.fixture(scope="module")
def matrix(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with private_services() as services:
        yield prepare(services, models_dir, tmp_path_factory.mktemp("matrix"))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_matrix(matrix: Matrix, name: str) -> None:
    print(f"{name}: {SCENARIOS[name](matrix)}")
