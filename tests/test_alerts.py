"""Alert rules (now) and alert periods (the past), on crafted facts and rows."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from api.status.alerts import alert_periods, failing_alert, metrics_stale_alert, quality_periods, \
    rate_alerts, scrape_periods, sort_alerts, stale_alert
from api.status.health import SourceFacts
from api.status.quality import quality_entry
from tests.status_fixtures import HOUR, NOW, add_metrics, add_runs, config, metric, run

CONFIG = config()


def row(stamp, source=None, geo=(10, 10), val=(10, 10)):
    return SimpleNamespace(**metric(stamp, source=source, geo=geo, val=val))


def entry(geo, val=(10, 10), as_of=NOW):
    counts = {"geocoding_attempts": geo[0], "geocoding_successes": geo[1],
              "validation_attempts": val[0], "validation_passes": val[1]}
    return {**quality_entry(counts, CONFIG), "as_of": as_of.isoformat().replace("+00:00", "Z")}


def test_rate_alert_since_is_the_start_of_the_unbroken_bad_run():
    history = [row(NOW, geo=(100, 80)), row(NOW - HOUR, geo=(100, 70)),
               row(NOW - 2 * HOUR, geo=(100, 85)), row(NOW - 3 * HOUR, geo=(100, 95)),
               row(NOW - 4 * HOUR, geo=(100, 10))]
    found = rate_alerts(entry((100, 80)), history, CONFIG, "punch")
    assert len(found) == 1
    item = found[0]
    assert item["key"] == "quality:geocoding_success_rate:punch"
    assert item["severity"] == "warning" and item["source"] == "punch"
    assert item["since"] == "2026-11-25T10:30:00Z"
    assert "80.0 %" in item["message"] and "expected at least 90.0 %" in item["message"]
    assert rate_alerts(entry((100, 90)), history, CONFIG) == []
    assert rate_alerts(entry((100, 74), (100, 50)), [], CONFIG)[0]["key"] == \
        "quality:geocoding_success_rate"


def test_pending_rates_raise_no_alert():
    assert rate_alerts(entry((0, 0), (0, 0)), [], CONFIG) == []


def test_demo_incident_silent_source_for_eight_hours_is_a_stale_error():
    last = NOW - 8 * HOUR
    item = stale_alert(SourceFacts("sahara_reporters", last, "success", last), NOW, CONFIG)
    assert item["key"] == "source_stale:sahara_reporters" and item["severity"] == "error"
    assert item["since"] == "2026-11-25T06:30:00Z"  # two hours after the last success
    assert "expected one at least every 2 h (error after 6 h)" in item["message"]
    fresh = SourceFacts("punch", NOW, "success", NOW - HOUR)
    assert stale_alert(fresh, NOW, CONFIG) is None


def test_never_successful_source_is_stale_since_first_seen():
    facts = SourceFacts("new", NOW - HOUR, "failed", None, first_run_at=NOW - 3 * HOUR,
                        failed_streak=3, failing_since=NOW - 3 * HOUR, last_error="boom")
    assert stale_alert(facts, NOW, CONFIG)["since"] == "2026-11-25T09:30:00Z"


def test_demo_incident_scraper_failing_for_a_day():
    facts = SourceFacts("daily_trust", NOW - HOUR, "failed", NOW - 25 * HOUR,
                        failed_streak=24, failing_since=NOW - 24 * HOUR,
                        last_error="HTTPError 403: Forbidden")
    item = failing_alert(facts)
    assert item["severity"] == "error" and item["since"] == "2026-11-24T12:30:00Z"
    assert "the last 24 runs failed (newest error: HTTPError 403: Forbidden)" in item["message"]
    once = SourceFacts("punch", NOW, "failed", NOW - HOUR, failed_streak=1, failing_since=NOW)
    assert failing_alert(once)["severity"] == "warning"
    assert failing_alert(SourceFacts("punch", NOW, "success", NOW)) is None


def test_metrics_stale_alert():
    assert metrics_stale_alert(NOW - timedelta(minutes=59), NOW, CONFIG) is None
    item = metrics_stale_alert(NOW - HOUR, NOW, CONFIG)
    assert item["key"] == "metrics_stale" and item["since"] == "2026-11-25T12:30:00Z"
    assert metrics_stale_alert(NOW - 9 * HOUR, NOW, config(METRICS_STALE_SECONDS=0)) is None


def test_sort_puts_errors_first_then_keys():
    items = [{"key": "b", "severity": "warning"}, {"key": "c", "severity": "error"},
             {"key": "a", "severity": "warning"}]
    assert [item["key"] for item in sort_alerts(items)] == ["c", "a", "b"]


def test_quality_periods_replay_the_trailing_window():
    cfg = config(QUALITY_WINDOW_SECONDS=3 * 3600)
    rows = [row(NOW + k * HOUR, "vanguard", geo=(10, 2 if 3 <= k < 5 else 10))
            for k in range(10)]
    periods = quality_periods(rows, cfg)
    assert len(periods) == 1
    period = periods[0]
    # bad hours at k=3,4 keep the 3-hour window below 90 % until k=7 drops them out
    assert (period["start"], period["end"]) == (NOW + 3 * HOUR, NOW + 7 * HOUR)
    assert period["severity"] == "error"
    assert period["key"] == "quality:geocoding_success_rate:vanguard"
    still_bad = quality_periods(rows[:6], cfg)
    assert still_bad[0]["end"] is None


def test_scrape_periods_failed_streaks_and_gaps():
    runs = [SimpleNamespace(**r) for r in [
        run("punch", NOW - 10 * HOUR), run("punch", NOW - 9 * HOUR, "failed"),
        run("punch", NOW - 8 * HOUR, "failed"), run("punch", NOW - 7 * HOUR, "failed"),
        run("punch", NOW - 6 * HOUR), run("punch", NOW - HOUR, "failed")]]
    periods = sorted(scrape_periods(runs, NOW, CONFIG), key=lambda p: p["start"])
    summary = [(p["key"], p["severity"], p["start"], p["end"]) for p in periods]
    done = NOW - 10 * HOUR + timedelta(seconds=60)
    assert summary == [
        ("scraper_failing:punch", "error", NOW - 9 * HOUR, NOW - 6 * HOUR),
        ("source_stale:punch", "warning", done + 2 * HOUR, NOW - 6 * HOUR + timedelta(seconds=60)),
        ("source_stale:punch", "warning", NOW - 4 * HOUR + timedelta(seconds=60), None),
        ("scraper_failing:punch", "warning", NOW - HOUR, None)]


def test_alert_periods_on_the_database(database):
    start = NOW - 2 * 24 * HOUR
    add_metrics(database, [metric(start + k * HOUR, source="vanguard",
                                  geo=(200, 20) if k == 20 else (10, 10))
                           for k in range(48)])
    add_runs(database, [run("punch", NOW - 5 * HOUR, "failed"), run("punch", NOW - 4 * HOUR),
                        run("other", NOW - 3 * HOUR, "failed")])
    with database.session() as session:
        every = alert_periods(session, CONFIG, start, NOW, now=NOW)
        punch = alert_periods(session, CONFIG, start, NOW, sources=["punch"], now=NOW)
    assert [(p["key"], p["start"], p["end"]) for p in every] == [
        ("source_stale:punch", "2026-11-25T10:31:00Z", None),  # last success 08:31
        ("scraper_failing:other", "2026-11-25T09:30:00Z", None),
        ("scraper_failing:punch", "2026-11-25T07:30:00Z", "2026-11-25T08:30:00Z"),
        ("quality:geocoding_success_rate:vanguard", "2026-11-24T08:30:00Z",
         "2026-11-25T08:30:00Z")]  # the bad hour leaves the 24 h window after 24 h
    assert every[3]["severity"] == "error" and every[3]["title"].startswith("Geocoding")
    assert [p["key"] for p in punch] == ["source_stale:punch", "scraper_failing:punch"]
