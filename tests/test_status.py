"""The whole status document on both databases, and over REST with `seq`."""
from __future__ import annotations

import re
from datetime import timedelta

from api.status.document import pipeline_status
from api.timeutil import utcnow
from tests.status_fixtures import HOUR, NOW, add_conflicts, add_forecast, add_metrics, \
    add_runs, config, conflict, evaluate_alerts, hourly_history, metric, run

CONFIG = config()
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TOP_KEYS = {"timestamp", "overall_status", "scraping_health", "data_quality", "anomalies",
            "alerts", "freshness"}
SOURCE_KEYS = {"source", "status", "last_run_at", "last_success_at", "runs_24h",
               "failures_24h", "items_24h", "last_error"}
HEALTH_KEYS = {"status", "runs_24h", "failures_24h", "success_rate_24h", "healthy_sources",
               "sources"}
QUALITY_KEYS = {"status", "basis", "as_of", "geocoding_success_rate", "validation_pass_rate",
                "geocoding_success_rate_status", "validation_pass_rate_status",
                "geocoding_attempts", "geocoding_successes", "validation_attempts",
                "validation_passes", "by_source"}
ANOMALY_KEYS = {"kind", "source", "detected_at", "value", "baseline", "score", "severity"}
ALERT_KEYS = {"key", "severity", "title", "message", "source", "since", "id", "state",
              "fired_at", "flapping", "ack", "silenced"}


def times_in(value, path=""):
    """Every (path, text) of a key ending in _at / named timestamp, since, as_of, detected_at."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                yield from times_in(item, f"{path}.{key}")
            elif key.endswith("_at") or key in {"timestamp", "since", "as_of"}:
                yield f"{path}.{key}", item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from times_in(item, f"{path}[{index}]")


def write_pipeline(db):
    """Three sources: punch healthy, vanguard's geocoding collapsing, sahara silent 8 hours."""
    runs = []
    for k in range(1, 48):
        runs.append(run("punch", NOW - k * HOUR, items_new=10))
        runs.append(run("vanguard", NOW - k * HOUR + timedelta(minutes=5), items_new=10))
        if k >= 8:
            runs.append(run("sahara_reporters", NOW - k * HOUR, items_new=4))
    add_runs(db, runs)
    newest_hour = NOW.replace(minute=0)
    rows = hourly_history("punch", newest_hour, 8 * 24, geo=(10, 10))
    rows += hourly_history("vanguard", newest_hour - 3 * HOUR, 8 * 24 - 3, geo=(10, 9),
                           with_all_sources=False)
    rows += [metric(newest_hour - k * HOUR, source="vanguard", geo=(10, 1)) for k in range(3)]
    cycle = NOW - timedelta(minutes=5)
    rows += [metric(cycle, "aggregate", geo=(480, 400), val=(480, 470), window_seconds=86400),
             metric(cycle, "source", "punch", geo=(240, 239), val=(240, 240),
                    window_seconds=86400),
             metric(cycle, "source", "vanguard", geo=(240, 161), val=(240, 230),
                    window_seconds=86400)]
    add_metrics(db, rows)
    add_conflicts(db, [conflict("punch", NOW - timedelta(minutes=3))])
    add_forecast(db, NOW - 10 * HOUR)


def test_empty_database_is_all_pending(database):
    with database.session() as session:
        doc = pipeline_status(session, NOW, CONFIG)
    assert set(doc) == TOP_KEYS
    assert doc["overall_status"] == "pending"
    assert doc["scraping_health"] == {"status": "pending", "runs_24h": 0, "failures_24h": 0,
                                      "success_rate_24h": None, "healthy_sources": 0,
                                      "sources": []}
    assert doc["data_quality"]["status"] == "pending"
    assert doc["data_quality"]["basis"] == "conflicts"
    assert doc["anomalies"] == [] and doc["alerts"] == []
    assert doc["freshness"] == {"latest_conflict_at": None, "latest_metric_at": None,
                                "latest_scrape_at": None, "latest_forecast_at": None}
    assert doc["timestamp"] == "2026-11-25T12:30:00Z"


