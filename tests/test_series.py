"""The aggregated series: SQL bucketing on both databases, weighted rates, the point cap."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.status.series import MAX_POINTS, SeriesError, choose_bucket, fetch_series
from tests.export_fixtures import T0, THRESHOLDS, add, hours, metric


def _fetch(db, **kwargs):
    with db.session() as session:
        return fetch_series(session, **kwargs)


def test_hour_buckets_sum_counts_per_source(database):
    stamps = hours(3)
    add(database, [metric(t, source="punch", geo=(10, 9)) for t in stamps]
        + [metric(t, source="vanguard", geo=(4, 1)) for t in stamps]
        + [metric(t, source=None, geo=(14, 10)) for t in stamps])
    rows = _fetch(database, metric="geocoding_success_rate", start=T0,
                  end=T0 + timedelta(hours=3), sources=["vanguard", "punch"], bucket="hour")
    assert [(r["source"], r["bucket_start"]) for r in rows] == [
        ("punch", T0), ("punch", T0 + timedelta(hours=1)), ("punch", T0 + timedelta(hours=2)),
        ("vanguard", T0), ("vanguard", T0 + timedelta(hours=1)),
        ("vanguard", T0 + timedelta(hours=2))]
    assert rows[0]["bucket_start"].tzinfo is not None
    assert rows[0]["rate"] == pytest.approx(0.9)
    assert rows[3]["rate"] == pytest.approx(0.25)
    assert rows[0]["hours"] == 1 and rows[0]["volume"] == 10


def test_day_rate_is_weighted_not_a_mean_of_rates(database):
    # Two hours of one day: 1/1 (rate 1.0) and 10/100 (rate 0.1). Mean of rates would be 0.55.
    add(database, [metric(T0 + timedelta(hours=1), val=(1, 1)),
                   metric(T0 + timedelta(hours=2), val=(100, 10))])
    rows = _fetch(database, metric="validation_pass_rate", start=T0,
                  end=T0 + timedelta(days=1), bucket="day", config=THRESHOLDS)
    assert len(rows) == 1
    row = rows[0]
    assert row["source"] is None and row["bucket_start"] == T0
    assert (row["attempts"], row["successes"], row["hours"]) == (101, 11, 2)
    assert row["rate"] == pytest.approx(11 / 101)
    assert row["value"] == row["rate"] and row["status"] == "error"


def test_window_start_decides_the_bucket_and_range_is_by_window_end(database):
    # The row ending at midnight covers 23:00-24:00 of the day before.
    add(database, [metric(T0, geo=(2, 2)), metric(T0 + timedelta(hours=1), geo=(3, 0)),
                   metric(T0 + timedelta(days=1, hours=1), geo=(5, 5))])
    rows = _fetch(database, metric="geocoding_success_rate", start=T0 - timedelta(hours=1),
                  end=T0 + timedelta(days=1), bucket="day")
    assert [(r["bucket_start"], r["attempts"]) for r in rows] == [
        (T0 - timedelta(days=1), 2), (T0, 3)]


def test_only_hourly_rows_and_only_asked_sources(database):
    t = T0 + timedelta(hours=1)
    add(database, [metric(t, source="punch"), metric(t, metric_type="aggregate", geo=(99, 0)),
                   metric(t, metric_type="source", source="punch", geo=(99, 0)),
                   metric(t, source="other", geo=(7, 7))])
    rows = _fetch(database, metric="volume", start=T0, end=t, sources=["punch", "nobody"])
    assert [(r["source"], r["volume"], r["rate"]) for r in rows] == [("punch", 10, None)]
    assert rows[0]["value"] == 10
    assert _fetch(database, metric="volume", start=T0, end=t, sources=[]) == []
    assert _fetch(database, metric="volume", start=T0, end=t) == []


def test_zero_attempts_gives_no_rate_and_pending(database):
    add(database, [metric(T0 + timedelta(hours=1), geo=(0, 0))])
    [row] = _fetch(database, metric="geocoding_success_rate", start=T0,
                   end=T0 + timedelta(hours=1), config=THRESHOLDS)
    assert row["rate"] is None and row["status"] == "pending"


def test_metacharacters_in_source_are_plain_values(database):
    name = "x'); DROP TABLE data_quality_metrics;--ñ"
    add(database, [metric(T0 + timedelta(hours=1), source=name)])
    [row] = _fetch(database, metric="volume", start=T0, end=T0 + timedelta(hours=2),
                   sources=[name])
    assert row["source"] == name


def test_auto_bucket_keeps_points_under_the_cap():
    assert choose_bucket(T0, T0 + timedelta(days=30)) == "hour"
    assert choose_bucket(T0, T0 + timedelta(hours=MAX_POINTS + 1)) == "day"
    with pytest.raises(SeriesError):
        choose_bucket(T0, T0 + timedelta(days=MAX_POINTS + 1))
    with pytest.raises(SeriesError):
        choose_bucket(T0, T0 + timedelta(days=90), "hour")
    with pytest.raises(SeriesError):
        choose_bucket(T0, T0, None)
    with pytest.raises(SeriesError):
        choose_bucket(T0, T0 + timedelta(days=1), "week")


def test_bad_metric_and_naive_times_are_refused(database):
    with database.session() as session:
        with pytest.raises(SeriesError):
            fetch_series(session, metric="rate; DROP", start=T0, end=T0 + timedelta(days=1))
        with pytest.raises(SeriesError):
            fetch_series(session, metric="volume", start=T0.replace(tzinfo=None),
                         end=T0 + timedelta(days=1))


# region GET /api/v1/metrics/series

def test_series_route_returns_the_same_rows_as_the_function(make_app):
    app = make_app()
    db = app.server.extensions["pipewatch"].db
    add(db, [metric(t, source=s, geo=(10, 7 if s == "b" else 10))
             for t in hours(30) for s in ("a", "b")])
    client = app.server.test_client()
    response = client.get("/api/v1/metrics/series?metric=geocoding_success_rate&bucket=day"
                          "&start=2026-11-01T00:00:00Z&end=2026-11-03T00:00:00Z"
                          "&source=b&source=a")
    assert response.status_code == 200
    body = response.get_json()
    assert body["bucket"] == "day" and body["start"] == "2026-11-01T00:00:00Z"
    with db.session() as session:
        expected = fetch_series(session, metric="geocoding_success_rate", start=T0,
                                end=T0 + timedelta(days=2), sources=["a", "b"], bucket="day",
                                config=app.server.extensions["pipewatch"].config)
    assert [(r["source"], r["bucket_start"], r["rate"]) for r in body["items"]] == [
        (r["source"], r["bucket_start"].strftime("%Y-%m-%dT%H:%M:%SZ"), r["rate"])
        for r in expected]
    assert [r["attempts"] for r in body["items"]] == [240, 60, 240, 60]
    assert body["items"][2]["status"] == "error" and body["items"][2]["rate"] == 0.7
    auto = client.get("/api/v1/metrics/series?metric=volume&start=2026-11-01T00:00:00Z"
                      "&end=2026-11-02T00:00:00Z&source=a").get_json()
    assert auto["bucket"] == "hour" and len(auto["items"]) == 24


@pytest.mark.parametrize("query, path", [
    ("", "metric"), ("metric=rate", "metric"), ("metric=volume&bucket=week", "bucket"),
    ("metric=volume&start=2026-11-01T00:00:00", "start"),
    ("metric=volume&start=2026-11-02T00:00:00Z&end=2026-11-01T00:00:00Z", "end"),
    ("metric=volume&bucket=hour&start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "bucket")])
def test_series_route_refuses_bad_queries(client, query, path):
    response = client.get(f"/api/v1/metrics/series?{query}")
    assert response.status_code == 422
    assert path in [p["path"] for p in response.get_json()["error"]["details"]["problems"]]

# endregion


def test_series_route_gives_hourly_points_of_a_source_their_expected_band(make_app):
    """Five days of a source busy 06-22 UTC (40 events an hour) and quiet at night (4): the
    fifth day's hourly points carry the band of their hour of the day (4 days of history: one
    step down the chain); day buckets and the all-sources trace carry none."""
    app = make_app()
    db = app.server.extensions["pipewatch"].db
    busy = lambda end: 6 <= (end - timedelta(hours=1)).hour < 22  # noqa: E731
    add(db, [metric(t, source="a", geo=(40, 38) if busy(t) else (4, 4)) for t in hours(5 * 24)]
        + [metric(t, geo=(40, 38)) for t in hours(5 * 24)])
    client = app.server.test_client()
    day5 = "start=2026-11-05T00:00:00Z&end=2026-11-06T00:00:00Z"
    items = client.get(f"/api/v1/metrics/series?metric=volume&bucket=hour&{day5}&source=a"
                       ).get_json()["items"]
    assert len(items) == 24
    for item in items:
        assert item["expected"] == (40 if 6 <= int(item["bucket_start"][11:13]) < 22 else 4)
        assert item["lower"] <= item["value"] <= item["upper"]
    night, noon = items[2], items[12]
    assert night["upper"] < noon["lower"]  # a busy hour's volume at night would be an anomaly
    rate = client.get(f"/api/v1/metrics/series?metric=geocoding_success_rate&bucket=hour&{day5}"
                      "&source=a").get_json()["items"][12]
    assert rate["expected"] == 0.95 and rate["lower"] < 0.95 < rate["upper"] <= 1
    days = client.get(f"/api/v1/metrics/series?metric=volume&bucket=day&{day5}&source=a"
                      ).get_json()["items"]
    everyone = client.get(f"/api/v1/metrics/series?metric=volume&bucket=hour&{day5}"
                          ).get_json()["items"]
    assert {(item["expected"], item["lower"], item["upper"])
            for item in days + everyone} == {(None, None, None)}
