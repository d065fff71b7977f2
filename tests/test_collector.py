"""The collector's rows against numbers computed by hand, on SQLite and PostgreSQL.

The fixture: two sources, `a` and `b`, three closed hours before NOW (12:10 UTC), one article
in the open hour, and one just older than the 24 h window. Every expected count below is worked
out from FIXTURE by hand (pending is not an attempt).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from api import collector
from api.settings import load_config
from api.storage.db import Database
from api.storage.models import Conflict, DataQualityMetric as M
from api.runtime import Runtime
from api.timeutil import UTC, isoformat

NOW = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
CONFIG = load_config({"COLLECTOR_INTERVAL_SECONDS": 300}, environ={})

# (source, scraped_at "DD HH:MM", geocoding, validation)
FIXTURE = [
    ("a", "25 09:05", "success", "passed"),
    ("a", "25 09:20", "success", "failed"),
    ("a", "25 09:40", "failed", "passed"),
    ("a", "25 09:59", "pending", "pending"),
    ("b", "25 09:30", "success", "passed"),
    ("a", "25 10:15", "pending", "pending"),   # 10-11: no attempts at all
    ("a", "25 10:45", "pending", "pending"),
    ("a", "25 11:00", "failed", "failed"),
    ("b", "25 11:10", "success", "passed"),
    ("b", "25 11:30", "success", "passed"),
    ("b", "25 11:59", "failed", "pending"),
    ("b", "25 12:05", "success", "passed"),    # open hour: aggregate only
    ("a", "24 12:09", "success", "passed"),    # 1 min before the 24 h window; hour ending 24 13:00
]


def at(text: str) -> datetime:
    day, clock = text.split()
    hour, minute = clock.split(":")
    return datetime(2026, 11, int(day), int(hour), int(minute), tzinfo=UTC)


def hour_end(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def filled(database: Database) -> Database:
    rows = [{"source": source, "source_url": f"https://example.test/{index}",
             "scraped_at": at(when), "geocoding_status": geo, "validation_status": val}
            for index, (source, when, geo, val) in enumerate(FIXTURE)]
    with database.session() as session:
        session.execute(insert(Conflict), rows)
    return database


def run(db: Database, now: datetime = NOW) -> dict:
    with db.session() as session:
        return collector.collect(session, now, CONFIG)


def rows(db: Database, metric_type: str) -> dict[tuple, tuple]:
    """(timestamp, source) -> (geo attempts, successes, rate, val attempts, passes, rate, status)."""
    with db.session() as session:
        found = session.execute(select(M).where(M.metric_type == metric_type)).scalars().all()
    result = {}
    for m in found:
        key = (m.timestamp, m.source)
        assert key not in result, f"duplicate {metric_type} row {key}"
        result[key] = (m.geocoding_attempts, m.geocoding_successes, m.geocoding_success_rate,
                       m.validation_attempts, m.validation_passes, m.validation_pass_rate,
                       m.status)
    return result


def test_window_rows_match_hand_counts(filled):
    summary = run(filled)
    stamp = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
    assert summary["timestamp"] == "2026-11-25T12:10:00Z"
    assert summary["aggregate"] == 1 and summary["source"] == 2
    assert rows(filled, "aggregate") == {(stamp, None): (9, 6, 6 / 9, 8, 6, 6 / 8, "error")}
    assert rows(filled, "source") == {
        (stamp, "a"): (4, 2, 0.5, 4, 2, 0.5, "error"),
        (stamp, "b"): (5, 4, 0.8, 4, 4, 1.0, "warning"),
    }
    with filled.session() as session:
        windows = set(session.scalars(select(M.window_seconds).where(M.metric_type != "hourly")))
    assert windows == {86400}


def test_hourly_rows_match_hand_counts(filled):
    summary = run(filled)
    hourly = rows(filled, "hourly")
    assert hourly[(hour_end(25, 10), None)] == (4, 3, 0.75, 4, 3, 0.75, "warning")
    assert hourly[(hour_end(25, 10), "a")] == (3, 2, 2 / 3, 3, 2, 2 / 3, "error")
    assert hourly[(hour_end(25, 10), "b")] == (1, 1, 1.0, 1, 1, 1.0, "healthy")
    # An hour of pending articles only: zero attempts, NULL rates, status pending.
    assert hourly[(hour_end(25, 11), None)] == (0, 0, None, 0, 0, None, "pending")
    assert hourly[(hour_end(25, 11), "a")] == (0, 0, None, 0, 0, None, "pending")
    assert (hour_end(25, 11), "b") not in hourly
    assert hourly[(hour_end(25, 12), None)] == (4, 2, 0.5, 3, 2, 2 / 3, "error")
    assert hourly[(hour_end(25, 12), "a")] == (1, 0, 0.0, 1, 0, 0.0, "error")
    assert hourly[(hour_end(25, 12), "b")] == (3, 2, 2 / 3, 2, 2, 1.0, "error")
    # Outside the 24 h window but inside the 48 h backfill.
    assert hourly[(hour_end(24, 13), "a")] == (1, 1, 1.0, 1, 1, 1.0, "healthy")
    # Every closed hour of the backfill has its all-sources row, even when empty.
    all_sources = sorted(stamp for stamp, source in hourly if source is None)
    assert len(all_sources) == collector.BACKFILL_HOURS == summary["hours"]
    assert all_sources[-1] == hour_end(25, 12)
    assert all_sources[0] == hour_end(25, 12) - timedelta(hours=collector.BACKFILL_HOURS - 1)
    assert len(hourly) == summary["hourly"] == collector.BACKFILL_HOURS + 6
    assert {m for (_, _), (_, _, _, _, _, _, m) in hourly.items()} <= {
        "pending", "healthy", "warning", "error"}


def test_open_hour_gets_its_row_only_once_closed(filled):
    run(filled)
    assert (hour_end(25, 13), None) not in rows(filled, "hourly")
    summary = run(filled, hour_end(25, 13))
    assert summary["hours"] == 1 and summary["hourly"] == 2
    hourly = rows(filled, "hourly")
    assert hourly[(hour_end(25, 13), "b")] == (1, 1, 1.0, 1, 1, 1.0, "healthy")
    assert hourly[(hour_end(25, 13), None)] == (1, 1, 1.0, 1, 1, 1.0, "healthy")


def test_rerun_in_the_same_cycle_replaces_rows(filled):
    run(filled)
    before = (rows(filled, "aggregate"), rows(filled, "source"), rows(filled, "hourly"))
    with filled.session() as session:
        session.execute(insert(Conflict), [{
            "source": "b", "source_url": "https://example.test/late", "scraped_at": at("25 12:06"),
            "geocoding_status": "failed", "validation_status": "failed"}])
    second = run(filled, NOW + timedelta(minutes=3))   # same 5-minute cycle
    assert second["timestamp"] == isoformat(before[0].popitem()[0][0]) and second["hourly"] == 0
    aggregate = rows(filled, "aggregate")
    assert len(aggregate) == 1
    assert list(aggregate.values())[0][:2] == (10, 6)   # replaced, now with the new article
    assert len(rows(filled, "source")) == 2
    assert rows(filled, "hourly") == before[2]
    run(filled, NOW + timedelta(minutes=5))              # next cycle: a new row beside it
    assert len(rows(filled, "aggregate")) == 2


def test_concurrent_collectors_never_duplicate(filled):
    barrier = threading.Barrier(2)
    errors = []

    def worker() -> None:
        try:
            barrier.wait(5)
            run(filled)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(rows(filled, "aggregate")) == 1
    assert len(rows(filled, "source")) == 2
    assert len(rows(filled, "hourly")) == collector.BACKFILL_HOURS + 6


def test_empty_database_writes_pending_rows(database):
    run(database)
    assert rows(database, "aggregate") == {
        (NOW, None): (0, 0, None, 0, 0, None, "pending")}
    assert rows(database, "source") == {}


def test_naive_now_is_refused(database):
    with database.session() as session, pytest.raises(ValueError):
        collector.collect(session, NOW.replace(tzinfo=None), CONFIG)


@pytest.fixture
def own_runtime(database: Database):
    """A Runtime on the test database, without an app (the collector needs no Flask)."""
    runtime = Runtime(dict(CONFIG), Database(database.url))
    yield runtime
    runtime.close()


def test_a_cycle_commits_then_notifies(own_runtime):
    counted_when_heard = []

    def listener() -> None:  # what the hub would read when woken: the committed rows
        with own_runtime.db.session() as session:
            counted_when_heard.append(session.scalar(select(func.count()).select_from(M)))

    own_runtime.change_listeners.append(listener)
    collector.run_safely(own_runtime, "collector")
    # an empty database: the aggregate row, and one all-sources row per backfilled hour
    assert counted_when_heard == [1 + collector.BACKFILL_HOURS]


def test_schedule_collects_in_the_background(own_runtime):
    own_runtime.config["COLLECTOR_INTERVAL_SECONDS"] = 3600
    heard = threading.Event()
    own_runtime.change_listeners.append(heard.set)
    collector.start_schedule(own_runtime)
    assert heard.wait(20), "the schedule never collected"
    with own_runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(M)
                              .where(M.metric_type == "aggregate")) == 1


def test_a_database_that_is_down_costs_one_log_line(caplog):
    url = "postgresql+psycopg://watcher:hunter2secret@127.0.0.1:1/pipewatch"
    runtime = Runtime(dict(CONFIG), Database(url, connect_args={"connect_timeout": 2}))
    try:
        with caplog.at_level(logging.WARNING, logger="api.collector"):
            collector.run_safely(runtime, "collector")
        lines = [record.getMessage() for record in caplog.records]
        assert len(lines) == 1 and "retrying" in lines[0]
        assert "hunter2secret" not in lines[0]
    finally:
        runtime.close()