def test_full_document_from_crafted_rows(database):
    write_pipeline(database)
    evaluate_alerts(database, NOW)
    with database.session() as session:
        doc = pipeline_status(session, NOW, CONFIG)
        again = pipeline_status(session, NOW, CONFIG)
    assert set(doc) == TOP_KEYS
    assert set(doc["scraping_health"]) == HEALTH_KEYS
    assert all(set(item) == SOURCE_KEYS for item in doc["scraping_health"]["sources"])
    assert set(doc["data_quality"]) == QUALITY_KEYS
    assert all(set(item) == ANOMALY_KEYS for item in doc["anomalies"])
    assert all(set(item) == ALERT_KEYS for item in doc["alerts"])
    for path, text in times_in(doc):
        assert text is None or ISO_Z.match(text), (path, text)

    health = {item["source"]: item for item in doc["scraping_health"]["sources"]}
    assert list(health) == ["punch", "sahara_reporters", "vanguard"]
    assert health["punch"]["status"] == "healthy" and health["punch"]["runs_24h"] == 24
    assert health["sahara_reporters"]["status"] == "error"
    assert doc["scraping_health"]["status"] == "error"
    assert doc["scraping_health"]["runs_24h"] == 24 + 24 + 17  # sahara silent for 7 of them
    assert doc["scraping_health"]["success_rate_24h"] == 1.0
    assert doc["scraping_health"]["healthy_sources"] == 2

    quality = doc["data_quality"]
    assert quality["basis"] == "metrics" and quality["as_of"] == "2026-11-25T12:25:00Z"
    assert quality["geocoding_success_rate"] == 400 / 480  # from the counts, unrounded
    assert quality["status"] == "warning"
    assert quality["geocoding_success_rate_status"] == "warning"  # 400 / 480
    assert quality["validation_pass_rate_status"] == "healthy"    # 470 / 480
    assert [(s["source"], s["status"]) for s in quality["by_source"]] == [
        ("punch", "healthy"), ("vanguard", "error")]

    assert [(a["source"], a["kind"], a["detected_at"]) for a in doc["anomalies"]] == [
        ("vanguard", "geocoding_success_rate", "2026-11-25T12:00:00Z")]
    keys = [alert["key"] for alert in doc["alerts"]]
    assert keys == ["quality:geocoding_success_rate:vanguard", "source_stale:sahara_reporters",
                    "anomaly:geocoding_success_rate:vanguard", "quality:geocoding_success_rate"]
    anomaly_alert = doc["alerts"][2]
    assert anomaly_alert["since"] == "2026-11-25T09:00:00Z"  # the first of three bad hours
    # Just opened by the evaluation at NOW: pending (ALERT_FOR_SECONDS), unacknowledged.
    assert {(a["state"], a["fired_at"], a["flapping"], a["ack"], a["silenced"])
            for a in doc["alerts"]} == {("pending", None, False, None, None)}
    assert sorted(a["id"] for a in doc["alerts"]) == [1, 2, 3, 4]
    assert doc["overall_status"] == "error"
    assert doc["freshness"] == {"latest_conflict_at": "2026-11-25T12:27:00Z",
                                "latest_metric_at": "2026-11-25T12:25:00Z",
                                "latest_scrape_at": "2026-11-25T11:35:00Z",
                                "latest_forecast_at": "2026-11-25T02:30:00Z"}
    assert again == doc  # deterministic: lists sorted, no clock-relative text


def test_basis_conflicts_when_metrics_are_empty(database):
    add_runs(database, [run("punch", NOW - HOUR)])
    add_conflicts(database, [conflict("punch", NOW - HOUR),
                             conflict("punch", NOW - 2 * HOUR, "failed", "passed")])
    evaluate_alerts(database, NOW)
    with database.session() as session:
        doc = pipeline_status(session, NOW, CONFIG)
    quality = doc["data_quality"]
    assert quality["basis"] == "conflicts"
    assert (quality["geocoding_attempts"], quality["geocoding_success_rate"]) == (2, 0.5)
    assert quality["status"] == "error"
    assert [alert["key"] for alert in doc["alerts"]] == [
        "quality:geocoding_success_rate", "quality:geocoding_success_rate:punch"]
    assert doc["alerts"][0]["since"] == quality["as_of"] == "2026-11-25T11:30:00Z"
    assert doc["overall_status"] == "error"


def test_stale_metrics_are_said(database):
    add_metrics(database, [metric(NOW - 2 * HOUR, "aggregate", window_seconds=86400)])
    evaluate_alerts(database, NOW)
    with database.session() as session:
        doc = pipeline_status(session, NOW, CONFIG)
    assert [alert["key"] for alert in doc["alerts"]] == ["metrics_stale"]
    assert doc["overall_status"] == "warning"


def test_rest_returns_the_document_with_seq(client, runtime):
    first = client.get("/api/v1/monitoring/pipeline-status")
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == TOP_KEYS | {"seq"} and body["overall_status"] == "pending"
    repeat = client.get("/api/v1/monitoring/pipeline-status").get_json()
    assert repeat["seq"] == body["seq"]
    add_runs(runtime.db, [run("punch", utcnow() - timedelta(minutes=5))])
    changed = client.get("/api/v1/monitoring/pipeline-status").get_json()
    assert changed["seq"] == body["seq"] + 1
    assert [s["source"] for s in changed["scraping_health"]["sources"]] == ["punch"]
    assert [s["status"] for s in changed["scraping_health"]["sources"]] == ["healthy"]
    assert runtime.telemetry.registry.get_sample_value(
        "pipewatch_status_computations_total", {"caller": "rest"}) == 3


def test_status_reads_one_snapshot(database):
    """A row committed while a status computation runs is invisible to the rest of it, so the
    document cannot show it in `freshness` but not in `scraping_health` (PostgreSQL READ
    COMMITTED would; SQLite without an explicit BEGIN would too)."""
    from api.status.document import begin_snapshot, freshness
    from tests.status_fixtures import add_metrics, metric
    add_metrics(database, [metric(NOW - 2 * HOUR)])
    with database.session() as session:
        begin_snapshot(session)
        before = freshness(session)
        add_metrics(database, [metric(NOW - HOUR)])  # another connection commits
        assert freshness(session) == before
    with database.session() as session:
        assert freshness(session) != before
