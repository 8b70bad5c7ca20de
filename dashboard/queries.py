"""What the dashboard reads, as parameterised SQL over the read-only role.

Every connection is opened read-only (`conn.read_only`) on top of the reader role's grants,
so a bug here cannot write. Values are always bound parameters; the only identifiers are
fixed in this module. A `market` of None means every market.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import SecretStr

from vocabulary.records import Prediction

__all__ = ["Reader"]

_PREDICTION_COLUMNS = ", ".join(f"p.{name}" for name in Prediction.model_fields)  # the record's columns
_MARKET = "(%(market)s::text IS NULL OR p.market = %(market)s)"

_LIVE_SLATE = f"""
SELECT {_PREDICTION_COLUMNS}, g.result, g.actual, g.side AS graded_side, g.recommendation AS graded_pick
FROM predictions_latest p
LEFT JOIN grades g USING (model, player_id, game_key, book, market)
WHERE p.game_date = %(day)s AND p.model = %(model)s AND {_MARKET}
ORDER BY p.game_key, p.player_id, p.market, p.book
"""

# The slate as it stood at a moment: the newest logged prediction per key made by then.
# Grades are left out: when a grade became known is not recorded in event time.
_AS_OF_SLATE = f"""
SELECT * FROM (
    SELECT DISTINCT ON (p.player_id, p.game_key, p.book, p.market)
        {_PREDICTION_COLUMNS}, NULL::text AS result, NULL::double precision AS actual,
        NULL::text AS graded_side, NULL::text AS graded_pick
    FROM predictions_log p
    WHERE p.game_date = %(day)s AND p.model = %(model)s AND p.as_of <= %(as_of)s AND {_MARKET}
      AND NOT p.withdrawn
    ORDER BY p.player_id, p.game_key, p.book, p.market, p.as_of DESC, p.emitted_at DESC NULLS LAST
) s
ORDER BY game_key, player_id, market, book
"""

_MARKETS_OF_DAY = """
SELECT market, count(DISTINCT (player_id, game_key)) AS props
FROM predictions_latest WHERE game_date = %(day)s AND model = %(model)s
GROUP BY market ORDER BY market
"""

_PROP_HISTORY = f"""
SELECT {_PREDICTION_COLUMNS}
FROM predictions_log p
WHERE p.player_id = %(player_id)s AND p.game_key = %(game_key)s AND p.market = %(market)s
  AND p.model = %(model)s AND NOT p.withdrawn
ORDER BY p.as_of, p.book, p.emitted_at
"""

_PROP_GRADES = """
SELECT g.model, g.book, g.line, g.as_of, g.side, g.recommendation, g.actual, g.result, g.profit,
       g.abs_error, g.emitted_at, g.prediction_id
FROM grades g
WHERE g.player_id = %(player_id)s AND g.game_key = %(game_key)s AND g.market = %(market)s
  AND g.model = %(model)s
ORDER BY g.book
"""

# Closing-line value of every logged prediction made at or before its book's close. The close
# is the book's last quote before the game's tip-off (the quote the grader grades); until
# tip-off (the server's clock) it is the latest quote so far, `close_kind` 'so far'. A row
# written without a tip-off (before schema v5) closes at its book's last quote. The side is
# the pick, or for a PASS the model's lean, as grading reads it; positive CLV means the market
# moved towards that side. Withdrawn predictions (a late input showed no in-order run makes
# them) are neither quotes nor closes.
_CLV = """
SELECT p.model, p.player_id, p.player_name, p.game_key, p.game_date, p.book, p.market,
       p.prediction_id, p.in_sample, p.as_of, p.recommendation, s.side, p.line, p.over_price,
       p.under_price, p.market_p_over, c.close_as_of, c.close_line, c.close_market_p_over,
       c.close_over_price, c.close_under_price, p.tipoff AS close_tipoff,
       CASE WHEN p.tipoff <= now() THEN 'close' ELSE 'so far' END AS close_kind,
       s.sign * (c.close_line - p.line) AS clv_points,
       s.sign * (c.close_market_p_over - p.market_p_over) AS clv_prob
FROM predictions_log p
JOIN (
    SELECT DISTINCT ON (p.model, p.player_id, p.game_key, p.book, p.market)
           p.model, p.player_id, p.game_key, p.book, p.market, p.as_of AS close_as_of,
           p.line AS close_line, p.market_p_over AS close_market_p_over,
           p.over_price AS close_over_price, p.under_price AS close_under_price
    FROM predictions_log p
    WHERE NOT p.withdrawn AND p.as_of < coalesce(p.tipoff, 'infinity') AND {where}
    ORDER BY p.model, p.player_id, p.game_key, p.book, p.market, p.as_of DESC, p.emitted_at DESC NULLS LAST
) c USING (model, player_id, game_key, book, market)
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.recommendation <> 'PASS' THEN p.recommendation
                WHEN p.p_over >= p.p_under THEN 'OVER' ELSE 'UNDER' END AS side
) l
CROSS JOIN LATERAL (SELECT l.side, CASE l.side WHEN 'OVER' THEN 1 ELSE -1 END AS sign) s
WHERE NOT p.withdrawn AND p.as_of <= c.close_as_of AND {where}
"""

_PROP_CLV = (
    _CLV.format(
        where="p.player_id = %(player_id)s AND p.game_key = %(game_key)s "
        "AND p.market = %(market)s AND p.model = %(model)s"
    )
    + "ORDER BY as_of, book"
)

# Per model and game date: every prediction, and the bets (a pick) apart. Beating the close:
# the line moved towards the side, or at the same line the de-vigged price did.
_CLV_DAILY = f"""
SELECT model, game_date, in_sample, count(*) AS n_clv, avg(clv_points) AS clv_points,
       avg(clv_prob) AS clv_prob,
       avg(beat)::float8 AS beat_close, avg(lost)::float8 AS lost_close,
       count(*) FILTER (WHERE bet) AS n_clv_bets,
       avg(clv_points) FILTER (WHERE bet) AS clv_points_bets,
       avg(clv_prob) FILTER (WHERE bet) AS clv_prob_bets,
       avg(beat) FILTER (WHERE bet)::float8 AS beat_close_bets,
       avg(lost) FILTER (WHERE bet)::float8 AS lost_close_bets
