"""Seasonal expectations: the fallback chain, incident exclusion, and the demo's rhythm.

The pure tests craft hourly series; the demo test seeds three weeks of the demo once (SQLite)
and pins what bench/seasonal.py measures: the seasonal model catches every injected incident
and stays quiet in the night lulls, where the flat model false-alarms on the rhythm.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from api.demo import profiles, seed
from api.settings import load_config
from api.status import seasonal
from api.status.anomalies import Hour, band, find_anomalies, scan_seasonal, train_source
from api.storage import migrate
from api.storage.db import Database
from api.timeutil import HOUR, UTC, parse_iso

CONFIG = load_config({}, environ={})
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, 00:00 UTC


def rhythm(end: datetime, weeks: float, day: int = 40, night: int = 2) -> list[Hour]:
    """Hours up to `end` of a source busy from 06 to 22 UTC and quiet otherwise, with a
    weekend at half the weekday volume; rates 90 %."""
    hours = []
    for back in range(int(weeks * 7 * 24), 0, -1):
        stamp = end - back * HOUR
        start = stamp - HOUR
        n = day if 6 <= start.hour < 22 else night
        if start.weekday() >= 5:
            n //= 2
        hours.append(Hour(stamp, n, n * 9 // 10, n, n * 9 // 10))
    return hours


def test_slots_are_named_by_the_hour_start_in_utc():
    assert seasonal.slot_of("hour_of_week", MONDAY + HOUR) == 0
    assert seasonal.slot_of("hour_of_week", MONDAY) == 167  # Sunday 23:00-24:00
    assert seasonal.slot_of("hour_of_day", MONDAY + 15 * HOUR) == 14
    assert seasonal.day_of(MONDAY) == MONDAY - timedelta(days=1)
    assert seasonal.day_of(MONDAY + HOUR) == MONDAY


@pytest.mark.parametrize("weeks, level", [(4, "hour_of_week"), (3, "hour_of_week"),
                                          (1, "hour_of_day"), (3 / 7, "hour_of_day"),
                                          (2.5 / 7, "flat")])
def test_fallback_chain_follows_the_length_of_history(weeks, level):
    """4 or 3 weeks: hour of week; a week or a few days: hour of day; two and a half days:
    flat (fewer than MIN_SLOT_POINTS per hour-of-day slot)."""
    day = MONDAY + timedelta(weeks=4)
    model = train_source(rhythm(day, weeks), day, CONFIG)
    chosen, values = model["volume"].baseline(day + 10 * HOUR)
    assert chosen == level
    if level == "hour_of_week":  # a Monday 09:00-10:00: pooled 08-11 of earlier Mondays
        assert values == [40.0] * len(values) and len(values) == 3 * int(weeks)
    if level == "flat":
        assert len(values) == model["volume"].history == 60


def test_hour_of_day_can_be_the_start_of_the_chain():
    day = MONDAY + timedelta(weeks=4)
    config = {**CONFIG, "ANOMALY_SEASONALITY": "hour_of_day"}
    model = train_source(rhythm(day, 4), day, config)
    assert model["volume"].baseline(day + 10 * HOUR)[0] == "hour_of_day"
    with pytest.raises(ValueError):
        seasonal.chain("none")


def test_the_rhythm_is_not_an_anomaly_but_a_drop_at_its_busy_hour_is():
    """Against its own hour of the week a quiet night and a quiet weekend are normal; the same
    low volume on a weekday afternoon is an anomaly."""
    day = MONDAY + timedelta(weeks=4)
    history = rhythm(day + timedelta(days=7), 5)
    quiet = [Hour(day + (6 * 24 + 3) * HOUR, 1, 1, 1, 1),  # Sunday 02:00-03:00
             Hour(day + (5 * 24 + 15) * HOUR, 20, 18, 20, 18)]  # Saturday afternoon
    hours = sorted([h for h in history if h.end not in {q.end for q in quiet}] + quiet)
    found = scan_seasonal(hours, day, day + timedelta(days=7), CONFIG)
    assert found == []
    dropped = [h if h.end != day + 15 * HOUR else Hour(h.end, 2, 2, 2, 2) for h in hours]
    found = scan_seasonal(dropped, day, day + timedelta(days=7), CONFIG)
    assert [(hour.end, verdict.kind) for hour, verdict in found] == [(day + 15 * HOUR, "volume")]


def test_incident_periods_are_left_out_of_the_training():
    """A past outage (volume 0 every Monday afternoon for two weeks) teaches the model nothing
    once it is a known incident: the slot holds only normal hours."""
    day = MONDAY + timedelta(weeks=4)
    outage = [(MONDAY + timedelta(weeks=week, hours=12), MONDAY + timedelta(weeks=week, hours=18))
              for week in (1, 2)]
    hours = [Hour(h.end, 0, 0, 0, 0) if any(a < h.end and h.end - HOUR < b for a, b in outage)
             else h for h in rhythm(day, 4)]
    blind = train_source(hours, day, CONFIG)["volume"]
    taught = train_source(hours, day, CONFIG, outage)["volume"]
    afternoon = day + 15 * HOUR
    slot = seasonal.slot_of("hour_of_week", afternoon)
    assert blind.baseline(afternoon) == ("hour_of_week", [0.0] * 6 + [40.0] * 6)
    assert taught.slots["hour_of_week"][slot] == [40.0] * 6  # two normal Mondays, 3 hours each
    assert taught.history == blind.history - 12
    level, values = taught.baseline(afternoon)  # 6 < MIN_SLOT_POINTS: a step down
    assert level == "hour_of_day" and 0.0 not in values
    open_ended = train_source(hours, day, CONFIG, [(MONDAY + timedelta(weeks=3), None)])
    assert open_ended["volume"].history == 7 * 24 * 3  # open: left out up to the day


def test_band_is_what_judge_would_not_call_an_anomaly():
    day = MONDAY + timedelta(weeks=4)
    model = train_source(rhythm(day, 4), day, CONFIG)
    busy = band(model["volume"], day + 15 * HOUR, 40, CONFIG)
    quiet = band(model["volume"], day + 3 * HOUR, 2, CONFIG)
    assert busy["expected"] == 40 and busy["lower"] < 40 < busy["upper"]
    assert quiet["expected"] == 2 and quiet["upper"] < busy["lower"]
    rate = band(model["geocoding_success_rate"], day + 15 * HOUR, 40, CONFIG)
    assert rate["upper"] <= 1.0 and rate["lower"] < 0.9 == rate["expected"]
    short = train_source(rhythm(day, 1 / 7), day, CONFIG)
    assert band(short["volume"], day + 15 * HOUR, 40, CONFIG) is None  # under 48 hours


# region the seeded demo
DEMO_NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
DEMO_DAYS = 22
"""Three weeks: enough for hour-of-week slots (MIN_SLOT_POINTS) in the judged days."""
JUDGED_DAYS = 4
"""The judged range reaches back into the scraper outage (4 days before today)."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('seasonal') / 'demo.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    config = load_config({"DATABASE_URL": url}, environ={})
    summary = seed.seed_demo(db, config, days=DEMO_DAYS, seed=7, now=DEMO_NOW, progress=False)
    yield db, config, summary["incidents"]
    db.engine.dispose()


