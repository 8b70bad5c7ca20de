"""The 30 NBA teams and every spelling of them the feeds use.

Teams are a closed set, so they are resolved at the edge: an event whose team is not
an NBA team is invalid (preseason games against overseas clubs, typos) and is
dead-lettered with the reason `unknown_team`.
"""

from __future__ import annotations

__all__ = ["TEAMS", "resolve_team"]

# nba.com abbreviation -> nba.com name, then the other spellings seen in the feeds.
TEAMS: dict[str, tuple[str, ...]] = {
    "ATL": ("Atlanta Hawks",),
    "BOS": ("Boston Celtics",),
    "BKN": ("Brooklyn Nets", "BRK"),
    "CHA": ("Charlotte Hornets", "CHO"),
    "CHI": ("Chicago Bulls",),
    "CLE": ("Cleveland Cavaliers",),
    "DAL": ("Dallas Mavericks",),
    "DEN": ("Denver Nuggets",),
    "DET": ("Detroit Pistons",),
    "GSW": ("Golden State Warriors", "GS"),
    "HOU": ("Houston Rockets",),
    "IND": ("Indiana Pacers",),
    "LAC": ("LA Clippers", "Los Angeles Clippers"),
    "LAL": ("Los Angeles Lakers", "LA Lakers"),
    "MEM": ("Memphis Grizzlies",),
    "MIA": ("Miami Heat",),
    "MIL": ("Milwaukee Bucks",),
    "MIN": ("Minnesota Timberwolves",),
    "NOP": ("New Orleans Pelicans", "NO"),
    "NYK": ("New York Knicks", "NY"),
    "OKC": ("Oklahoma City Thunder",),
    "ORL": ("Orlando Magic",),
    "PHI": ("Philadelphia 76ers",),
    "PHX": ("Phoenix Suns", "PHO"),
    "POR": ("Portland Trail Blazers",),
    "SAC": ("Sacramento Kings",),
    "SAS": ("San Antonio Spurs", "SA"),
    "TOR": ("Toronto Raptors",),
    "UTA": ("Utah Jazz", "UTAH"),
    "WAS": ("Washington Wizards", "WSH"),
}

_LOOKUP: dict[str, str] = {
    spelling.casefold(): abbr for abbr, names in TEAMS.items() for spelling in (abbr, *names)
}


def resolve_team(spelling: str) -> str | None:
    """The nba.com abbreviation for any known spelling, or None for a team we do not know."""
    return _LOOKUP.get(" ".join(spelling.split()).casefold())