FROM (
    SELECT *, (clv_points > 0 OR (clv_points = 0 AND clv_prob > 0))::int AS beat,
              (clv_points < 0 OR (clv_points = 0 AND clv_prob < 0))::int AS lost,
              recommendation <> 'PASS' AS bet
    FROM ({_CLV.format(where="p.game_date BETWEEN %(start)s AND %(end)s AND " + _MARKET)}) v
) b
GROUP BY model, game_date, in_sample
"""

_DATES = f"""
SELECT p.game_date, count(DISTINCT p.game_key) AS games, count(*) AS props
FROM predictions_latest p WHERE p.model = %(model)s AND {_MARKET}
GROUP BY p.game_date ORDER BY p.game_date
"""

_MODELS = "SELECT DISTINCT model FROM predictions_latest ORDER BY model"

# model_performance_daily (the schema's view) with a market filter (the view has no market),
# beside the closing-line value of the same model and day; in-sample grades (their game inside
# the training window of the version that made them) in rows of their own, never mixed in
_GRADED_DAILY = f"""
SELECT model, game_date, in_sample, string_agg(DISTINCT model_version, ' ') AS model_versions,
    count(*) FILTER (WHERE result <> 'VOID') AS n_graded,
    count(*) FILTER (WHERE result <> 'VOID' AND recommendation <> 'PASS') AS n_bets,
    avg((result = 'WIN')::int) FILTER (WHERE result IN ('WIN', 'LOSS'))::float8 AS hit_rate,
    avg(power(p_over - (actual > line)::int, 2))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)::float8 AS brier_model,
    avg(power(market_p_over - (actual > line)::int, 2))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)::float8 AS brier_market,
    avg(-ln(CASE WHEN actual > line THEN greatest(least(p_over, 1 - 1e-6), 1e-6)
                 ELSE 1 - greatest(least(p_over, 1 - 1e-6), 1e-6) END))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)::float8 AS logloss_model,
    avg(-ln(CASE WHEN actual > line THEN greatest(least(market_p_over, 1 - 1e-6), 1e-6)
                 ELSE 1 - greatest(least(market_p_over, 1 - 1e-6), 1e-6) END))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)::float8 AS logloss_market,
    avg(abs_error) FILTER (WHERE result <> 'VOID')::float8 AS mae_model,
    avg(abs(line - actual)) FILTER (WHERE result <> 'VOID')::float8 AS mae_line,
    (sum(profit) FILTER (WHERE recommendation <> 'PASS')
        / nullif(count(*) FILTER (WHERE result <> 'VOID' AND recommendation <> 'PASS'), 0))::float8 AS roi
FROM grades p
WHERE game_date BETWEEN %(start)s AND %(end)s AND {_MARKET}
GROUP BY model, game_date, in_sample
"""

_PERFORMANCE = f"""
WITH graded AS ({_GRADED_DAILY}), clv AS ({_CLV_DAILY})
SELECT * FROM graded LEFT JOIN clv USING (model, game_date, in_sample) ORDER BY game_date, model, in_sample
"""


@dataclass(frozen=True)
class Reader:
    """The dashboard's only way into the database."""

    dsn: SecretStr
    connect_timeout_s: int = 5

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        with psycopg.connect(
            self.dsn.get_secret_value(), row_factory=dict_row, connect_timeout=self.connect_timeout_s
        ) as conn:
            conn.read_only = True
            conn.execute("SET TIME ZONE 'UTC'")  # times leave in UTC whatever the server's zone
            yield conn

    def _all(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._connection() as conn:
            return conn.execute(query, params or {}).fetchall()  # type: ignore[arg-type]

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1")

    def models(self) -> list[str]:
        return [row["model"] for row in self._all(_MODELS)]

    def dates(self, model: str, market: str | None = None) -> list[dict[str, Any]]:
        return self._all(_DATES, {"model": model, "market": market})

    def markets(self, day: date, model: str) -> dict[str, int]:
        """How many props each market has on a game date."""
        return {r["market"]: r["props"] for r in self._all(_MARKETS_OF_DAY, {"day": day, "model": model})}

    def slate(
        self, day: date, model: str, as_of: datetime | None = None, market: str | None = None
    ) -> list[dict[str, Any]]:
        """Every book's quote of the day for one model: latest, or as it stood at `as_of`
        (event time), each with its grade when there is one."""
        params = {"day": day, "model": model, "market": market, "as_of": as_of}
        return self._all(_LIVE_SLATE if as_of is None else _AS_OF_SLATE, params)

    def prop(self, player_id: int, game_key: str, market: str, model: str) -> dict[str, list[dict[str, Any]]]:
        """One prop's logged predictions (by as_of), its grades and the closing-line value of
        each prediction, read in one transaction."""
        params = {"player_id": player_id, "game_key": game_key, "market": market, "model": model}
        with self._connection() as conn:
            return {
                name: conn.execute(query, params).fetchall()  # type: ignore[arg-type]
                for name, query in (("history", _PROP_HISTORY), ("grades", _PROP_GRADES), ("clv", _PROP_CLV))
            }

    def performance(self, start: date, end: date, market: str | None = None) -> list[dict[str, Any]]:
        return self._all(_PERFORMANCE, {"start": start, "end": end, "market": market})