def judged(demo, seasonality):
    db, config, incidents = demo
    with db.session() as session:
        items = find_anomalies(session, {**config, "ANOMALY_SEASONALITY": seasonality},
                               DEMO_NOW - timedelta(days=JUDGED_DAYS), DEMO_NOW)
    caught = {name: [item for item in items if item["source"] == span["source"]
                     and parse_iso(item["start"]) < parse_iso(span["end"])
                     and parse_iso(item["end"]) > parse_iso(span["start"])]
              for name, span in incidents.items()}
    outside = [item for item in items if not any(item in found for found in caught.values())]
    return caught, outside


def lull(item) -> bool:
    return profiles.local_hour(parse_iso(item["start"]).hour) in profiles.NIGHT_HOURS_WAT


def test_on_the_demo_the_seasonal_model_catches_every_incident_and_is_quiet_at_night(demo):
    caught, outside = judged(demo, "hour_of_week")
    assert {name: bool(found) for name, found in caught.items()} == {
        "geocoding_collapse": True, "scraper_outage": True, "silent_source": True}
    assert {item["kind"] for item in caught["geocoding_collapse"]} == {"geocoding_success_rate"}
    assert {item["kind"] for item in caught["silent_source"]} == {"volume"}
    assert [item for item in outside if lull(item)] == []


def test_on_the_demo_the_flat_model_false_alarms_on_the_rhythm_and_misses_drops(demo):
    """Proof the rhythm matters: judged flat (today's model), the morning editions are
    'anomalies' every day and the daytime silences hide in the night lulls' spread."""
    caught, outside = judged(demo, "none")
    burst = [item for item in outside if item["kind"] == "volume" and item["score"] > 0
             and profiles.local_hour(parse_iso(item["start"]).hour) in profiles.BURST_HOURS_WAT]
    assert len({item["start"][:10] for item in burst}) >= JUDGED_DAYS - 1
    assert not caught["silent_source"] and not caught["scraper_outage"]
    assert 3 * len(judged(demo, "hour_of_week")[1]) < len(outside)
# endregion


def test_stored_error_incidents_are_left_out_on_the_database(database):
    """train_models reads the hourly rows and the stored error occurrences (both databases):
    a resolved scraper outage of 6 hours three days ago is not in the model; a warning is."""
    from sqlalchemy import insert

    from api.status.anomalies import train_models
    from api.storage.models import AlertOccurrence, AlertTransition
    from tests.status_fixtures import add_metrics, hourly_history, metric

    end = datetime(2026, 11, 25, 12, tzinfo=UTC)
    outage_start = end - timedelta(days=3, hours=4)
    outage = [outage_start + k * HOUR for k in range(1, 7)]
    rows = [row for row in hourly_history("a", end, 10 * 24, geo=(40, 38))
            if row["timestamp"] not in outage]
    add_metrics(database, rows + [metric(stamp, source="a", geo=(0, 0)) for stamp in outage])

    def occurrence(severity: str, start: datetime, stop: datetime) -> None:
        with database.session() as session:
            [key] = session.execute(insert(AlertOccurrence).returning(AlertOccurrence.id), [{
                "key": f"scraper_failing:a:{severity}", "kind": "scraper_failing", "source": "a",
                "state": "resolved", "severity": severity, "title": "t", "message": "m",
                "since": start, "started_at": start, "fired_at": start, "resolved_at": stop,
                "flapping": False}]).scalars().all()
            session.execute(insert(AlertTransition), [
                {"occurrence_id": key, "key": f"scraper_failing:a:{severity}",
                 "kind": "scraper_failing", "source": "a", "at": at, "state": state,
                 "severity": severity, "message": "m"}
                for at, state in ((start, "firing"), (stop, "resolved"))])

    day = seasonal.day_of(end)
    with database.session() as session:
        blind = train_models(session, CONFIG, [day], ["a"])["a"][day]["volume"]
    occurrence("warning", end - timedelta(days=5), end - timedelta(days=4))
    occurrence("error", outage_start, outage[-1])
    with database.session() as session:
        taught = train_models(session, CONFIG, [day], ["a"])["a"][day]["volume"]
    assert blind.history - taught.history == 6
    assert 0.0 in blind.slots["flat"][0] and 0.0 not in taught.slots["flat"][0]
