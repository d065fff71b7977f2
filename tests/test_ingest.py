"""Ingest over HTTP on both databases: the gates in order, all-or-nothing lists, idempotency."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from api.storage.models import ScrapeRun
from api.timeutil import isoformat, utcnow
from tests.export_fixtures import TOKEN, auth, count_metrics


def body(**changes):
    row = {"timestamp": isoformat(utcnow().replace(minute=0, second=0, microsecond=0)),
           "window_seconds": 3600, "metric_type": "hourly", "source": "punch",
           "geocoding_attempts": 10, "geocoding_successes": 8,
           "validation_attempts": 20, "validation_passes": 19}
    row.update(changes)
    return row


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_INGEST_TOKEN=TOKEN, MAX_BODY_BYTES=4096)


@pytest.fixture
def db(runtime):
    return runtime.db


def test_one_row_is_stored_with_derived_rates_and_status(client, runtime, db):
    heard = []
    runtime.change_listeners.append(lambda: heard.append(count_metrics(db)))
    response = client.post("/api/v1/metrics", json=body(), headers=auth())
    assert response.status_code == 201
    [item] = response.get_json()["items"]
    assert item["id"] > 0 and item["source"] == "punch"
    assert item["geocoding_success_rate"] == pytest.approx(0.8)
    assert item["validation_pass_rate"] == pytest.approx(0.95)
    assert item["status"] == "warning"
    assert item["timestamp"].endswith("Z") and item["created_at"].endswith("Z")
    assert heard == [1], "the live push is told once, after the commit"
    listed = client.get("/api/v1/metrics").get_json()["items"]
    assert listed == [item]


def test_list_is_all_or_nothing_and_reports_every_problem(client, db):
    bad = [body(), body(source=None, metric_type="source"), body(geocoding_successes=11),
           body(timestamp="2026-11-25T10:00:00"), "not an object"]
    response = client.post("/api/v1/metrics", json=bad, headers=auth())
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert {p["path"] for p in problems} == {
        "[1].source", "[2].geocoding_successes", "[3].timestamp", "[4]"}
    assert count_metrics(db) == 0
    good = client.post("/api/v1/metrics", json=[body(), body(source="vanguard"),
                                                body(metric_type="aggregate", source=None,
                                                     window_seconds=86400)], headers=auth())
    assert good.status_code == 201 and len(good.get_json()["items"]) == 3
    assert count_metrics(db) == 3
    # In the body's order, each exactly as the export shows it (times, rates, status).
    assert [item["source"] for item in good.get_json()["items"]] == ["punch", "vanguard", None]
    assert good.get_json()["items"] == client.get("/api/v1/metrics").get_json()["items"]


def test_rate_that_contradicts_counts_is_refused(client, db):
    wrong = client.post("/api/v1/metrics", json=body(geocoding_success_rate=0.95), headers=auth())
    assert wrong.status_code == 422
    [problem] = wrong.get_json()["error"]["details"]["problems"]
    assert problem["path"] == "geocoding_success_rate"
    assert count_metrics(db) == 0
    zero = body(geocoding_attempts=0, geocoding_successes=0, geocoding_success_rate=0.0)
    assert client.post("/api/v1/metrics", json=zero, headers=auth()).status_code == 422
    right = body(geocoding_success_rate=0.8, validation_pass_rate=0.95, status="warning")
    assert client.post("/api/v1/metrics", json=right, headers=auth()).status_code == 201
    lying_status = body(status="healthy")
    assert client.post("/api/v1/metrics", json=lying_status, headers=auth()).status_code == 422


def test_future_timestamps_beyond_the_skew_are_refused(client, db):
    soon = isoformat(utcnow() + timedelta(seconds=60))
    later = isoformat(utcnow() + timedelta(hours=1))
    assert client.post("/api/v1/metrics", json=body(timestamp=later),
                       headers=auth()).status_code == 422
    assert count_metrics(db) == 0
    assert client.post("/api/v1/metrics", json=body(timestamp=soon),
                       headers=auth()).status_code == 201


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401),
    ({"Authorization": "Basic " + TOKEN}, 401)])
def test_missing_or_wrong_token_is_401_and_writes_nothing(client, db, headers, status):
    response = client.post("/api/v1/metrics", json=body(), headers=headers)
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert TOKEN not in response.get_data(as_text=True)
    assert count_metrics(db) == 0


def test_no_configured_token_refuses_every_write(make_app):
    app = make_app(PIPEWATCH_INGEST_TOKEN="")
    client = app.server.test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = client.post("/api/v1/metrics", json=body(), headers=headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "writes_disabled"
    assert count_metrics(app.server.extensions["pipewatch"].db) == 0


def test_content_type_size_and_syntax_gates(client, db):
    wrong_type = client.post("/api/v1/metrics", data="timestamp=x", headers={
        **auth(), "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status_code == 415
    for raw in (b"{not json", b"", b'{"a": NaN}', b"\xff\xfe", b"[" * 100_000):
        response = client.post("/api/v1/metrics", data=raw,
                               headers={**auth(), "Content-Type": "application/json"})
        assert response.status_code in (400, 413), raw[:10]
        assert response.get_json()["error"]["code"] in ("bad_json", "payload_too_large")
    too_big = client.post("/api/v1/metrics", json=[body()] * 40, headers=auth())
    assert too_big.status_code == 413
    assert too_big.get_json()["error"]["code"] == "payload_too_large"
    assert client.post("/api/v1/metrics", json=[], headers=auth()).status_code == 422
    assert count_metrics(db) == 0


def test_idempotency_key_replays_the_first_result(client, db):
    headers = {**auth(), "Idempotency-Key": "retry-1"}
    first = client.post("/api/v1/metrics", json=[body(), body(source="b")], headers=headers)
    again = client.post("/api/v1/metrics", json=[body(), body(source="b")], headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert count_metrics(db) == 2
    other = client.post("/api/v1/metrics", json=[body(source="c")], headers=headers)
    assert other.status_code == 409
    assert count_metrics(db) == 2
    fresh = client.post("/api/v1/metrics", json=body(), headers={**auth(),
                                                                  "Idempotency-Key": "retry-2"})
    assert fresh.status_code == 201 and count_metrics(db) == 3
    bad_key = client.post("/api/v1/metrics", json=body(), headers={**auth(),
                                                                    "Idempotency-Key": "x" * 300})
    assert bad_key.status_code == 422 and count_metrics(db) == 3


def test_idempotency_key_is_shared_by_every_app_on_the_database(client, make_app, db):
    """A retry that reaches another process (here: another app on the same database, sharing
    no memory with the first) still replays instead of writing twice."""
    headers = {**auth(), "Idempotency-Key": "shared-1"}
    first = client.post("/api/v1/metrics", json=body(), headers=headers)
    other_process = make_app(PIPEWATCH_INGEST_TOKEN=TOKEN).server.test_client()
    again = other_process.post("/api/v1/metrics", json=body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count_metrics(db) == 1


def test_racing_retries_of_one_key_write_once(live_server, db):
    """Eight simultaneous retries: one write, and every answer is that write's response."""
    from concurrent.futures import ThreadPoolExecutor

    headers = {**auth(), "Idempotency-Key": "race-1"}

    def post(_):
        return requests.post(f"{live_server.url}/api/v1/metrics", json=[body(), body(source="b")],
                             headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.text for response in responses}) == 1
    assert count_metrics(db) == 2


