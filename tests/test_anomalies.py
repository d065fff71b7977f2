"""Anomaly rules on crafted series, and find_anomalies/current_anomalies on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.status.anomalies import Hour, build_series, current_anomalies, find_anomalies, judge, mad, \
    median, robust_score, scan
from tests.status_fixtures import HOUR, NOW, add_metrics, config, hourly_history, metric

CONFIG = config()
END = NOW.replace(minute=0)


def steady(hours: int, end=END, attempts=10, pattern=(10, 9, 10, 10, 9), volume_wave=False):
    """A source's normal week: rates 90-100 %, volume steady (or a day/night wave)."""
    series = []
    for back in range(hours, 0, -1):
        stamp = end - back * HOUR
        n = attempts + (((stamp.hour % 12) - 6) if volume_wave else 0)
        ok = max(n - (pattern[0] - pattern[back % len(pattern)]), 0)
        series.append(Hour(stamp, n, ok, n, ok))
    return series


def test_median_and_mad():
    assert median([1, 2, 3]) == 2 and median([1, 2, 3, 4]) == 2.5
    assert mad([1, 2, 3, 4, 100], 3) == 1


def test_flat_baseline_with_mad_zero_still_scores():
    flat = [0.95] * 100
    score, centre = robust_score(0.5, flat, floor=0.01)
    assert centre == 0.95 and score == pytest.approx(0.6745 * -0.45 / 0.01)
    assert judge("geocoding_success_rate", 0.5, 40, flat, CONFIG).severity == "error"
    assert judge("geocoding_success_rate", 0.925, 40, flat, CONFIG) is None


def test_too_little_history_never_alarms():
    short = [0.95] * (CONFIG["ANOMALY_MIN_HISTORY_HOURS"] - 1)
    assert judge("geocoding_success_rate", 0.0, 50, short, CONFIG) is None
    assert judge("geocoding_success_rate", 0.0, 50, short + [0.95], CONFIG) is not None


def test_too_few_attempts_never_judges_a_rate_but_volume_is_judged():
    baseline = [0.95] * 100
    few = CONFIG["ANOMALY_MIN_ATTEMPTS"] - 1
    assert judge("validation_pass_rate", 0.0, few, baseline, CONFIG) is None
    assert judge("validation_pass_rate", 0.0, few + 1, baseline, CONFIG) is not None
    assert judge("volume", 0.0, 0, [40.0] * 100, CONFIG) is not None


def test_rates_alarm_on_drops_only_volume_both_ways():
    rates = sorted([0.5, 0.55, 0.6] * 40)
    assert judge("geocoding_success_rate", 1.0, 100, rates, CONFIG) is None
    assert judge("geocoding_success_rate", 0.05, 100, rates, CONFIG).score < 0
    volumes = sorted([38.0, 40.0, 42.0] * 40)
    assert judge("volume", 120.0, 120, volumes, CONFIG).score > 0
    assert judge("volume", 2.0, 2, volumes, CONFIG).score < 0
    assert judge("volume", 44.0, 44, volumes, CONFIG) is None


def test_small_samples_are_not_anomalies_by_chance():
    """4 of 6 against a median of 100 % is bad luck, not an incident (binomial noise floor)."""
    baseline = sorted([1.0] * 120 + [0.8] * 48)
    assert judge("validation_pass_rate", 4 / 6, 6, baseline, CONFIG) is None
    assert judge("validation_pass_rate", 0 / 6, 6, baseline, CONFIG) is not None


def test_threshold_is_configurable_and_severity_grows_with_the_score():
    baseline = sorted([0.9, 0.95, 1.0] * 60)
    verdict = judge("geocoding_success_rate", 0.6, 40, baseline, CONFIG)
    assert verdict.severity == "warning" and -7 < verdict.score <= -3.5
    assert judge("geocoding_success_rate", 0.6, 40, baseline, config(ANOMALY_THRESHOLD=10)) is None
    assert judge("geocoding_success_rate", 0.05, 40, baseline, CONFIG).severity == "error"


def test_demo_incident_geocoding_collapse_for_a_few_hours_is_caught_hour_by_hour():
    normal = steady(7 * 24)
    collapse = [Hour(END + k * HOUR, 10, 2, 10, 10) for k in range(4)]
    after = [Hour(END + (4 + k) * HOUR, 10, 10, 10, 10) for k in range(3)]
    found = scan(normal + collapse + after, END - 2 * 24 * HOUR, END + 8 * HOUR, CONFIG)
    assert [(hour.end, verdict.kind) for hour, verdict in found] == [
        (hour.end, "geocoding_success_rate") for hour in collapse]
    assert all(verdict.value == 0.2 and verdict.baseline >= 0.9 for _, verdict in found)


