"""Per-entity state rules on small hand-made cases."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from features.history import REST_CAP_DAYS, PlayerHistory
from features.market import PropMarket
from features.odds import devig_over, implied_probability, profit_per_unit
from features.schema import FEATURE_NAMES, PLAYER_FEATURES, FeatureVector, QualityGate, Target
from tests.vocabulary.test_events import BOX, PROP
from vocabulary.events import BoxScore, PropLine


def _box(
    day: date, points: int = 10, team: str = "LAC", opponent: str = "UTA", minutes: float = 30.0
) -> BoxScore:
    return BoxScore.model_validate(
        BOX
        | {"game_date": day, "points": points, "fgm": 0, "fg3m": 0, "ftm": points, "fta": points}
        | {"team": team, "opponent": opponent, "minutes": minutes}
    )


def _player(
    history: PlayerHistory, day: date, home: str = "LAC", away: str = "UTA"
) -> dict[str, tuple[float, str]]:
    values, provenance, _, _ = history.features(day, home, away)
    return dict(zip(PLAYER_FEATURES, zip(values, provenance, strict=True), strict=True))


def test_rest_is_capped_with_a_long_break_flag() -> None:
    history = PlayerHistory()
    history.add(_box(date(2025, 2, 12)))
    after_all_star = _player(history, date(2025, 2, 24))
    assert after_all_star["rest_days"] == (REST_CAP_DAYS, "ok")
    assert after_all_star["long_break"] == (1.0, "ok")
    assert _player(history, date(2025, 2, 13))["back_to_back"] == (1.0, "ok")
    assert _player(history, date(2025, 2, 14))["rest_days"] == (2.0, "ok")


def test_windows_season_and_defaults() -> None:
    history = PlayerHistory()
    assert _player(history, date(2025, 11, 1))["pts_mean_3"][1] == "default:no_history"
    assert _player(history, date(2025, 11, 1))["games_played_season"] == (0.0, "ok")
    for i, points in enumerate([10, 20, 30, 40]):
        history.add(_box(date(2025, 4, 1) + timedelta(days=i), points))  # last season
    history.add(_box(date(2025, 10, 25), 6))  # this season
    f = _player(history, date(2025, 11, 1))
    assert f["pts_mean_3"] == ((40 + 30 + 6) / 3, "ok")
    assert f["pts_mean_10"] == ((10 + 20 + 30 + 40 + 6) / 5, "ok")  # windows cross the season boundary
    assert f["pts_mean_season"] == (6.0, "ok")
    assert f["games_played_season"] == (1.0, "ok")
    weights = [0.7**j for j in range(5)]
    assert math.isclose(
        f["pts_ewm"][0], sum(w * x for w, x in zip(weights, [6, 40, 30, 20, 10], strict=True)) / sum(weights)
    )
    assert _player(history, date(2025, 10, 1))["pts_mean_season"][1] == "default:no_season_games"


def test_zero_minute_games_are_not_games_played() -> None:
    history = PlayerHistory()
    assert not history.add(_box(date(2025, 11, 1), minutes=0.0, points=0))
    assert len(history) == 0


def test_a_traded_player_has_no_side() -> None:
    history = PlayerHistory()
    history.add(_box(date(2025, 11, 1), team="LAC", opponent="UTA"))
    value, provenance = _player(history, date(2025, 11, 3), home="BOS", away="NYK")["home"]
    assert math.isnan(value) and provenance == "default:team_not_in_game"


def _prop(
    ts_hours: float, line: float, over: float = -110, under: float | None = -110, main: bool = True
) -> PropLine:
    ts = datetime(2025, 11, 1, 12, tzinfo=UTC) + timedelta(hours=ts_hours)
    return PropLine.model_validate(
        PROP | {"ts": ts, "line": line, "over_price": over, "under_price": under, "is_main": main}
    )


def test_market_rescoring_rule_and_stale_quotes() -> None:
    market = PropMarket.of(_prop(0, 24.5))
    assert market.apply(_prop(0, 24.5))  # first main line: score it
    assert not market.apply(_prop(0, 24.5))  # an exact re-send: nothing new
    assert market.apply(_prop(1, 24.5))  # the same prices re-quoted later: the main's time moves
    assert not market.apply(_prop(1, 25.5, main=False))  # an alternate line: the main is unchanged
    assert market.apply(_prop(2, 24.5, over=-120, under=100))  # price move
    assert market.apply(_prop(3, 25.5))  # line move
    assert not market.apply(_prop(2.5, 23.5))  # stale: older than the current main
    values, provenance = market.features("draftkings", 25.5)
    names = ("line", "book_p_over", "book_main_line", "book_line_move")
    assert dict(zip(names, values[:4], strict=False)) == {
        "line": 25.5,
        "book_p_over": 0.5,
        "book_main_line": 25.5,
        "book_line_move": 1.0,
    }
    assert provenance[:4] == ["ok"] * 4


def test_one_sided_quote_has_no_devigged_probability() -> None:
    market = PropMarket.of(_prop(0, 24.5, under=None))
    market.apply(_prop(0, 24.5, under=None))
    values, provenance = market.features("draftkings", 24.5)
    assert math.isnan(values[1]) and provenance[1] == "default:one_sided_quote"
    assert provenance[7] == "default:no_two_sided_main"


def test_odds_arithmetic() -> None:
    assert math.isclose(implied_probability(-110), 110 / 210)
    assert math.isclose(implied_probability(150), 0.4)
    assert math.isclose(devig_over(-110, -110), 0.5)
    assert math.isclose(devig_over(-150, 130), (150 / 250) / (150 / 250 + 100 / 230))
    assert math.isclose(profit_per_unit(150), 1.5) and math.isclose(profit_per_unit(-125), 0.8)


def test_quality_gate_reasons_never_block_the_vector() -> None:
    target = Target(1, "20251101-UTA@LAC", "draftkings", 24.5)
    values = [1.0] * len(FEATURE_NAMES)
    values[FEATURE_NAMES.index("n_books")] = 1.0
    provenance = ["ok"] * len(FEATURE_NAMES)
    provenance[0] = provenance[1] = "default:no_history"
    vector = FeatureVector(target, tuple(values), tuple(provenance), history_games=2, as_of=datetime.now(UTC))
    assert QualityGate().reasons(vector) == ("defaulted_features>1", "history_games<3")
    assert vector.defaulted == ("pts_mean_3=no_history", "pts_mean_5=no_history")
