"""Sources, alerts and anomalies over HTTP on both databases: the same facts as the status."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.storage.models import ScrapeRun
from api.timeutil import floor_hour, isoformat, utcnow
from tests.export_fixtures import add, metric
from tests.status_fixtures import evaluate_alerts


@pytest.fixture
def history(runtime):
    """72 h of steady hourly rows for punch and vanguard, then a collapse of punch's geocoding
    in the newest hour; punch scrapes fine, vanguard only ever failed."""
    db, now = runtime.db, utcnow()
    newest = floor_hour(now)
    rows = []
    for h in range(72, -1, -1):
        end = newest - timedelta(hours=h)
        bad = h == 0
        rows += [metric(end, source="punch", geo=(100, 30 if bad else 95 + h % 3)),
                 metric(end, source="vanguard", geo=(100, 94 + h % 4)),
                 metric(end, source=None, geo=(200, 190))]
    rows += [metric(now - timedelta(minutes=1), metric_type="aggregate", window_seconds=86400),
             metric(now - timedelta(minutes=1), metric_type="source", source="punch",
                    window_seconds=86400),
             metric(now - timedelta(minutes=1), metric_type="source", source="vanguard",
                    window_seconds=86400, geo=(100, 50))]
    add(db, rows)
    with db.session() as session:
        session.add_all([
            ScrapeRun(source="punch", started_at=now - timedelta(minutes=30),
                      finished_at=now - timedelta(minutes=29), status="success", items_found=5,
                      items_new=2),
            ScrapeRun(source="vanguard", started_at=now - timedelta(hours=3),
                      finished_at=now - timedelta(hours=3), status="failed", items_found=0,
                      items_new=0, error="HTTP 503")])
    evaluate_alerts(db, utcnow(), runtime.config)  # what the evaluator does after a change
    return newest


def test_sources_join_scraping_and_quality_like_the_status(client, history):
    body = client.get("/api/v1/sources").get_json()
    status = client.get("/api/v1/monitoring/pipeline-status").get_json()
    by_name = {item["source"]: item for item in body["items"]}
    assert sorted(by_name) == ["punch", "vanguard"]
    scraping = {s["source"]: s for s in status["scraping_health"]["sources"]}
    assert by_name["punch"]["scraping"]["last_success_at"] == scraping["punch"]["last_success_at"]
    assert by_name["vanguard"]["scraping"]["last_error"] == "HTTP 503"
    assert by_name["vanguard"]["data_quality"]["geocoding_success_rate"] == 0.5
    assert by_name["vanguard"]["status"] == "error"
    assert {a["key"] for a in by_name["vanguard"]["alerts"]} >= {"source_stale:vanguard"}
    assert all(a["source"] == "punch" for a in by_name["punch"]["alerts"])


def test_alerts_current_and_periods_filtered_by_source(client, runtime, history):
    everything = client.get("/api/v1/alerts").get_json()
    assert any(a["source"] == "vanguard" for a in everything["current"])
    only_punch = client.get("/api/v1/alerts?source=punch").get_json()
    assert only_punch["sources"] == ["punch"]
    assert only_punch["current"] and all(a["source"] == "punch" for a in only_punch["current"])
    assert all(p["source"] == "punch" for p in only_punch["items"])
    assert everything["items"] == []  # pending: nothing has fired yet
    later = utcnow() + timedelta(seconds=runtime.config["ALERT_FOR_SECONDS"])
    evaluate_alerts(runtime.db, later, runtime.config)  # they fire
    start, end = history - timedelta(days=2), later + timedelta(hours=1)
    ranged = client.get("/api/v1/alerts", query_string={
        "start": isoformat(start), "end": isoformat(end), "source": "vanguard"}).get_json()
    vanguard = client.get("/api/v1/alerts?source=vanguard").get_json()["current"]
    assert {(p["id"], p["key"], p["state"], p["end"]) for p in ranged["items"]} == {
        (a["id"], a["key"], "firing", None) for a in vanguard}
    assert {p["key"].split(":")[0] for p in ranged["items"]} >= {"source_stale",
                                                                  "scraper_failing"}


def test_anomalies_find_the_collapsed_hour(client, history):
    body = client.get("/api/v1/anomalies").get_json()
    [current] = [a for a in body["current"] if a["kind"] == "geocoding_success_rate"]
    assert current["source"] == "punch" and current["detected_at"] == isoformat(history)
    assert current["value"] == pytest.approx(0.3) and current["score"] < 0
    found = [a for a in body["items"] if a["kind"] == "geocoding_success_rate"]
    assert [(a["source"], a["detected_at"]) for a in found] == [("punch", isoformat(history))]
    none = client.get("/api/v1/anomalies?source=vanguard").get_json()
    assert none["current"] == [] and none["items"] == []


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/anomalies"])
@pytest.mark.parametrize("query, field", [
    ("start=2026-01-01T00:00:00", "start"), ("end=soon", "end"),
    ("start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end"),
    ("start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "start"), ("source=", "source")])
def test_bad_ranges_are_422(client, path, query, field):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422
    assert field in [p["path"] for p in response.get_json()["error"]["details"]["problems"]]


@pytest.mark.parametrize("path", ["/api/v1/metrics", "/api/v1/metrics/series?metric=volume",
                                  "/api/v1/alerts", "/api/v1/anomalies"])
@pytest.mark.parametrize("end", ["2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z"])
def test_every_range_says_the_same_about_an_empty_or_reversed_range(client, path, end):
    """One convention, start <= t < end, and one message: `end` at or before `start` is refused
    alike by the export, the series and the histories."""
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}start=2026-01-01T00:00:00Z&end={end}")
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["problems"] == [
        {"path": "end", "message": "must be after start (ranges are start <= t < end)"}]


def test_an_anomalous_hour_belongs_to_the_range_it_lies_in(client, history):
    """The collapsed hour ends at `history`: it is inside [history - 1h, history + 1h) and not
    in [history, history + 1h), which only touches its end."""
    def found(start, end):
        body = client.get("/api/v1/anomalies", query_string={
            "start": isoformat(start), "end": isoformat(end), "source": "punch"}).get_json()
        return [a["detected_at"] for a in body["items"] if a["kind"] == "geocoding_success_rate"]
    hour = timedelta(hours=1)
    assert found(history - hour, history + hour) == [isoformat(history)]
    assert found(history, history + hour) == []


def test_empty_database_reads_are_empty_not_errors(client):
    assert client.get("/api/v1/sources").get_json()["items"] == []
    for path in ("/api/v1/alerts", "/api/v1/anomalies"):
        body = client.get(path).get_json()
        assert body["items"] == [] and isinstance(body["current"], list)
