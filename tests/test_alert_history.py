"""`GET /api/v1/alerts` `items` and the charts' shading, on both databases: the stored
occurrences that fired, from when they fired to when they resolved."""
from __future__ import annotations

from datetime import timedelta

from api import queries
from api.schemas.documents import Alerts
from api.timeutil import isoformat
from tests.status_fixtures import NOW, add_metrics, add_runs, config, evaluate_alerts, \
    metric, run

CONFIG = config(ALERT_FOR_SECONDS=120, ALERT_KEEP_FIRING_SECONDS=120,
                ALERT_FLAPPING_TRANSITIONS=6)
STEP = timedelta(seconds=60)
GEOCODED = {"g": 99, "w": 80, "e": 60}
"""Geocoded of 100 per minute: good, a warning (below 90 %), an error (below 75 %)."""


def at(minutes: int) -> str:
    return isoformat(NOW + minutes * STEP)


def write_history(db) -> None:
    """Evaluations each minute for 14 minutes:
    - all-sources geocoding: a warning from minute 0, an error from 4 to 6, a warning again,
      clear from 9: pending 0, firing 2, resolved 11 (after keep_firing_for), worst error;
    - all-sources validation dips at minute 1 only: pending 1, resolved 2, never fired;
    - punch's newest run fails from minute 1 on: pending 1, firing 3, still open."""
    add_runs(db, [run("punch", NOW - timedelta(minutes=10)),
                  run("punch", NOW + STEP - timedelta(seconds=30), status="failed",
                      error="HTTP 500")])
    geocoding = "wwwweeewwgggggg"
    add_metrics(db, [metric(NOW + i * STEP, "aggregate", geo=(100, GEOCODED[mark]),
                            val=(100, 80 if i == 1 else 100), window_seconds=86400)
                     for i, mark in enumerate(geocoding)])
    for i in range(len(geocoding)):
        evaluate_alerts(db, NOW + i * STEP, CONFIG)


def items(client, **params) -> list[dict]:
    response = client.get("/api/v1/alerts", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    Alerts.model_validate_json(response.get_data(as_text=True), strict=True)
    return response.get_json()["items"]


def test_items_are_the_occurrences_that_fired(client, runtime):
    write_history(runtime.db)
    listed = items(client, start=at(-60), end=at(60))
    assert [(p["key"], p["state"], p["severity"], p["start"], p["end"]) for p in listed] == [
        ("scraper_failing:punch", "firing", "warning", at(3), None),
        ("quality:geocoding_success_rate", "resolved", "error", at(2), at(11))]
    assert listed[1]["title"] == "Geocoding success rate low" and listed[1]["source"] is None
    events = client.get("/api/v1/alerts/events").get_json()["items"]
    ids = {event["key"]: event["alert_id"] for event in events}
    assert {p["key"]: p["id"] for p in listed} == {
        key: ids[key] for key in ("scraper_failing:punch", "quality:geocoding_success_rate")}
    # The validation dip was recorded (pending, resolved) but never fired: not a period.
    assert [e["state"] for e in events if e["key"] == "quality:validation_pass_rate"] == [
        "pending", "resolved"]


def test_items_overlap_the_half_open_range_and_filter_by_source(client, runtime):
    write_history(runtime.db)
    keys = lambda **params: [p["key"] for p in items(client, **params)]  # noqa: E731
    assert keys(start=at(11), end=at(60)) == ["scraper_failing:punch"]  # resolved at its start
    assert keys(start=at(10), end=at(60)) == ["scraper_failing:punch",
                                              "quality:geocoding_success_rate"]
    assert keys(start=at(-60), end=at(3)) == ["quality:geocoding_success_rate"]  # fires at end
    assert keys(start=at(-60), end=at(2)) == []  # nothing had fired before minute 2
    assert keys(start=at(-60), end=at(60), source="punch") == ["scraper_failing:punch"]


def test_the_charts_read_the_same_periods(client, runtime):
    """The page's shading asks queries.alert_history, the function behind `items`."""
    write_history(runtime.db)
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    assert queries.alert_history(runtime, start, end) == items(
        client, start=isoformat(start), end=isoformat(end))
