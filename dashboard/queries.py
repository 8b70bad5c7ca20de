"""What the dashboard reads, as parameterised SQL over the read-only role.

Every connection is opened read-only (`conn.read_only`) on top of the reader role's grants,
so a bug here cannot write. Values are always bound parameters; the only identifiers are
fixed in this module.
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

_LIVE_SLATE = f"""
SELECT {_PREDICTION_COLUMNS}, g.result, g.actual
FROM predictions_latest p
LEFT JOIN grades g USING (model, player_id, game_key, book, market)
WHERE p.game_date = %(day)s AND p.model = %(model)s
ORDER BY p.game_key, p.player_id, p.book, p.market
"""

# The slate as it stood at a moment: the newest logged prediction per key made by then.
# Grades are left out: when a grade became known is not recorded in event time.
_AS_OF_SLATE = f"""
SELECT * FROM (
    SELECT DISTINCT ON (p.player_id, p.game_key, p.book, p.market)
        {_PREDICTION_COLUMNS}, NULL::text AS result, NULL::double precision AS actual
    FROM predictions_log p
    WHERE p.game_date = %(day)s AND p.model = %(model)s AND p.as_of <= %(as_of)s
    ORDER BY p.player_id, p.game_key, p.book, p.market, p.as_of DESC, p.emitted_at DESC NULLS LAST
) s
ORDER BY game_key, player_id, book, market
"""

_PROP_HISTORY = f"""
SELECT {_PREDICTION_COLUMNS}
FROM predictions_log p
WHERE p.player_id = %(player_id)s AND p.game_key = %(game_key)s AND p.market = %(market)s
  AND p.model = %(model)s
ORDER BY p.as_of, p.book, p.emitted_at
"""

_PROP_GRADES = """
SELECT model, book, line, as_of, side, recommendation, actual, result, profit, abs_error, emitted_at
FROM grades
WHERE player_id = %(player_id)s AND game_key = %(game_key)s AND market = %(market)s AND model = %(model)s
ORDER BY book
"""

_DATES = """
SELECT game_date, count(DISTINCT game_key) AS games, count(*) AS props
FROM predictions_latest WHERE model = %(model)s
GROUP BY game_date ORDER BY game_date
"""

_MODELS = "SELECT DISTINCT model FROM predictions_latest ORDER BY model"

_PERFORMANCE = """
SELECT model, game_date, n_graded, n_bets, hit_rate::float8, brier_model::float8,
       brier_market::float8, logloss_model::float8, logloss_market::float8, mae_model::float8,
       mae_line::float8, roi::float8
FROM model_performance_daily
WHERE game_date BETWEEN %(start)s AND %(end)s
ORDER BY game_date, model
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

    def dates(self, model: str) -> list[dict[str, Any]]:
        return self._all(_DATES, {"model": model})

    def slate(self, day: date, model: str, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every prop of the day for one model: latest, or as it stood at `as_of` (event time)."""
        if as_of is None:
            return self._all(_LIVE_SLATE, {"day": day, "model": model})
        return self._all(_AS_OF_SLATE, {"day": day, "model": model, "as_of": as_of})

    def prop(
        self, player_id: int, game_key: str, market: str, model: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One prop's logged predictions (by as_of) and its grades, read in one transaction."""
        params = {"player_id": player_id, "game_key": game_key, "market": market, "model": model}
        with self._connection() as conn:
            history = conn.execute(_PROP_HISTORY, params).fetchall()  # type: ignore[arg-type]
            grades = conn.execute(_PROP_GRADES, params).fetchall()  # type: ignore[arg-type]
        return history, grades

    def performance(self, start: date, end: date) -> list[dict[str, Any]]:
        return self._all(_PERFORMANCE, {"start": start, "end": end})