def test_scrape_runs_are_validated_and_stored(client, db):
    run = {"source": "punch", "started_at": "2026-11-25T10:00:00Z",
           "finished_at": "2026-11-25T11:02:30+01:00", "status": "failed", "items_found": 0,
           "items_new": 0, "error": "HTTP 503 from upstream"}
    backwards = {**run, "finished_at": "2026-11-25T09:00:00Z"}
    response = client.post("/api/v1/scrape-runs", json=[run, backwards], headers=auth())
    assert response.status_code == 422
    assert [p["path"] for p in response.get_json()["error"]["details"]["problems"]] == [
        "[1].finished_at"]
    created = client.post("/api/v1/scrape-runs", json=run, headers=auth())
    assert created.status_code == 201
    [item] = created.get_json()["items"]
    assert item["finished_at"] == "2026-11-25T10:02:30Z" and item["status"] == "failed"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScrapeRun)) == 1


def test_ingest_over_a_real_socket(live_server, db):
    url = live_server.url + "/api/v1/metrics"
    response = requests.post(url, json=[body(), body(source="ñandú 北京")], headers=auth(),
                             timeout=10)
    assert response.status_code == 201
    assert [i["source"] for i in response.json()["items"]] == ["punch", "ñandú 北京"]
    refused = requests.post(url, data=b'{"a":', headers={**auth(),
                                                         "Content-Type": "application/json"},
                            timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_json"
    assert count_metrics(db) == 2
