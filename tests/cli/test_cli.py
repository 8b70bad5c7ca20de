"""The CLI as a user meets it: help, the demo, clear errors for bad data folders and settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True
    )
    for word in ("demo", "load", "data", "PROPSTREAM_KAFKA_BOOTSTRAP", "--data DIR"):
        assert word in result.stdout
    load_help = subprocess.run(
        [sys.executable, "-m", "cli.main", "load", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--from", "--to", "--speed", "--max-speed", "--partitions", "--data"):
        assert flag in load_help


def test_demo_prints_validation_and_identity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "121,148" in out  # prop rows of every market, all valid
    assert "80.6%" in out  # prop player-games matched to a box score
    assert "away_team:unknown_team" in out


def test_data_report_json(tmp_path: Path, day_folder: Path) -> None:
    target = tmp_path / "report.json"
    assert main(["data", "report", "--data", str(day_folder), "--json", str(target)]) == 0
    text = target.read_text()
    assert '"prop_player_games"' in text and '"player_match_rate"' in text


def test_missing_data_folder_is_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["demo", "--data", str(tmp_path / "missing")]) == 1
    assert "does not exist" in caplog.text


def test_bad_setting_from_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PROPSTREAM_PARTITIONS", "zero")
    assert main(["demo"]) == 2
    assert "PROPSTREAM_PARTITIONS" in caplog.text


def test_replay_of_missing_topics_is_a_clear_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    monkeypatch.setenv("PROPSTREAM_TOPIC_PREFIX", "absent.")
    assert main(["replay", "--source", "kafka"]) == 1
    assert "does not exist" in caplog.text and "propstream load" in caplog.text


def test_unreachable_kafka_fails_with_a_hint(caplog: pytest.LogCaptureFixture, day_folder: Path) -> None:
    code = main(
        ["load", "--data", str(day_folder), "--bootstrap", "127.0.0.1:1", "--topic-prefix", "nowhere."]
    )
    assert code == 1
    assert "make services" in caplog.text