def test_demo_incident_silent_source_shows_as_a_volume_drop_when_it_is_steady():
    """Rows stop, the collected hours go on: the silent hours count as volume 0."""
    rows = [("punch", *hour) for hour in steady(7 * 24, attempts=40, pattern=(40, 39, 38))]
    silent = [END + k * HOUR for k in range(8)]
    collected = [row[1] for row in rows] + silent
    series = build_series(rows, collected)["punch"]
    assert [hour.geocoding_attempts for hour in series[-8:]] == [0] * 8
    found = scan(series, END, END + 8 * HOUR, CONFIG)
    assert {(hour.end, verdict.kind) for hour, verdict in found} == {
        (moment, "volume") for moment in silent}


def test_judging_a_few_hours_agrees_with_judging_them_all():
    """scan() visits only the judged hours and the first one's baseline: same verdicts."""
    hours = steady(9 * 24, volume_wave=True)
    hours[-30:] = [Hour(h.end, h.geocoding_attempts, k % 4, h.validation_attempts,
                        h.validation_passes) for k, h in enumerate(hours[-30:])]
    everything = scan(hours, hours[0].end, hours[-1].end, CONFIG)
    assert everything
    for hour in hours[-40:]:
        one = scan(hours, hour.end, hour.end, CONFIG)
        assert one == [item for item in everything if item[0].end == hour.end]
    middle = scan(hours, hours[-20].end, hours[-10].end, CONFIG)
    assert middle == [item for item in everything
                      if hours[-20].end <= item[0].end <= hours[-10].end]


def test_day_night_volume_wave_is_not_an_anomaly():
    found = scan(steady(10 * 24, volume_wave=True), END - 3 * 24 * HOUR, END, CONFIG)
    assert found == []


def test_find_and_current_anomalies_on_the_database(database):
    newest = END
    rows = hourly_history("vanguard", newest - 3 * HOUR, 7 * 24, geo=(10, 9))
    rows += hourly_history("punch", newest, 7 * 24 + 3, geo=(10, 10))
    for k in range(3):  # vanguard collapses in the newest three hours
        stamp = newest - (2 - k) * HOUR
        rows.append(metric(stamp, source="vanguard", geo=(10, 1)))
    add_metrics(database, rows)
    with database.session() as session:
        found = find_anomalies(session, CONFIG, newest - 24 * HOUR, newest)
        only_punch = find_anomalies(session, CONFIG, newest - 24 * HOUR, newest, ["punch"])
        current = current_anomalies(session, CONFIG, NOW)
    assert [(item["source"], item["kind"], item["detected_at"]) for item in found] == [
        ("vanguard", "geocoding_success_rate", f"2026-11-25T{hour:02d}:00:00Z")
        for hour in (12, 11, 10)]
    assert found[0]["value"] == 0.1 and found[0]["baseline"] == 0.9
    assert found[0]["start"] == "2026-11-25T11:00:00Z" and found[0]["end"] == "2026-11-25T12:00:00Z"
    assert only_punch == []
    assert len(current) == 1 and current[0]["since"] == "2026-11-25T09:00:00Z"


def test_no_hourly_rows_means_no_anomalies(database):
    with database.session() as session:
        assert current_anomalies(session, CONFIG, NOW) == []
        assert find_anomalies(session, CONFIG, NOW - timedelta(days=1), NOW) == []


def _cached(database, cache, config=CONFIG):
    with database.session() as session:
        cached = current_anomalies(session, config, NOW, cache)
        fresh = current_anomalies(session, config, NOW)
    assert cached == fresh  # the cache is invisible except for speed
    return cached


def test_cache_never_serves_stale_anomalies(database):
    """A new anomalous hour, a replaced row (delete-then-insert, as the collector does; SQLite may
    reuse the deleted id), an older row and a changed threshold all show in the next answer."""
    from sqlalchemy import delete

    from api.status.anomalies import AnomalyCache
    from api.storage.models import DataQualityMetric as M
    cache = AnomalyCache()
    newest = END - HOUR
    add_metrics(database, hourly_history("vanguard", newest, 7 * 24, geo=(10, 9)))
    assert _cached(database, cache) == []
    assert _cached(database, cache) == []  # served from the cache
    add_metrics(database, [metric(END, source="vanguard", geo=(10, 1)), metric(END, geo=(10, 1))])
    found = _cached(database, cache)
    assert [(item["source"], item["kind"]) for item in found] == [
        ("vanguard", "geocoding_success_rate")]
    with database.session() as session:  # the newest hour recomputed: now a normal hour
        session.execute(delete(M).where(M.metric_type == "hourly", M.timestamp == END))
    add_metrics(database, [metric(END, source="vanguard", geo=(10, 9)), metric(END, geo=(10, 9))])
    assert _cached(database, cache) == []
    with database.session() as session:  # and back to bad, same number of rows again
        session.execute(delete(M).where(M.metric_type == "hourly", M.timestamp == END))
    add_metrics(database, [metric(END, source="vanguard", geo=(10, 1)), metric(END, geo=(10, 1))])
    assert len(_cached(database, cache)) == 1
    lenient = {**CONFIG, "ANOMALY_THRESHOLD": 1000.0}
    assert _cached(database, cache, lenient) == []
    assert len(_cached(database, cache)) == 1
