"""The dashboard's server callbacks as plain functions, and over real HTTP as Dash calls them.

Bodies take the runtime and plain values, so they are tested directly on both databases; one
test posts to `/_dash-update-component` the way the browser does, and the layout is read the
way the page reads it (`/_dash-layout`, whose Referer carries the page's query string).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from dash import no_update

from api.storage.models import DataQualityMetric
from api.status.thresholds import quality_status
from dashboard import callbacks, ids
from dashboard.urlstate import Selection

NOW = datetime(2026, 11, 25, 21, 30, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def polls(runtime) -> float:
    return runtime.telemetry.registry.get_sample_value("pipewatch_polls_total") or 0.0


def add_hourly(runtime, hours: int = 30, sources=(None, "punch", "vanguard")) -> None:
    """Closed hours ending at NOW's hour: punch always 90/100 geocoded, others 95/100."""
    end = NOW.replace(minute=0)
    with runtime.db.session() as session:
        for back in range(hours):
            stamp = end - back * HOUR
            for source in sources:
                ok = 90 if source == "punch" else 95
                session.add(DataQualityMetric(
                    timestamp=stamp, window_seconds=3600, metric_type="hourly", source=source,
                    geocoding_attempts=100, geocoding_successes=ok, validation_attempts=100,
                    validation_passes=99, created_at=stamp,
                    status=quality_status(ok / 100, 0.99, runtime.config)))


def test_poll_returns_the_status_and_counts_only_polls(runtime):
    before = polls(runtime)
    answer = callbacks.poll_body(runtime, ids.POLL)
    assert answer["ok"] is True and answer["at"].endswith("Z") and answer["via"] == "poll"
    assert {"overall_status", "seq", "data_quality", "scraping_health"} <= set(answer["doc"])
    assert callbacks.poll_body(runtime, ids.POLL_KICK)["via"] == "poll"
    assert callbacks.poll_body(runtime, ids.REFRESH)["via"] == "refresh"
    assert polls(runtime) == before + 2


