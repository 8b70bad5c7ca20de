"""Random but valid event streams for a few players and games, for property tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from vocabulary.events import BoxScore, Game, GameLine, PropLine

TEAMS = ("BOS", "NYK", "LAL", "GSW")
BOOKS = ("draftkings", "fanduel", "betmgm")
PLAYERS = {1: "BOS", 2: "NYK", 3: "LAL"}  # player 3 is sometimes traded to GSW
START = date(2025, 11, 1)
MARKETS = ("points", "rebounds", "threes")  # a few markets: each keyed apart, one history
odds = st.sampled_from([-150.0, -125.0, -115.0, -110.0, -105.0, 100.0, 110.0, 130.0])


def _tipoff(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC)


@st.composite
def streams(draw: st.DrawFn) -> dict[str, list]:
    """Per topic, a list of events in an arbitrary (not event-time) order."""
    games = []
    for i in range(draw(st.integers(2, 5))):
        home, away = draw(st.permutations(TEAMS))[:2]
        games.append((START + timedelta(days=2 * i + draw(st.integers(0, 1))), home, away))
    boxes, finals, lines, props = [], [], [], []
    for day, home, away in games:
        tip = _tipoff(day)
        if draw(st.booleans()):
            finals.append(
                Game(
                    ts=tip + timedelta(hours=3),
                    game_id=f"002250{len(finals):04d}",
                    game_date=day,
                    home_team=home,
                    away_team=away,
                    tipoff=tip,
                    season_type="regular",
                    status="final",
                    home_points=draw(st.integers(80, 140)),
                    away_points=draw(st.integers(80, 140)),
                )
            )
        for book in draw(st.lists(st.sampled_from(BOOKS), max_size=3)):
            lines.append(
                GameLine(
                    ts=tip - timedelta(hours=draw(st.integers(1, 30))),
                    event_id="e",
                    home_team=home,
                    away_team=away,
                    tipoff=tip,
                    book=book,
                    total=draw(st.integers(420, 480)) / 2,
                    spread_home=draw(st.integers(-20, 20)) / 2,
                )
            )
        for player, usual in PLAYERS.items():
            team = "GSW" if player == 3 and draw(st.booleans()) else usual
            if team not in (home, away):
                continue
            for _ in range(draw(st.integers(0, 2))):  # 2: a re-sent, corrected box score
                fga, fta = draw(st.integers(0, 25)), draw(st.integers(0, 12))
                fgm, ftm = draw(st.integers(0, fga)), draw(st.integers(0, fta))
                fg3m = draw(st.integers(0, fgm))
                oreb, dreb = draw(st.integers(0, 5)), draw(st.integers(0, 10))
                boxes.append(
                    BoxScore(
                        ts=tip + timedelta(hours=2, minutes=draw(st.integers(0, 90))),
                        player_id=player,
                        player_name=f"P{player}",
                        game_date=day,
                        team=team,
                        opponent=away if team == home else home,
                        home=team == home,
                        minutes=draw(st.sampled_from([0.0, 12.0, 30.5, 38.0])),
                        points=2 * fgm + fg3m + ftm,
                        rebounds=oreb + dreb,
                        offensive_rebounds=oreb,
                        defensive_rebounds=dreb,
                        assists=draw(st.integers(0, 12)),
                        steals=draw(st.integers(0, 4)),
                        blocks=draw(st.integers(0, 4)),
                        turnovers=draw(st.integers(0, 6)),
                        fouls=0,
                        fgm=fgm,
                        fga=fga,
                        fg3m=fg3m,
                        fg3a=fg3m + draw(st.integers(0, 5)),
                        ftm=ftm,
                        fta=fta,
                        plus_minus=0,
                    )
                )
            for book, market in draw(
                st.lists(st.tuples(st.sampled_from(BOOKS), st.sampled_from(MARKETS)), max_size=3, unique=True)
            ):
                for _ in range(draw(st.integers(1, 3))):  # snapshots: the line may move
                    ts = tip - timedelta(hours=draw(st.integers(1, 12)))
                    # half points from 1.5 to 29 (every market's range, the line rules' widest
                    # being points and the narrowest threes, blocks and steals at 30)
                    main = draw(st.integers(3, 58)) / 2
                    for offset in sorted({0.0, *draw(st.lists(st.sampled_from([-1.0, 1.0]), max_size=2))}):
                        props.append(
                            (
                                player,
                                PropLine(
                                    ts=ts,
                                    event_id="e",
                                    home_team=home,
                                    away_team=away,
                                    tipoff=tip,
                                    book=book,
                                    market=market,
                                    player_name=f"P{player}",
                                    line=main + offset,
                                    over_price=draw(odds),
                                    under_price=draw(st.none() | odds) if offset else draw(odds),
                                    is_main=offset == 0.0,
                                ),
                            )
                        )
    return {
        "box_scores": draw(st.permutations(boxes)),
        "games": draw(st.permutations(finals)),
        "game_lines": draw(st.permutations(lines)),
        "props": draw(st.permutations(props)),
    }


@st.composite
def interleavings(draw: st.DrawFn, topics: dict[str, list]) -> list:
    """One merge of the topics that keeps each topic's own order."""
    queues = {name: list(events) for name, events in topics.items()}
    order = draw(st.permutations([name for name, events in topics.items() for _ in events]))
    return [queues[name].pop(0) for name in order]
