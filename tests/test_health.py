"""Scraping health: the staleness rule's edges, and the facts read from scrape_runs."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.status.health import SourceFacts, health_section, load_facts, source_status
from tests.status_fixtures import HOUR, NOW, add_runs, config, run

CONFIG = config()


def facts(success_age: float | None, newest: str = "success") -> SourceFacts:
    last = None if success_age is None else NOW - timedelta(seconds=success_age)
    return SourceFacts("punch", NOW - HOUR, newest, last)


@pytest.mark.parametrize("age,expected", [
    (0, "healthy"), (7199, "healthy"), (7200, "warning"), (21599, "warning"),
    (21600, "error"), (None, "error")])
def test_staleness_edges(age, expected):
    assert source_status(facts(age), NOW, CONFIG) == expected


def test_newest_run_failed_is_at_least_a_warning():
    assert source_status(facts(60, newest="failed"), NOW, CONFIG) == "warning"
    assert source_status(facts(30000, newest="failed"), NOW, CONFIG) == "error"
    assert source_status(facts(60, newest="partial"), NOW, CONFIG) == "healthy"


def test_no_sources_is_pending():
    assert health_section([], NOW, CONFIG) == {
        "status": "pending", "runs_24h": 0, "failures_24h": 0, "success_rate_24h": None,
        "healthy_sources": 0, "sources": []}


def test_the_day_is_summed_over_sources():
    fine = SourceFacts("punch", NOW - HOUR, "success", NOW - HOUR, runs_24h=24, items_24h=70)
    failing = SourceFacts("vanguard", NOW - HOUR, "failed", NOW - 3 * HOUR, runs_24h=16,
                          failures_24h=4)
    section = health_section([failing, fine], NOW, CONFIG)
    assert (section["runs_24h"], section["failures_24h"]) == (40, 4)
    assert section["success_rate_24h"] == 36 / 40
    assert section["healthy_sources"] == 1 and section["status"] == "warning"
    assert [s["source"] for s in section["sources"]] == ["punch", "vanguard"]


def test_facts_from_scrape_runs(database):
    runs = [run("punch", NOW - k * HOUR, items_new=3) for k in range(1, 30)]
    # daily_trust: fine until a day ago, then every run failed (the demo's outage)
    runs += [run("daily_trust", NOW - k * HOUR) for k in range(26, 40)]
    runs += [run("daily_trust", NOW - k * HOUR, status="failed", items_new=0,
                 error=f"HTTPError 403 #{k}") for k in range(1, 26)]
    runs += [run("thisday", NOW - 2 * HOUR, status="partial", items_new=2),
             run("thisday", NOW - 30 * HOUR, status="failed", error="old failure")]
    runs += [run("retired", NOW - timedelta(days=31))]
    runs += [run("punch", NOW + HOUR)]  # after `now`: not seen yet
    add_runs(database, runs)
    with database.session() as session:
        found = {item.source: item for item in load_facts(session, NOW)}
    assert sorted(found) == ["daily_trust", "punch", "thisday"]
    punch, trust, thisday = found["punch"], found["daily_trust"], found["thisday"]
    assert punch.last_run_at == NOW - HOUR
    assert punch.last_success_at == NOW - HOUR + timedelta(seconds=60)
    assert (punch.runs_24h, punch.failures_24h, punch.items_24h) == (24, 0, 72)
    assert punch.failed_streak == 0 and punch.last_error is None
    assert trust.last_run_status == "failed" and trust.failed_streak == 25
    assert trust.failing_since == NOW - 25 * HOUR
    assert (trust.runs_24h, trust.failures_24h) == (24, 24)
    assert trust.last_error == "HTTPError 403 #1"
    assert trust.last_success_at == NOW - 26 * HOUR + timedelta(seconds=60)
    assert thisday.last_success_at is None and thisday.last_error is None
    assert thisday.first_run_at == NOW - 30 * HOUR
    section = health_section(list(found.values()), NOW, CONFIG)
    assert [(s["source"], s["status"]) for s in section["sources"]] == [
        ("daily_trust", "error"), ("punch", "healthy"), ("thisday", "error")]
    assert section["status"] == "error"
    # partial runs are not failures: 24 + 24 + 1 runs, daily_trust's 24 failed
    assert (section["runs_24h"], section["failures_24h"]) == (49, 24)
    assert section["success_rate_24h"] == 25 / 49 and section["healthy_sources"] == 1
    assert section["sources"][1]["last_run_at"] == "2026-11-25T11:30:00Z"