def test_poll_says_when_the_database_is_down(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/nowhere.db", AUTO_MIGRATE=False)
    answer = callbacks.poll_body(app.server.extensions["pipewatch"], ids.POLL)
    assert answer["ok"] is False
    assert "database" in answer["error"] and "nowhere" not in answer["error"]


def test_trends_aggregate_in_buckets_with_one_trace_per_source(runtime):
    add_hourly(runtime)
    result = callbacks.trends_body(runtime, Selection("24h"), NOW)
    assert [t["name"] for t in result["geocoding"]["data"]] == ["all sources"]
    assert len(result["data"]["rows"]) == 24
    assert all(r["geocoding_success_rate"] == 0.95 for r in result["data"]["rows"])
    assert result["geocoding"]["layout"]["uirevision"] == Selection("24h").key()

    per_source = callbacks.trends_body(runtime, Selection("7d", ("punch", "vanguard"), "day"), NOW)
    assert [t["name"] for t in per_source["volume"]["data"]] == ["punch", "vanguard"]
    by_source = {}
    for row in per_source["data"]["rows"]:
        by_source.setdefault(row["source"], []).append(row)
    assert sum(r["volume"] for r in by_source["punch"]) == 3000     # 30 hours x 100
    assert {r["bucket"] for r in per_source["data"]["rows"]} == {"day"}


def test_trends_refuse_ranges_that_would_draw_too_many_points(runtime):
    from datetime import date

    result = callbacks.trends_body(
        runtime, Selection("custom", (), "hour", date(2025, 12, 1), date(2026, 11, 20)), NOW)
    assert "range too long" in result["error"]


def test_sparklines_cover_the_last_day(runtime):
    add_hourly(runtime)
    volume, geocoding, validation = callbacks.sparklines_body(runtime, NOW)
    assert len(geocoding["data"][0]["x"]) == 24
    assert set(validation["data"][0]["y"]) == {0.99}
    assert set(volume["data"][0]["y"]) == {100}


def test_url_and_controls_stay_in_step():
    controls = ("7d", None, None, [], "auto")
    # A link opened: the controls follow the URL.
    assert callbacks.sync_url_body(ids.URL, "?range=24h&sources=punch", controls) == \
        ("24h", None, None, ["punch"], "auto", no_update)
    # Already in step: nothing to do.
    assert callbacks.sync_url_body(None, "?range=7d", controls) == (no_update,) * 6
    # A control changed: the URL follows it.
    assert callbacks.sync_url_body(ids.BUCKET, "?range=7d", ("7d", None, None, ["a", "b"], "day")) \
        == (no_update,) * 5 + ("?range=7d&sources=a,b&bucket=day",)


def test_download_is_the_stored_rows_as_csv():
    rows = [{"bucket_start": "2026-11-25T20:00:00Z", "bucket": "hour", "source": "punch",
             "geocoding_attempts": 10, "geocoding_successes": 9, "geocoding_success_rate": 0.9,
             "validation_attempts": 10, "validation_passes": 10, "validation_pass_rate": 1.0,
             "volume": 10}]
    sent = callbacks.download_body({"rows": rows, "start": "2026-11-25T00:00:00Z",
                                    "end": "2026-11-26T00:00:00Z"})
    assert sent["filename"] == "pipewatch-trends_2026-11-25T000000Z_2026-11-26T000000Z.csv"
    parsed = list(csv.DictReader(io.StringIO(sent["content"])))
    assert parsed == [{key: str(value) for key, value in rows[0].items()}]


def test_layout_reads_the_page_query_and_carries_a_first_status(client):
    response = client.get("/_dash-layout",
                          headers={"Referer": "http://localhost/?range=24h&sources=punch&bucket=day"})
    assert response.status_code == 200
    layout = response.get_data(as_text=True)
    assert '"value":"24h"' in layout and '"value":["punch"]' in layout
    assert '"id":"pw-status","data":{"doc":{' in layout.replace(" ", "")


def test_page_links_only_stylesheets_the_app_serves(client):
    html = client.get("/").get_data(as_text=True)
    assert "/_pipewatch/vendor/css/bootstrap.min.css" in html
    assert "cdn." not in html and 'rel="stylesheet" href="http' not in html
    for path in ("/_pipewatch/vendor/css/bootstrap.min.css",
                 "/_pipewatch/vendor/css/font/bootstrap-icons.min.css",
                 "/assets/pipewatch.js"):
        assert client.get(path).status_code == 200, path


def test_poll_callback_over_http_as_the_browser_calls_it(client, runtime):
    before = polls(runtime)
    seconds = sample(runtime, "pipewatch_page_seconds_total", mode="polling")
    ages = sample(runtime, "pipewatch_page_data_age_seconds_count", mode="polling")
    under_30 = sample(runtime, "pipewatch_page_data_age_seconds_bucket", mode="polling",
                      le="30.0")
    under_60 = sample(runtime, "pipewatch_page_data_age_seconds_bucket", mode="polling",
                      le="60.0")
    shown = (datetime.now(timezone.utc) - timedelta(seconds=40)).isoformat()
    payload = {
        "output": f"{ids.POLL_RESULT}.data",
        "outputs": {"id": ids.POLL_RESULT, "property": "data"},
        "inputs": [{"id": ids.POLL, "property": "n_intervals", "value": 1},
                   {"id": ids.POLL_KICK, "property": "data", "value": 0},
                   {"id": ids.REFRESH, "property": "n_clicks", "value": None}],
        "changedPropIds": [f"{ids.POLL}.n_intervals"],
        "state": [{"id": ids.CONN, "property": "data",
                   "value": {"state": "polling-fallback", "shown": shown}}],
    }
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    data = response.get_json()["response"][ids.POLL_RESULT]["data"]
    assert data["ok"] is True and "overall_status" in data["doc"]
    assert polls(runtime) == before + 1
    # The timer's poll is the polling page's report: one poll interval in polling mode, and
    # the age of the status it showed (40 s old by this server's clock).
    assert sample(runtime, "pipewatch_page_seconds_total", mode="polling") == seconds + 5
    assert sample(runtime, "pipewatch_page_data_age_seconds_count", mode="polling") == ages + 1
    assert sample(runtime, "pipewatch_page_data_age_seconds_bucket", mode="polling",
                  le="30.0") == under_30
    assert sample(runtime, "pipewatch_page_data_age_seconds_bucket", mode="polling",
                  le="60.0") == under_60 + 1


def sample(runtime, name: str, **labels: str) -> float:
    return runtime.telemetry.registry.get_sample_value(name, labels) or 0.0


def test_a_page_report_with_no_usable_time_counts_the_seconds_only(runtime):
    """What the page sends is the client's: junk in `shown` is no error and no age."""
    ages = sample(runtime, "pipewatch_page_data_age_seconds_count", mode="polling")
    seconds = sample(runtime, "pipewatch_page_seconds_total", mode="polling")
    for conn in (None, {"shown": "yesterday"}, {"shown": 17}, ["x"]):
        assert callbacks.poll_body(runtime, ids.POLL, conn=conn)["ok"] is True
    callbacks.poll_body(runtime, ids.POLL_KICK, conn={"shown": "2026-01-01T00:00:00Z"})
    assert sample(runtime, "pipewatch_page_data_age_seconds_count", mode="polling") == ages
    assert sample(runtime, "pipewatch_page_seconds_total", mode="polling") == seconds + 20


def test_the_layout_hands_its_status_to_the_browser_and_formats_none_of_it(client, runtime):
    """The first paint is drawn by assets/pipewatch.js from the store's initial document: the
    layout's cards are empty shells, so no second definition of the formatting exists."""
    import json

    write_aggregate_row(runtime, geo=(873, 1000), val=(941, 1000))
    layout = client.get("/_dash-layout", headers={"Referer": "http://localhost/"}).get_json()
    stores = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Store":
                stores[props["id"]] = props.get("data")
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(layout)
    doc = stores[ids.STATUS]["doc"]
    assert doc["data_quality"]["geocoding_success_rate"] == 0.873
    assert doc["data_quality"]["validation_pass_rate_status"] == "healthy"
    assert stores[ids.CONFIG]["silence_ms"] == 15000  # 2 x the default 5 s heartbeat + 5 s
    text = json.dumps(layout)
    assert "87.3%" not in text and "94.1%" not in text
    assert "Pipeline Warning" not in text and "Pipeline Healthy" not in text


def write_aggregate_row(runtime, geo, val) -> None:
    with runtime.db.session() as session:
        session.add(DataQualityMetric(
            timestamp=datetime.now(timezone.utc), window_seconds=86400, metric_type="aggregate",
            source=None, geocoding_attempts=geo[1], geocoding_successes=geo[0],
            validation_attempts=val[1], validation_passes=val[0],
            created_at=datetime.now(timezone.utc),
            status=quality_status(geo[0] / geo[1], val[0] / val[1], runtime.config)))


def test_charts_are_shaded_where_the_demo_injected_incidents(runtime):
    from api.demo.seed import seed_demo
    from api.timeutil import isoformat, utcnow

    now = utcnow()
    summary = seed_demo(runtime.db, runtime.config, days=3, seed=7, now=now, progress=False)
    silent = summary["incidents"]["silent_source"]
    data = {"start": isoformat(now - timedelta(hours=24)), "end": isoformat(now),
            "bucket": "hour", "sources": [silent["source"]]}
    shading = callbacks.shading_body(runtime, data)
    bands = [s for s in shading["shapes"] if s["xref"] == "x"]
    assert bands, "the silent source's outage is shaded"
    # The stale period starts SOURCE_STALE_WARNING_SECONDS after its last success, within the
    # incident, and is still open (drawn to the end of the range).
    assert any(b["x0"] >= silent["start"] and b["x1"] == data["end"] for b in bands)
    # ... from the stored history: the band starts when the seeded occurrence fired.
    from api import queries

    [stored] = [p for p in queries.alert_history(runtime, now - timedelta(hours=24), now,
                                                 [silent["source"]])
                if p["key"] == f"source_stale:{silent['source']}"]
    assert stored["end"] is None and stored["state"] == "firing"
    assert stored["start"] in [b["x0"] for b in bands]
    assert callbacks.shading_body(runtime, None) is None


def test_a_data_refresh_keeps_the_shading_of_the_same_view_only(runtime):
    add_hourly(runtime)
    view = Selection("24h")
    shading = {"query": view.key(), "annotations": [],
               "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": "2026-11-25T10:00:00Z",
                           "x1": "2026-11-25T12:00:00Z", "y0": 0, "y1": 1}]}
    kept = callbacks.trends_body(runtime, view, NOW, shading)
    assert shading["shapes"][0] in kept["volume"]["layout"]["shapes"]
    assert shading["shapes"][0] not in kept["data"]["bands"]["geocoding"]
    other = callbacks.trends_body(runtime, Selection("7d"), NOW, shading)
    assert shading["shapes"][0] not in other["volume"]["layout"]["shapes"]


def test_an_anomaly_alert_is_shaded_once_as_the_anomaly_it_is():
    """Its hours come from the anomaly history; the alert period would draw the same band
    again. Other error periods are shaded as before."""
    anomaly = {"key": "anomaly:geocoding_success_rate:vanguard", "severity": "error",
               "source": "vanguard"}
    stale = {"key": "source_stale:punch", "severity": "error", "source": "punch"}
    assert not callbacks._worth_shading(anomaly, None)
    assert not callbacks._worth_shading(anomaly, ["vanguard"])
    assert callbacks._worth_shading(stale, None) and callbacks._worth_shading(stale, ["punch"])
