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


# PostgreSQL streams CSV with COPY (api/storage/export.copy_csv_chunks); it must match the generic path.

TRICKY_SOURCES = [None, "plain", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "tab\there",
                  "back\\slash", "\\.", "\\n literally", " lead", "trail ", "\u3000ideo",
                  "nbsp\xa0", "\x85nel", "", "Ọ̀yọ́ — Lagos, 🇳🇬", "x\x1cy", "\\", '"', ",",
                  "it's; --", '=HYPERLINK("http://x")', "@SUM(1)", "+1+2", "-2",
                  "=cmd|' /C calc'!A0", "\t=1", "\r\n=2", "\\=3"]
# What a CSV reader gets back: the names a spreadsheet would run as formulas carry a leading '.
TRICKY_CELLS = [s or "" for s in TRICKY_SOURCES[:-8]] + [
    '\'=HYPERLINK("http://x")', "'@SUM(1)", "'+1+2", "'-2", "'=cmd|' /C calc'!A0", "'\t=1",
    "'\r\n=2", "\\=3"]


@pytest.fixture
def pg_db(db):
    if db.dialect != "postgresql":
        pytest.skip("COPY export is PostgreSQL's; SQLite always takes the generic path")
    return db


def generic_csv(db, filters, after=None, limit=None) -> bytes:
    from api.http.formats import capped, csv_chunks
    from api.storage.export import stream_rows

    partitions = stream_rows(db, filters, after)
    if limit is not None:
        partitions = capped(partitions, limit)
    return "".join(csv_chunks(partitions)).encode()


def tricky_rows(db):
    made = []
    for i, source in enumerate(TRICKY_SOURCES):
        moment = T0 + timedelta(minutes=i, microseconds=(i * 7919) % 1_000_000 if i % 2 else 0)
        made.append(metric(moment, source=source, geo=(10, 10), val=(0, 0)))
        made.append(metric(moment, source=source, geo=(3, 1), val=(3, 2)))
        made.append(metric(moment, source=source, geo=(200_000, 1), val=(10, 0)))
        made.append(metric(moment, source=source, metric_type="source", window_seconds=86400,
                           geo=(7, 5), val=(1_000_003, 999_999)))
    return add(db, made)


def test_copy_csv_is_byte_for_byte_the_generic_csv(client, pg_db):
    from api.storage.export import copy_csv_chunks
    from api.storage.export import MetricFilters

    tricky_rows(pg_db)
    filters = MetricFilters()
    expected = generic_csv(pg_db, filters)
    assert expected.count(b"\n") > 4 * len(TRICKY_SOURCES)  # header, rows, quoted newlines
    assert b",5e-06," in expected and b",1.0," in expected and b",0.0," in expected
    for chunk_bytes in (1, 300, 1 << 16):  # chunk edges never split an escape or a line
        assert b"".join(copy_csv_chunks(pg_db, filters, chunk_bytes=chunk_bytes)) == expected
    over_http = client.get("/api/v1/metrics?format=csv").get_data()
    assert over_http == expected
    table = list(csv.DictReader(io.StringIO(over_http.decode(), newline="")))
    assert [row["source"] for row in table[::4]] == TRICKY_CELLS


def test_copy_csv_keeps_filters_cursor_and_limit(client, pg_db):
    from api.storage.export import copy_csv_chunks
    from api.storage.export import MetricFilters

    ids = tricky_rows(pg_db)
    sources = ("a,b", 'say "hi"', "line\nbreak", " lead", "plain", "back\\slash", "it's; --")
    filters = MetricFilters(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=30),
                            metric_types=("hourly",), sources=sources)
    after = (T0 + timedelta(minutes=2), ids[2 * 4 + 1])  # mid-way through one timestamp's rows
    for position, limit in ((None, None), (after, None), (after, 3), (None, 1)):
        expected = generic_csv(pg_db, filters, position, limit)
        assert b"".join(copy_csv_chunks(pg_db, filters, position, limit)) == expected
    after_rows = list(csv.reader(io.StringIO(generic_csv(pg_db, filters, after).decode(),
                                             newline="")))[1:]
    assert [row[4] for row in after_rows] == ["a,b"] + [
        s for s in TRICKY_SOURCES[3:] if s in sources for _ in range(3)]
    query = {"source": ['say "hi"', "plain"]}
    page = client.get("/api/v1/metrics", query_string={**query, "limit": 1}).get_json()
    query.update(cursor=page["next_cursor"], limit=5)
    over_http = client.get("/api/v1/metrics", query_string={**query, "format": "csv"}).get_data()
    with_cursor = client.get("/api/v1/metrics", query_string=query).get_json()["items"]
    assert over_http.count(b"\n") == 1 + len(with_cursor) == 1 + 5
    assert [int(line.split(b",")[0]) for line in over_http.splitlines()[1:]] == [
        item["id"] for item in with_cursor]


def test_copy_csv_hang_up_returns_the_connection(pg_db):
    from api.storage.export import copy_csv_chunks
    from api.storage.export import MetricFilters

    tricky_rows(pg_db)
    add(pg_db, [metric(T0 + timedelta(hours=1, seconds=i)) for i in range(3000)])
    stream = copy_csv_chunks(pg_db, MetricFilters(), chunk_bytes=1)
    next(stream), next(stream)
    assert pg_db.engine.pool.checkedout() == 1
    stream.close()  # what the WSGI server does when the client disconnects
    assert pg_db.engine.pool.checkedout() == 0
    with pg_db.engine.connect() as connection:  # the pooled connection is usable again
        assert connection.exec_driver_sql("SHOW extra_float_digits").scalar() == "1"
        assert connection.exec_driver_sql("SELECT count(*) FROM data_quality_metrics"
                                          ).scalar() == 3000 + 4 * len(TRICKY_SOURCES)


def test_sql_trims_the_whitespace_python_strips():
    from api.storage.export import PY_WHITESPACE

    assert set(PY_WHITESPACE) == {ch for ch in map(chr, range(0x110000)) if ch.isspace()}


def test_client_hanging_up_mid_csv_over_http_frees_the_connection(live_server, pg_db):
    import time

    with pg_db.engine.begin() as connection:  # ~13 MB of CSV: more than socket buffers hold
        connection.exec_driver_sql(
            "INSERT INTO data_quality_metrics (timestamp, window_seconds, metric_type, source, "
            "geocoding_attempts, geocoding_successes, validation_attempts, validation_passes, "
            "status, created_at) SELECT t, 3600, 'hourly', 'punch', 10, 9, 10, 10, 'healthy', t "
            "FROM generate_series(1, 100000) AS i, "
            "LATERAL (SELECT timestamptz '2026-11-01' + i * interval '1 second' AS t) AS s")
    with requests.get(live_server.url + "/api/v1/metrics", params={"format": "csv"},
                      stream=True, timeout=10) as response:
        assert next(response.iter_content(1 << 16)).startswith(b"id,timestamp,")
        assert pg_db.engine.pool.checkedout() == 1
    deadline = time.monotonic() + 20
    while pg_db.engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pg_db.engine.pool.checkedout() == 0
    with pg_db.engine.connect() as connection:
        copying = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE left(query, 5) = 'COPY ' "
            "AND state = 'active'").scalar()
    assert copying == 0  # the server-side COPY was cancelled, not left running
