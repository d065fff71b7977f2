"""The metrics export over HTTP on both databases: filters, cursor walks, CSV and NDJSON."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import requests

from api.timeutil import isoformat
from tests.export_fixtures import T0, add, metric

SOURCES = ("punch", "vanguard", "premium")


@pytest.fixture
def db(runtime):
    return runtime.db


@pytest.fixture
def rows(db):
    """36 rows: 12 hours x 3 sources (hourly), several sharing a timestamp; plus 2 aggregates."""
    made = [metric(T0 + timedelta(hours=h), source=s, geo=(10, 10 - h % 4))
            for h in range(12) for s in SOURCES]
    made += [metric(T0 + timedelta(hours=5), metric_type="aggregate", window_seconds=86400),
             metric(T0 + timedelta(hours=6), metric_type="aggregate", window_seconds=86400)]
    return add(db, made)


def walk(client, query: str, limit: int):
    """Every page of `query`; (items, pages)."""
    items, pages, url = [], 0, f"/api/v1/metrics?{query}&limit={limit}"
    while url:
        body = client.get(url).get_json()
        items += body["items"]
        pages += 1
        assert body["truncated"] is (body["next_cursor"] is not None)
        url = body["next_url"]
    return items, pages


def test_default_page_shape_and_order(client, rows):
    body = client.get("/api/v1/metrics?limit=5").get_json()
    assert set(body) == {"items", "next_cursor", "next_url", "truncated", "limit"}
    assert len(body["items"]) == 5 and body["truncated"] is True
    keys = [(i["timestamp"], i["id"]) for i in body["items"]]
    assert keys == sorted(keys)
    assert all(i["timestamp"].endswith("Z") for i in body["items"])
    assert client.get("/api/v1/metrics").get_json()["limit"] == 100


def test_filters_combine(client, rows):
    query = ("start=2026-11-01T03:00:00Z&end=2026-11-01T07:00:00%2B00:00&metric_type=hourly"
             "&source=punch&source=premium")
    items = client.get(f"/api/v1/metrics?{query}").get_json()["items"]
    assert len(items) == 2 * 4
    assert {i["source"] for i in items} == {"punch", "premium"}
    assert {i["metric_type"] for i in items} == {"hourly"}
    healthy = client.get("/api/v1/metrics?status=healthy&metric_type=aggregate").get_json()
    assert len(healthy["items"]) == 2
    errors = client.get("/api/v1/metrics?status=error&status=warning").get_json()["items"]
    assert errors and {i["status"] for i in errors} <= {"error", "warning"}
    none = client.get("/api/v1/metrics?source=x'%20OR%201=1--").get_json()
    assert none["items"] == [] and none["next_cursor"] is None


def test_walking_pages_yields_every_row_once_despite_concurrent_inserts(client, db, rows):
    url, seen = "/api/v1/metrics?limit=7&metric_type=hourly", []
    inserted_before = inserted_after = 0
    while url:
        body = client.get(url).get_json()
        seen += [i["id"] for i in body["items"]]
        # Writers keep going while the client walks: rows before and after its position.
        add(db, [metric(T0 - timedelta(hours=1), source="late"),
                 metric(T0 + timedelta(days=2), source="new")])
        inserted_before += 1
        inserted_after += 1
        url = body["next_url"]
    hourly = set(rows[:36])
    assert len(seen) == len(set(seen)), "no row twice"
    assert hourly <= set(seen), "every row that existed when the walk began"
    assert len(set(seen) - hourly) <= inserted_after


def test_tampered_or_foreign_cursors_are_400(client, rows):
    body = client.get("/api/v1/metrics?limit=3&source=punch").get_json()
    cursor = body["next_cursor"]
    payload, signature = cursor.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in (flipped + "." + signature, "garbage", "a.b.c", cursor + "x", "é.é",
                payload + "." + "A" * 22):
        response = client.get(f"/api/v1/metrics?limit=3&source=punch&cursor={bad}")
        assert response.status_code == 400, bad
        assert response.get_json()["error"]["code"] == "invalid_cursor"
    other_filters = client.get(f"/api/v1/metrics?limit=3&source=vanguard&cursor={cursor}")
    assert other_filters.status_code == 400
    ok = client.get(f"/api/v1/metrics?limit=3&source=punch&cursor={cursor}")
    assert ok.status_code == 200 and len(ok.get_json()["items"]) == 3


@pytest.mark.parametrize("query, path", [
    ("start=2026-11-01T00:00:00", "start"), ("end=yesterday", "end"),
    ("start=2026-11-02T00:00:00Z&end=2026-11-01T00:00:00Z", "end"),
    ("limit=1001", "limit"), ("limit=0", "limit"), ("limit=-5", "limit"), ("limit=1e3", "limit"),
    ("limit=99999999999999999999", "limit"), ("metric_type=daily", "metric_type"),
    ("status=ok", "status"), ("format=xml", "format"), ("source=%00", "source")])
def test_bad_parameters_are_422_naming_the_parameter(client, rows, query, path):
    response = client.get(f"/api/v1/metrics?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert path in [p["path"] for p in error["details"]["problems"]]


def test_csv_streams_the_whole_range_without_the_cap(client, rows, make_app):
    response = client.get("/api/v1/metrics?format=csv&metric_type=hourly")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"pipewatch-metrics-")
    assert disposition.endswith('.csv"')
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 36
    page = client.get("/api/v1/metrics?metric_type=hourly&limit=1000").get_json()["items"]
    assert [r["id"] for r in table] == [str(i["id"]) for i in page]
    assert table[0]["timestamp"] == page[0]["timestamp"]
    assert float(table[1]["geocoding_success_rate"]) == page[1]["geocoding_success_rate"]
    by_accept = client.get("/api/v1/metrics?source=punch", headers={"Accept": "text/csv"})
    assert by_accept.mimetype == "text/csv"
    assert len(by_accept.get_data(as_text=True).splitlines()) == 1 + 12


def test_ndjson_lines_match_the_json_items(client, rows):
    response = client.get("/api/v1/metrics?format=ndjson")
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 38
    page = client.get("/api/v1/metrics?limit=1000").get_json()["items"]
    assert lines == page
    capped = client.get("/api/v1/metrics?limit=5", headers={"Accept": "application/x-ndjson"})
    assert len(capped.get_data(as_text=True).splitlines()) == 5


def test_stream_over_a_real_socket(live_server, rows):
    url = live_server.url + "/api/v1/metrics"
    with requests.get(url, params={"format": "ndjson", "source": "vanguard",
                                   "start": isoformat(T0 + timedelta(hours=2))},
                      stream=True, timeout=10) as response:
        assert response.headers.get("Transfer-Encoding") == "chunked"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert len(lines) == 10 and {line["source"] for line in lines} == {"vanguard"}
    page = requests.get(url, params={"limit": 2}, timeout=10).json()
    follow = requests.get(live_server.url + page["next_url"], timeout=10).json()
    assert follow["items"][0]["id"] not in [i["id"] for i in page["items"]]


def test_times_render_exactly_as_isoformat_on_both_databases(client, db):
    stamps = [T0 + timedelta(microseconds=123456), T0 + timedelta(hours=1),
              T0 + timedelta(hours=2, microseconds=5)]
    add(db, [metric(t) for t in stamps])
    items = client.get("/api/v1/metrics").get_json()["items"]
    assert [i["timestamp"] for i in items] == [isoformat(t) for t in stamps]
    assert [i["timestamp"] for i in items] == [
        "2026-11-01T00:00:00.123456Z", "2026-11-01T01:00:00Z", "2026-11-01T02:00:00.000005Z"]
    walked, _ = walk(client, "metric_type=hourly", 1)
    assert [i["timestamp"] for i in walked] == [isoformat(t) for t in stamps]
