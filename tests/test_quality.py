"""Data quality: rates and statuses from counts, the newest metric rows, the conflicts fallback."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.status.quality import quality_entry, quality_section, summary_entry
from tests.status_fixtures import HOUR, NOW, add_conflicts, add_metrics, config, conflict, metric

CONFIG = config()


def counts(geo, val=(0, 0)):
    return {"geocoding_attempts": geo[0], "geocoding_successes": geo[1],
            "validation_attempts": val[0], "validation_passes": val[1]}


@pytest.mark.parametrize("geo,expected", [
    ((100, 90), "healthy"), ((10000, 8999), "warning"), ((100, 75), "warning"),
    ((10000, 7499), "error"), ((0, 0), "pending")])
def test_threshold_edges(geo, expected):
    entry = quality_entry(counts(geo), CONFIG)
    assert entry["status"] == expected


def test_zero_attempts_is_pending_with_null_rates():
    entry = quality_entry(counts((0, 0), (0, 0)), CONFIG)
    assert entry == {"status": "pending", "geocoding_success_rate": None,
                     "validation_pass_rate": None, **counts((0, 0), (0, 0))}


def test_one_rate_missing_judges_the_other():
    assert quality_entry(counts((0, 0), (10, 5)), CONFIG)["status"] == "error"


@pytest.mark.parametrize("geo,val,expected", [
    ((100, 90), (100, 80), ("healthy", "warning", "warning")),
    ((10000, 7499), (100, 100), ("error", "healthy", "error")),
    ((0, 0), (10, 5), ("pending", "error", "error")),
    ((0, 0), (0, 0), ("pending", "pending", "pending"))])
def test_the_summary_says_each_rates_own_status(geo, val, expected):
    entry = summary_entry(counts(geo, val), CONFIG)
    assert (entry["geocoding_success_rate_status"], entry["validation_pass_rate_status"],
            entry["status"]) == expected
    assert {k: v for k, v in entry.items() if not k.endswith("_rate_status")} == \
        quality_entry(counts(geo, val), CONFIG)


def test_from_the_newest_metric_rows(database):
    older = NOW - 10 * 60 * timedelta(seconds=1)
    newest = NOW - timedelta(minutes=5)
    add_metrics(database, [
        metric(older, "aggregate", geo=(100, 50), window_seconds=86400),
        metric(newest, "aggregate", geo=(200, 190), val=(200, 160), window_seconds=86400),
        metric(NOW + HOUR, "aggregate", geo=(1, 0)),            # in the future of `now`
        metric(older, "source", "punch", geo=(50, 10)),
        metric(newest, "source", "punch", geo=(120, 119), val=(120, 120)),
        metric(older, "source", "vanguard", geo=(80, 70)),       # vanguard quiet since
        metric(newest - 2 * HOUR, "source", "retired", geo=(5, 5)),
        metric(newest, "hourly", None, geo=(1, 0)),
    ])
    with database.session() as session:
        section = quality_section(session, NOW, CONFIG)
    assert section["basis"] == "metrics" and section["as_of"] == "2026-11-25T12:25:00Z"
    assert section["geocoding_attempts"] == 200 and section["geocoding_success_rate"] == 0.95
    assert section["validation_pass_rate"] == 0.8 and section["status"] == "warning"
    assert section["geocoding_success_rate_status"] == "healthy"
    assert section["validation_pass_rate_status"] == "warning"
    assert all("geocoding_success_rate_status" not in s for s in section["by_source"])
    assert [(s["source"], s["as_of"], s["geocoding_attempts"]) for s in section["by_source"]] == [
        ("punch", "2026-11-25T12:25:00Z", 120), ("vanguard", "2026-11-25T12:20:00Z", 80)]


def test_from_conflicts_when_there_are_no_metric_rows(database):
    add_conflicts(database, [
        conflict("punch", NOW - HOUR), conflict("punch", NOW - 2 * HOUR, "failed", "failed"),
        conflict("punch", NOW - 3 * HOUR, "pending", "pending"),
        conflict("vanguard", NOW - timedelta(minutes=1), "success", "pending"),
        conflict("vanguard", NOW - 25 * HOUR, "failed", "failed"),  # outside the 24 h window
    ])
    with database.session() as session:
        section = quality_section(session, NOW, CONFIG)
    assert section["basis"] == "conflicts" and section["as_of"] == "2026-11-25T12:29:00Z"
    assert (section["geocoding_attempts"], section["geocoding_successes"]) == (3, 2)
    assert (section["validation_attempts"], section["validation_passes"]) == (2, 1)
    assert section["status"] == "error"
    assert section["geocoding_success_rate_status"] == "error"      # 2 of 3
    assert section["validation_pass_rate_status"] == "error"        # 1 of 2
    assert [(s["source"], s["geocoding_attempts"], s["status"]) for s in section["by_source"]] == [
        ("punch", 2, "error"), ("vanguard", 1, "healthy")]


def test_empty_database_is_pending(database):
    with database.session() as session:
        section = quality_section(session, NOW, CONFIG)
    assert section == {"status": "pending", "basis": "conflicts", "as_of": None,
                       "geocoding_success_rate": None, "validation_pass_rate": None,
                       "geocoding_success_rate_status": "pending",
                       "validation_pass_rate_status": "pending",
                       **counts((0, 0), (0, 0)), "by_source": []}
