"""`GET /api/v1/alerts/events` on both databases: the stored transitions, filtered by range,
source and kind, in signed cursor pages."""
from __future__ import annotations

from datetime import timedelta

from api.schemas.documents import AlertEvents
from api.timeutil import isoformat
from tests.status_fixtures import NOW, add_metrics, add_runs, config, evaluate_alerts, \
    metric, run

CONFIG = config(ALERT_FOR_SECONDS=120, ALERT_KEEP_FIRING_SECONDS=120,
                ALERT_FLAPPING_TRANSITIONS=6)
STEP = timedelta(seconds=60)
PATH = "/api/v1/alerts/events"


def write_history(db) -> None:
    """All-sources geocoding bad for 3 minutes, then good (pending, firing, resolved);
    punch's newest run failed from minute 1 on (pending, firing); then evaluations each minute."""
    add_runs(db, [run("punch", NOW - timedelta(minutes=10)),
                  run("punch", NOW + STEP - timedelta(seconds=30), status="failed",
                      error="HTTP 500")])
    pattern = "bbbggggg"
    add_metrics(db, [metric(NOW + i * STEP, "aggregate", geo=(100, 80 if mark == "b" else 99),
                            val=(100, 100), window_seconds=86400)
                     for i, mark in enumerate(pattern)])
    for i in range(len(pattern)):
        evaluate_alerts(db, NOW + i * STEP, CONFIG)


def events(client, **params):
    response = client.get(PATH, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return AlertEvents.model_validate_json(response.get_data(as_text=True), strict=True) and \
        response.get_json()


def test_every_transition_in_order_with_its_message(client, runtime):
    write_history(runtime.db)
    body = events(client)
    listed = [(item["key"], item["state"], item["at"]) for item in body["items"]]
    assert listed == [
        ("quality:geocoding_success_rate", "pending", "2026-11-25T12:30:00Z"),
        ("scraper_failing:punch", "pending", "2026-11-25T12:31:00Z"),
        ("quality:geocoding_success_rate", "firing", "2026-11-25T12:32:00Z"),
        ("scraper_failing:punch", "firing", "2026-11-25T12:33:00Z"),
        ("quality:geocoding_success_rate", "resolved", "2026-11-25T12:35:00Z")]
    first = body["items"][0]
    assert first["kind"] == "quality" and first["source"] is None
    assert first["severity"] == "warning" and "80.0 %" in first["message"]
    assert body["items"][1]["source"] == "punch" and body["items"][1]["alert_id"] == 2
    assert body["next_cursor"] is None and body["truncated"] is False


def test_filters_by_source_kind_and_half_open_range(client, runtime):
    write_history(runtime.db)
    punch = events(client, source="punch")["items"]
    assert {item["key"] for item in punch} == {"scraper_failing:punch"}
    quality = events(client, kind="quality")["items"]
    assert [item["state"] for item in quality] == ["pending", "firing", "resolved"]
    ranged = events(client, start=isoformat(NOW + STEP), end=isoformat(NOW + 3 * STEP))["items"]
    assert [item["at"] for item in ranged] == ["2026-11-25T12:31:00Z", "2026-11-25T12:32:00Z"]


def test_pages_follow_the_signed_cursor(client, runtime):
    write_history(runtime.db)
    whole = events(client)["items"]
    seen, params = [], {"limit": 2}
    while True:
        page = events(client, **params)
        seen += page["items"]
        if not page["next_cursor"]:
            break
        assert page["truncated"] and len(page["items"]) == 2
        assert page["next_url"].startswith(PATH + "?limit=2&cursor=")
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert seen == whole


def test_bad_parameters_and_cursors_are_refused(client, runtime):
    write_history(runtime.db)
    cursor = events(client, limit=1)["next_cursor"]
    other_filters = client.get(PATH, query_string={"limit": 1, "cursor": cursor, "kind": "anomaly"})
    assert other_filters.status_code == 400
    assert other_filters.get_json()["error"]["code"] == "invalid_cursor"
    tampered = client.get(PATH, query_string={"limit": 1, "cursor": cursor[:-2] + "xx"})
    assert tampered.status_code == 400
    metrics_cursor = client.get("/api/v1/metrics", query_string={"limit": 1}).get_json()
    assert metrics_cursor["next_cursor"]
    crossed = client.get(PATH, query_string={"limit": 1, "cursor": metrics_cursor["next_cursor"]})
    assert crossed.status_code == 400  # a metrics cursor is bound to the metrics route
    bad = client.get(PATH, query_string={"kind": "nonsense", "limit": "0",
                                         "start": "2026-11-25T13:00:00Z",
                                         "end": "2026-11-25T12:00:00Z"})
    assert bad.status_code == 422
    assert {p["path"] for p in bad.get_json()["error"]["details"]["problems"]} == {
        "kind", "limit", "end"}
