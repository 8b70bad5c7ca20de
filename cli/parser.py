"""The `propstream` command line as argparse builds it: every command, option and `--help`
text in one place, apart from what the commands do (cli/main.py dispatches them). The dataflow
commands (`replay`, `worker`) add their own parsers (cli/commands.py)."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

from cli.commands import add_flow_commands, add_window_flags
from cli.logs import LOG_FORMATS
from vocabulary.markets import MARKETS
from vocabulary.window import WINDOW_HELP, WindowError, parse_bound

__all__ = ["build_parser"]

DESCRIPTION = """\
propstream: a streaming feature and scoring engine for NBA player props.

Settings come from environment variables PROPSTREAM_<NAME> (for example
PROPSTREAM_KAFKA_BOOTSTRAP, PROPSTREAM_POSTGRES_DSN, PROPSTREAM_TOPIC_PREFIX);
a command's flags override them. Every command that reads data takes --data DIR,
a folder laid out like the shipped data/ (odds/, schedule/, boxscores/; .csv or .csv.gz).
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc


def _moment(text: str) -> datetime:
    try:
        return parse_bound(text, end=False)
    except WindowError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


class _Parser(argparse.ArgumentParser):
    """A usage error is one line: what is wrong and where the help is (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        dest="data_dir",
        metavar="DIR",
        help="data folder (default: the shipped data/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="propstream",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text (default: plain unwrapped lines unless stderr is a terminal) or json (one object a line)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="tracebacks with errors, and the DEBUG log (librdkafka's too)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="the main job on the embedded default: no broker needed",
        description="Validate the data folder and print the identity report; train the active models on "
        "the games before 2025-10-21; replay the shipped 2025-26 season through the dataflow from the "
        "files (no broker) into Parquet under out/demo; print the counts and the graded summary per "
        "model beside the market.",
    )
    _add_data(demo)
    add_flow_commands(commands, _add_data)

    data = commands.add_parser("data", help="inspect a data folder")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    data_report = data_commands.add_parser(
        "report",
        help="identity report: how props, box scores and the schedule join",
        description="Print the prop player-games matched to box scores, the games matched to the "
        "schedule, and the sportsbook names that resolve to no nba.com player.",
    )
    _add_data(data_report)
    data_report.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")

    load = commands.add_parser(
        "load",
        help="publish the data folder as events to the input topics",
        description="Publish the data folder's rows as events to the input topics, in event-time order, "
        "with the Kafka timestamp equal to the event time; rows that cannot become valid events go to "
        "the dead-letter topic with their reason. Prints rows read = published + dead-lettered "
        "(+ outside the --from/--to window, by event time) per topic. " + WINDOW_HELP,
    )
    _add_data(load)
    add_window_flags(load)
    pace = load.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, metavar="X", help="replay event time at X times real time")
    pace.add_argument("--max-speed", action="store_true", help="publish as fast as possible (default)")
    load.add_argument(
        "--bootstrap", dest="kafka_bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers"
    )
    load.add_argument(
        "--partitions", type=int, metavar="N", help="partitions for topics it creates (default 4)"
    )
    load.add_argument("--topic-prefix", metavar="P", help="prefix for every topic name")

    db = commands.add_parser("db", help="the PostgreSQL database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    db_commands.add_parser(
        "migrate",
        help="apply the schema migrations (idempotent)",
        description="Apply the versioned migrations the database lacks, record the version, and grant "
        "the read-only role (PROPSTREAM_POSTGRES_READER_DSN's user) SELECT. A database newer than "
        "this code is refused.",
    )
    db_import = db_commands.add_parser(
        "import",
        help="write a Parquet output folder (a replay's or the demo's) into PostgreSQL",
        description="Migrate, then write every prediction and grade of a Parquet output folder "
        "through the Postgres sink (monotonic upsert; re-running it changes nothing), and check that "
        "predictions_latest then holds exactly the Parquet reader's rows. For the dashboard on a run "
        "that had no database, such as `make demo`.",
    )
    db_import.add_argument("parquet", type=Path, metavar="DIR", help="the folder, e.g. out/demo/parquet")

    train = commands.add_parser(
        "train",
        help="train the active models on the data folder's history",
        description="Build the training set by running the data folder's history through the feature "
        "store (one row per player-game played, features as of that game) and train each active model "
        "(PROPSTREAM_MODELS; default: champion = sqrt_uncertainty, shadow = normal_uncertainty) "
        "into the registry, each with its calibration stage (fitted on the walk-forward record of the "
        "graded props before --until, models retrained weekly; the market itself without such props). "
        "Each training is a new version of its model, active from --active-from (event time): a "
        "prediction as of t is made by the version active at t, before the first activation by the "
        "first version; a prediction of a game inside its version's training window is marked "
        "in_sample.",
    )
    _add_data(train)
    train.add_argument(
        "--models", dest="models_dir", type=Path, metavar="DIR", help="registry (default models/)"
    )
    train.add_argument(
        "--until",
        type=_date,
        metavar="DATE",
        help="train on games before this date (default: the date of the data's newest event)",
    )
    train.add_argument(
        "--active-from",
        type=_moment,
        metavar="TIME",
        help="the event time the new versions score from: a date (its start, US Eastern) or a zoned "
        "ISO time (default: the start of --until); no earlier than the workers load them, or live "
        "and replay differ",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="walk-forward evaluation of the active models against the market",
        description="Score every book's main line on each day of the window with models trained only "
        "on games before that day (retrained every --retrain-days) through a calibration stage fitted "
        "on the graded props before that day (its record starts at the season's first props, before "
        "--from), grade against the box scores, and print hit rate, Brier, log-loss, MAE and ROI beside "
        "the market's de-vigged baseline, by day, with player-game bootstrap intervals and the table "
        "by edge.",
    )
    _add_data(evaluate)
    evaluate.add_argument("--from", dest="start", type=_date, required=True, metavar="DATE")
    evaluate.add_argument("--to", dest="end", type=_date, required=True, metavar="DATE")
    evaluate.add_argument("--retrain-days", type=int, default=1, metavar="N", help="retrain every N days (1)")
    evaluate.add_argument(
        "--market",
        choices=["all", *MARKETS],
        default="all",
        help="the market to evaluate (all: every market of PROPSTREAM_MARKETS, each in the JSON's by_market)",
    )
    evaluate.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    evaluate.add_argument("--html", type=Path, metavar="PATH", help="write a page with the tables and plots")

    health_p = commands.add_parser(
        "health",
        help="slate coverage with reasons, freshness and grading gaps (from PostgreSQL)",
        description="For each game of a slate: props per book, props with a current prediction from "
        "every active model, actionable ones, props without a prediction by reason (the dead letter's: "
        "unknown player, unsupported market, ...; or an active model missing), defaulted inputs, the "
        "newest quote applied per book, and games past the grading delay with props still ungraded. "
        "Reads PostgreSQL.",
    )
    health_p.add_argument("--date", dest="day", metavar="YYYY-MM-DD", help="game date (default: the newest)")
    health_p.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")
    health_p.add_argument(
        "--stale-after-min",
        type=float,
        metavar="M",
        help="quote age before tip-off that is stale (PROPSTREAM_STALE_AFTER_MIN, 30)",
    )
    health_p.add_argument(
        "--grading-delay-h",
        type=float,
        metavar="H",
        help="hours after the date's end (PROPSTREAM_GRADING_DELAY_H, 12)",
    )

    dashboard = commands.add_parser(
        "dashboard",
        help="the live line-move dashboard (web page)",
        description="Serve the dashboard: the slate of a game date with every book's line and the "
        "model's view, a page per prop with its lines over time, an as-of control, and the models' "
        "daily performance. Reads PostgreSQL as the read-only role (PROPSTREAM_POSTGRES_READER_DSN) "
        "and pushes live predictions and grades from the Kafka output topics to the page. Binds to "
        "loopback unless --host says otherwise.",
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    dashboard.add_argument(
        "--no-live", action="store_true", help="no Kafka: serve the database without live updates"
    )
    return parser
