"""Identity: name normalisation, the directory, and the report's figures on the shipped data."""

from __future__ import annotations

import pytest

from connectors.adapters import Record
from features.identity import PlayerDirectory, identity_report
from tests.vocabulary.test_events import BOX
from vocabulary.errors import UnknownPlayerError
from vocabulary.events import BoxScore
from vocabulary.keys import normalize_name
from vocabulary.teams import resolve_team


@pytest.mark.parametrize(
    ("book", "nba"),
    [
        ("Vincent Williams Jr", "vincent williams"),
        ("Jaime Jaquez Jr.", "jaime jaquez"),
        ("Trey Murphy III", "trey murphy"),
        ("Kel'el Ware", "kelel ware"),
        ("Nikola Jokić", "nikola jokic"),
        ("Shai Gilgeous-Alexander", "shai gilgeous alexander"),
        ("  LaMelo   Ball ", "lamelo ball"),
        ("P.J. Washington", "pj washington"),
    ],
)
def test_normalize_name(book: str, nba: str) -> None:
    assert normalize_name(book) == nba


def _box(player_id: int, name: str) -> BoxScore:
    return BoxScore.model_validate(BOX | {"player_id": player_id, "player_name": name})


def test_directory_resolves_spellings_and_aliases() -> None:
    directory = PlayerDirectory.from_box_scores(
        [_box(1, "Herbert Jones"), _box(2, "Vince Williams Jr."), _box(3, "Jaime Jaquez Jr.")]
    )
    assert directory.resolve("Herb Jones") == 1
    assert directory.resolve("Vincent Williams Jr") == 2
    assert directory.resolve("Jaime Jaquez Jr") == 3
    with pytest.raises(UnknownPlayerError) as caught:
        directory.resolve("Cooper Flagg")
    assert caught.value.reason == "unknown_player"


def test_directory_refuses_an_ambiguous_name() -> None:
    directory = PlayerDirectory.from_box_scores([_box(1, "Marcus Morris"), _box(2, "Marcus Morris Sr.")])
    with pytest.raises(UnknownPlayerError) as caught:
        directory.resolve("Marcus Morris")
    assert caught.value.reason == "ambiguous_player"


def test_team_spellings() -> None:
    assert resolve_team("LA Clippers") == resolve_team("Los Angeles Clippers") == resolve_team("lac") == "LAC"
    assert resolve_team("Bendigo Braves") is None


def test_identity_report_on_shipped_data(shipped_records: list[Record]) -> None:
    events = [r.event for r in shipped_records if r.event is not None]
    directory = PlayerDirectory.from_box_scores(e for e in events if isinstance(e, BoxScore))
    report = identity_report(events, directory)

    assert len(directory) == 435  # nba.com ids with a box score in either season
    assert report.prop_player_games == 2852  # every market's props
    assert report.prop_player_games_resolved == 2410
    assert report.prop_player_games_matched == 2299
    assert report.player_match_rate == pytest.approx(
        2299 / 2852, abs=1e-4
    )  # the brief's careful normalisation: ~79%
    assert report.odds_games == 1517
    assert report.odds_games_in_schedule == 1512
    assert report.box_score_games == report.box_score_games_in_schedule == 1421
    # postponed games (LA fires, Atlanta ice, New Orleans snow) and two tentatively dated playoff games
    assert report.unscheduled_games == [
        "20250109-CHA@LAL",
        "20250111-HOU@ATL",
        "20250122-MIL@NOP",
        "20250419-GSW@HOU",
        "20250505-IND@CLE",
    ]
    unresolved = dict(report.unresolved)
    assert len(unresolved) == 60
    assert unresolved["Cooper Flagg"] == 13  # a 2025 rookie: absent from the shipped box scores
    for alias in ("Herb Jones", "Vincent Williams Jr", "Nicolas Claxton"):
        assert alias not in unresolved
