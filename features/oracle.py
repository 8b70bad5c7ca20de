"""An independent batch implementation of the features in polars.

Used only as the oracle in tests (the incremental `FeatureStore` must equal it on every prop
of the shipped data) and as the batch baseline in benchmarks. It shares nothing with the
incremental code but the feature names and documented constants: windows are polars rolling
expressions over whole tables, "before game G" is a backward as-of join that excludes G's date.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from features.history import EWM_ALPHA, EWM_GAMES, REST_CAP_DAYS
from features.schema import FEATURE_NAMES, STATS
from features.team import TEAM_WINDOW
from vocabulary.events import BoxScore, Game, GameLine, PropLine

__all__ = ["oracle_features"]

KEYS = ["player_id", "game_key", "market", "book", "line"]
_PROP = ["player_id", "game_key", "market"]
_BOOK = [*_PROP, "book"]
WINDOWS = {"3": 3, "5": 5, "10": 10}


def _season(col: str) -> pl.Expr:
    d = pl.col(col)
    return pl.when(d.dt.month() >= 8).then(d.dt.year()).otherwise(d.dt.year() - 1)


def _history(boxes: Iterable[BoxScore]) -> pl.DataFrame:
    """Per player and game, the windows *including* that game; the as-of join then picks the
    last game before the target, whose inclusive windows are the windows before the target."""
    df = pl.DataFrame(
        [
            {
                "player_id": b.player_id,
                "game_date": b.game_date,
                "team": b.team,
                "ts": b.ts,
                "pts": float(b.points),
                "min": b.minutes,
                "fga": float(b.fga),
                "fta": float(b.fta),
                "fg3a": float(b.fg3a),
                "usage": b.fga + 0.44 * b.fta + b.turnovers,
                "reb": float(b.rebounds),
                "ast": float(b.assists),
                "fg3m": float(b.fg3m),
                "blk": float(b.blocks),
                "stl": float(b.steals),
            }
            for b in boxes
        ],
        schema={
            "player_id": pl.Int64,
            "game_date": pl.Date,
            "team": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            **dict.fromkeys(STATS, pl.Float64),
        },
    )
    df = (
        df.filter(pl.col("min") > 0)
        .sort(["player_id", "game_date", "ts", "team", *STATS])
        .unique(["player_id", "game_date"], keep="last", maintain_order=True)
        .with_columns(_season("game_date").alias("season"))
    )
    by_player = "player_id"
    exprs = []
    for stat in STATS:
        for name, n in WINDOWS.items():
            exprs.append(
                pl.col(stat).rolling_mean(n, min_samples=1).over(by_player).alias(f"{stat}_mean_{name}")
            )
        exprs.append(
            (pl.col(stat).cum_sum() / pl.col(stat).cum_count())
            .over(["player_id", "season"])
            .alias(f"{stat}_mean_season")
        )
    exprs.append(pl.col("pts").rolling_std(EWM_GAMES, min_samples=2).over(by_player).alias("pts_std_10"))
    for stat, out in (("pts", "pts_ewm"), ("min", "min_ewm")):
        weighted = [pl.col(stat).shift(j).over(by_player) * (1 - EWM_ALPHA) ** j for j in range(EWM_GAMES)]
        weights = [
            pl.col(stat).shift(j).over(by_player).is_not_null().cast(pl.Float64) * (1 - EWM_ALPHA) ** j
            for j in range(EWM_GAMES)
        ]
        exprs.append((pl.sum_horizontal(weighted) / pl.sum_horizontal(weights)).alias(out))
    exprs.append(pl.col("pts").cum_count().over(["player_id", "season"]).alias("season_games"))
    exprs.append(pl.col("pts").cum_count().over(by_player).alias("history_games"))
    return df.with_columns(exprs).rename(
        {"game_date": "last_date", "team": "last_team", "season": "last_season"}
    )


def _team_form(games: Iterable[Game]) -> pl.DataFrame:
    rows = []
    for g in games:
        if g.status == "final" and g.home_points is not None and g.away_points is not None:
            version = {"ts": g.ts, "home": g.home_points, "away": g.away_points}  # newest version wins
            home = {"team": g.home_team, "scored": g.home_points, "allowed": g.away_points}
            away = {"team": g.away_team, "scored": g.away_points, "allowed": g.home_points}
            rows += [side | version | {"date": g.game_date} for side in (home, away)]
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "team": pl.String,
        "scored": pl.Int64,
        "allowed": pl.Int64,
        "ts": pl.Datetime("us", "UTC"),
        "home": pl.Int64,
        "away": pl.Int64,
        "date": pl.Date,
    }
    df = pl.DataFrame(rows, schema=schema).sort(["team", "date", "ts", "home", "away"])
    df = df.unique(["team", "date"], keep="last", maintain_order=True)
    return df.with_columns(
        pl.col("allowed")
        .cast(pl.Float64)
        .rolling_mean(TEAM_WINDOW, min_samples=1)
        .over("team")
        .alias("allowed_10"),
        (pl.col("scored") + pl.col("allowed"))
        .cast(pl.Float64)
        .rolling_mean(TEAM_WINDOW, min_samples=1)
        .over("team")
        .alias("pace_10"),
    ).select("team", "date", "allowed_10", "pace_10")


def _quotes(props: Iterable[tuple[int, PropLine]]) -> pl.DataFrame:
    df = pl.DataFrame(
        [
            {
                "player_id": pid,
                "game_key": p.game_key,
                "market": p.market,
                "book": p.book,
                "line": p.line,
                "ts": p.ts,
                "over": p.over_price,
                "under": p.under_price,
                "is_main": p.is_main,
                "game_date": p.game_date,
                "home_team": p.home_team,
                "away_team": p.away_team,
            }
            for pid, p in props
        ],
        schema_overrides={"under": pl.Float64},
    )
    order = ["ts", "line", "over", "under_key", "is_main"]
    df = df.with_columns(pl.col("under").fill_null(float("-inf")).alias("under_key"))

    def implied(col: str) -> pl.Expr:
        c = pl.col(col)
        return pl.when(c > 0).then(100.0 / (c + 100.0)).otherwise(-c / (-c + 100.0))

    p_over = implied("over") / (implied("over") + implied("under"))
    latest = (
        df.sort([*KEYS, *order])
        .unique(KEYS, keep="last", maintain_order=True)
        .with_columns(p_over.alias("p_over"))
    )
    first_ts = df.group_by(_BOOK).agg(pl.col("ts").min().alias("first_ts"))
    first = (
        df.join(first_ts, on=_BOOK)
        .filter((pl.col("ts") == pl.col("first_ts")) & pl.col("is_main"))
        .group_by(_BOOK)
        .agg(pl.col("line").max().alias("first_main"))
    )
    mains = (
        latest.filter(pl.col("is_main"))
        .sort([*_BOOK, *order])
        .unique(_BOOK, keep="last", maintain_order=True)
        .select(
            *_BOOK,
            pl.col("line").alias("main_line"),
            pl.col("p_over").alias("main_p"),
        )
    )
    books = mains.join(first, on=_BOOK, how="full", coalesce=True)
    consensus = books.group_by(_PROP).agg(
        pl.col("main_line").median().alias("consensus_line"),
        (pl.col("main_line").max() - pl.col("main_line").min()).alias("consensus_spread"),
        pl.col("main_p").mean().alias("consensus_p_over"),
        pl.col("main_line").count().cast(pl.Float64).alias("n_books"),
        pl.col("first_main").median().alias("first_consensus"),
    )
    return (
        latest.join(books, on=_BOOK, how="left")
        .join(consensus, on=_PROP, how="left")
        .select(
            *KEYS,
            "game_date",
            "home_team",
            "away_team",
            "p_over",
            "main_line",
            "first_main",
            "consensus_line",
            "consensus_spread",
            "consensus_p_over",
            "n_books",
            "first_consensus",
        )
    )


def _game_context(lines: Iterable[GameLine]) -> pl.DataFrame:
    df = pl.DataFrame(
        [
            {
                "game_key": g.game_key,
                "book": g.book,
                "ts": g.ts,
                "json": g.model_dump_json(),
                "total": g.total,
                "spread_home": g.spread_home,
            }
            for g in lines
        ],
        schema={
            "game_key": pl.String,
            "book": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "json": pl.String,
            "total": pl.Float64,
            "spread_home": pl.Float64,
        },
    )
    latest = df.sort(["game_key", "book", "ts", "json"]).unique(["game_key", "book"], keep="last")
    return latest.group_by("game_key").agg(
        pl.col("total").median().alias("game_total"), pl.col("spread_home").median().alias("home_spread")
    )


def _prov(value: pl.Expr, reason: pl.Expr | str) -> pl.Expr:
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return (
        pl.when(value.is_not_null() & value.is_not_nan())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("default:") + reason_expr)
    )


def oracle_features(
    boxes: Iterable[BoxScore],
    games: Iterable[Game],
    lines: Iterable[GameLine],
    props: Iterable[tuple[int, PropLine]],
) -> pl.DataFrame:
    """One row per (player_id, game_key, market, book, line) quote held at the end, with every feature
    value in `v_<feature>` (NaN when defaulted) and its provenance in `prov_<feature>`."""
    quotes = _quotes(props).sort("game_date")
    history = _history(boxes).sort("last_date")
    form = _team_form(games).sort("date")
    df = quotes.join_asof(
        history,
        left_on="game_date",
        right_on="last_date",
        by="player_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,  # sorted above; polars cannot check it per group
    )
    has_history = pl.col("history_games").is_not_null()
    same_season = has_history & (pl.col("last_season") == _season("game_date"))
    no_history = pl.lit("no_history")
    out: list[pl.Expr] = []
    for stat in STATS:
        for name in WINDOWS:
            out.append(pl.col(f"{stat}_mean_{name}").alias(f"{stat}_mean_{name}"))
        col = f"{stat}_mean_season"
        out.append(pl.when(same_season).then(pl.col(col)).otherwise(None).alias(col))
    rest = (pl.col("game_date") - pl.col("last_date")).dt.total_days()
    team_in_game = (pl.col("last_team") == pl.col("home_team")) | (pl.col("last_team") == pl.col("away_team"))
    out += [
        pl.col("pts_std_10"),
        pl.col("pts_ewm"),
        pl.col("min_ewm"),
        pl.when(same_season)
        .then(pl.col("season_games"))
        .otherwise(0)
        .cast(pl.Float64)
        .alias("games_played_season"),
        pl.when(rest > REST_CAP_DAYS)
        .then(pl.lit(REST_CAP_DAYS))
        .otherwise(rest)
        .cast(pl.Float64)
        .alias("rest_days"),
        (rest > REST_CAP_DAYS).cast(pl.Float64).alias("long_break"),
        (rest == 1).cast(pl.Float64).alias("back_to_back"),
        pl.when(team_in_game)
        .then((pl.col("last_team") == pl.col("home_team")).cast(pl.Float64))
        .alias("home"),
        pl.when(team_in_game).then(pl.col("last_team")).alias("team"),
        pl.when(team_in_game)
        .then(
            pl.when(pl.col("last_team") == pl.col("home_team"))
            .then(pl.col("away_team"))
            .otherwise(pl.col("home_team"))
        )
        .alias("opponent"),
    ]
    df = df.with_columns(*out, has_history.alias("has_history")).with_columns(
        pl.col("history_games").fill_null(0)
    )
    has_history = pl.col("has_history")
    opp = form.rename({"team": "opponent", "allowed_10": "opp_pts_allowed_10", "pace_10": "opp_pace_10"})
    own = form.rename({"pace_10": "team_pace_10"}).drop("allowed_10")
    asof = {
        "left_on": "game_date",
        "right_on": "date",
        "strategy": "backward",
        "allow_exact_matches": False,
        "check_sortedness": False,
    }
    df = (
        df.join_asof(opp, by="opponent", **asof)  # type: ignore[arg-type]
        .drop("date")
        .join_asof(own, by="team", **asof)  # type: ignore[arg-type]
        .rename({"date": "team_last_date"})
    )
    # the team played after the player's last box score: rest is unknown, not measured
    missed = pl.col("team_last_date").is_not_null() & (pl.col("team_last_date") > pl.col("last_date"))
    df = df.with_columns(
        pl.when(missed).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("rest_days", "long_break", "back_to_back")
    ).with_columns(missed.fill_null(value=False).alias("missed"))
    df = df.join(_game_context(lines), on="game_key", how="left")
    team_spread = (
        pl.when(pl.col("team") == pl.col("home_team"))
        .then(pl.col("home_spread"))
        .otherwise(-pl.col("home_spread"))
    )
    df = df.with_columns(
        pl.col("line").alias("line_value"),
        pl.col("p_over").alias("book_p_over"),
        pl.col("main_line").alias("book_main_line"),
        (pl.col("main_line") - pl.col("first_main")).alias("book_line_move"),
        (pl.col("line") - pl.col("consensus_line")).alias("line_vs_consensus"),
        (pl.col("consensus_line") - pl.col("first_consensus")).alias("consensus_move"),
        pl.col("n_books").fill_null(0.0),
        pl.when(pl.col("team").is_not_null()).then(team_spread).alias("team_spread"),
    ).with_columns((pl.col("game_total") / 2 - pl.col("team_spread") / 2).alias("team_implied_total"))

    season_reason = pl.when(has_history).then(pl.lit("no_season_games")).otherwise(no_history)
    short_reason = pl.when(has_history).then(pl.lit("short_history")).otherwise(no_history)
    team_reason = (
        pl.when(pl.col("team").is_null()).then(pl.lit("team_unknown")).otherwise(pl.lit("no_team_results"))
    )
    spread_reason = (
        pl.when(pl.col("home_spread").is_null())
        .then(pl.lit("no_game_lines"))
        .otherwise(pl.lit("team_unknown"))
    )
    implied_reason = (
        pl.when(pl.col("game_total").is_null() | pl.col("home_spread").is_null())
        .then(pl.lit("no_game_lines"))
        .otherwise(pl.lit("team_unknown"))
    )
    reasons: dict[str, pl.Expr | str] = {f"{s}_mean_season": season_reason for s in STATS}
    reasons |= {
        "pts_std_10": short_reason,
        "home": pl.when(has_history).then(pl.lit("team_not_in_game")).otherwise(no_history),
    }
    reasons |= dict.fromkeys(("opp_pts_allowed_10", "opp_pace_10", "team_pace_10"), team_reason)
    rest_reason = pl.when(pl.col("missed")).then(pl.lit("missing_box_scores")).otherwise(no_history)
    reasons |= dict.fromkeys(("rest_days", "long_break", "back_to_back"), rest_reason)
    reasons |= {
        "book_p_over": "one_sided_quote",
        "book_main_line": "no_main_line",
        "book_line_move": "no_first_main",
    }
    reasons |= dict.fromkeys(("line_vs_consensus", "consensus_line", "consensus_spread"), "no_main_lines")
    reasons |= {
        "consensus_p_over": "no_two_sided_main",
        "consensus_move": "no_first_main",
        "game_total": "no_game_lines",
    }
    reasons |= {"team_spread": spread_reason, "team_implied_total": implied_reason}
    values = [
        pl.col("line_value" if name == "line" else name)
        .cast(pl.Float64)
        .fill_null(float("nan"))
        .alias(f"v_{name}")
        for name in FEATURE_NAMES
    ]
    provenance = [
        _prov(
            pl.col("line_value" if name == "line" else name).cast(pl.Float64), reasons.get(name, no_history)
        ).alias(f"prov_{name}")
        for name in FEATURE_NAMES
    ]
    return df.select(*KEYS, pl.col("history_games").cast(pl.Int64), *values, *provenance).sort(KEYS)
