"""Constants of the demo pipeline: its news sources, places, event types, and how each behaves.

Shared by the seed (history) and the simulator (the live tail), so both tell the same story.
Coordinates are approximate town centres; rates are the source's normal quality, before the
time-of-day effect and any injected incident; volumes follow the newsroom's rhythm
(`volume_factor`): a deep lull in the small hours, shoulders around it, a weekend dip. The
rhythm is strong enough that a flat baseline false-alarms on it (bench/seasonal.py measures
it), as real news sources do.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SourceProfile:
    name: str
    domain: str
    items_per_hour: float   # mean new articles per hourly run, weekday daytime
    geocoding_rate: float   # normal share of events geocoded
    validation_rate: float  # normal share of events passing validation
    failure_rate: float     # share of runs that fail outright
    run_minute: int         # minute past the hour its scraper starts


SOURCES: tuple[SourceProfile, ...] = (
    SourceProfile("punch", "punchng.com", 26, 0.95, 0.97, 0.01, 2),
    SourceProfile("vanguard", "vanguardngr.com", 24, 0.94, 0.96, 0.01, 7),
    SourceProfile("premium_times", "premiumtimesng.com", 20, 0.97, 0.98, 0.005, 12),
    SourceProfile("guardian_ng", "guardian.ng", 18, 0.95, 0.95, 0.01, 18),
    SourceProfile("daily_trust", "dailytrust.com", 22, 0.94, 0.95, 0.015, 24),
    SourceProfile("channels_tv", "channelstv.com", 16, 0.96, 0.97, 0.01, 31),
    SourceProfile("thisday", "thisdaylive.com", 16, 0.94, 0.94, 0.02, 39),
    SourceProfile("sahara_reporters", "saharareporters.com", 16, 0.93, 0.93, 0.02, 46),
)
SOURCES_BY_NAME = {source.name: source for source in SOURCES}

# (name, state, latitude, longitude, weight: how often events happen there)
LOCATIONS: tuple[tuple[str, str, float, float, int], ...] = (
    ("Maiduguri", "Borno", 11.8311, 13.1510, 9),
    ("Gwoza", "Borno", 11.0861, 13.6914, 6),
    ("Bama", "Borno", 11.5221, 13.6856, 5),
    ("Damaturu", "Yobe", 11.7470, 11.9608, 4),
    ("Yola", "Adamawa", 9.2035, 12.4954, 3),
    ("Gusau", "Zamfara", 12.1628, 6.6614, 7),
    ("Tsafe", "Zamfara", 11.9580, 6.9200, 4),
    ("Katsina", "Katsina", 12.9908, 7.6018, 4),
    ("Sokoto", "Sokoto", 13.0059, 5.2476, 3),
    ("Birnin Kebbi", "Kebbi", 12.4539, 4.1975, 2),
    ("Kaduna", "Kaduna", 10.5105, 7.4165, 6),
    ("Kafanchan", "Kaduna", 9.5833, 8.3000, 3),
    ("Kano", "Kano", 12.0022, 8.5920, 2),
    ("Bauchi", "Bauchi", 10.3158, 9.8442, 2),
    ("Minna", "Niger", 9.6139, 6.5569, 3),
    ("Jos", "Plateau", 9.8965, 8.8583, 5),
    ("Bokkos", "Plateau", 9.3000, 9.0000, 4),
    ("Makurdi", "Benue", 7.7322, 8.5391, 5),
    ("Agatu", "Benue", 7.8800, 7.9000, 3),
    ("Lafia", "Nasarawa", 8.4939, 8.5153, 2),
    ("Jalingo", "Taraba", 8.8833, 11.3667, 2),
    ("Lokoja", "Kogi", 7.8023, 6.7333, 2),
    ("Abuja", "FCT", 9.0765, 7.3986, 2),
    ("Lagos", "Lagos", 6.5244, 3.3792, 3),
    ("Ibadan", "Oyo", 7.3775, 3.9470, 1),
    ("Port Harcourt", "Rivers", 4.8156, 7.0498, 3),
    ("Yenagoa", "Bayelsa", 4.9267, 6.2676, 1),
    ("Warri", "Delta", 5.5167, 5.7500, 2),
    ("Owerri", "Imo", 5.4836, 7.0333, 3),
    ("Aba", "Abia", 5.1066, 7.3667, 1),
    ("Enugu", "Enugu", 6.4584, 7.5464, 1),
    ("Onitsha", "Anambra", 6.1498, 6.7857, 2),
)

# (event type, mean fatalities, title verb)
EVENT_TYPES: tuple[tuple[str, float, str], ...] = (
    ("insurgent attack", 6.0, "Insurgents attack"),
    ("banditry", 4.0, "Bandits raid"),
    ("kidnapping", 0.4, "Gunmen abduct residents in"),
    ("farmer-herder clash", 3.0, "Farmers and herders clash in"),
    ("communal clash", 2.5, "Communal clash erupts in"),
    ("armed clash", 3.5, "Troops engage gunmen near"),
    ("cult violence", 1.5, "Cult violence in"),
    ("protest", 0.1, "Protesters march in"),
    ("air strike", 5.0, "Air strike reported near"),
)
EVENT_WEIGHTS = (6, 6, 5, 4, 3, 4, 2, 2, 1)

SCRAPE_ERRORS = (
    "HTTPError 503: Service Unavailable",
    "ReadTimeout: no response from the front page after 30 s",
    "ParseError: article list selector matched nothing (site layout changed?)",
    "ConnectionError: name resolution failed",
)
PARTIAL_ERROR = "ReadTimeout on {failed} of {total} article pages"

NIGHT_HOURS_WAT = range(0, 6)
"""Local (WAT, UTC+1) hours with fewer articles and sloppier place names."""
LULL_HOURS_WAT = range(1, 4)
"""The deep lull: the newsroom asleep, a trickle of wire copy."""
BURST_HOURS_WAT = range(7, 9)
"""The morning editions: the overnight backlog goes out between 07:00 and 09:00 WAT."""
VOLUME_BY_HOUR_WAT = (0.4, 0.04, 0.04, 0.04, 0.4, 0.8, 1.0, 2.5, 2.5, 1.0, 1.0, 1.0,
                      1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8)
"""Share of items_per_hour published in each local hour (0-23 WAT)."""
WEEKEND_VOLUME_FACTOR = 0.75
"""Saturdays and Sundays (WAT) publish this share of a weekday's articles."""
NIGHT_GEOCODING_PENALTY = 0.05
NIGHT_VALIDATION_PENALTY = 0.02


def local_hour(utc_hour: int) -> int:
    """West Africa Time (UTC+1, no daylight saving) hour of a UTC hour."""
    return (utc_hour + 1) % 24


def volume_factor(moment) -> float:
    """The share of a source's items_per_hour published in the hour holding `moment` (an aware
    UTC datetime): the hour's share of the day's rhythm, times the weekend dip."""
    local = moment + WAT_OFFSET
    weekend = WEEKEND_VOLUME_FACTOR if local.weekday() >= 5 else 1.0
    return VOLUME_BY_HOUR_WAT[local.hour] * weekend


WAT_OFFSET = timedelta(hours=1)
