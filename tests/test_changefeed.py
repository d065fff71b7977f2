"""The change feed: SQLite's data_version watcher, PostgreSQL's triggers (migration 003) and
LISTEN, and a listener that outlives a PostgreSQL restart. Real databases throughout."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone

import psycopg
import pytest
from sqlalchemy import insert, inspect, text

from api.live import changefeed

from api.storage import migrate
from api.storage.db import Database
from api.storage.models import Conflict, DataQualityMetric, Forecast, Location, ScrapeRun
from api.telemetry import Telemetry
from tests.live_fixtures import insert_scrape_run, wait_for
from tests.pgserver import start_server

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
ROWS = {
    "conflicts": (Conflict, {"source": "punch", "source_url": "https://example.org/1",
                             "scraped_at": T0, "geocoding_status": "success",
                             "validation_status": "passed"}),
    "forecast": (Forecast, {"location_id": 1, "forecast_date": date(2026, 11, 26),
                            "risk_score": 0.3, "created_at": T0}),
    "scrape_runs": (ScrapeRun, {"source": "punch", "started_at": T0, "status": "success",
                                "items_found": 1, "items_new": 1}),
    "data_quality_metrics": (DataQualityMetric, {
        "timestamp": T0, "window_seconds": 3600, "metric_type": "hourly",
        "geocoding_attempts": 1, "geocoding_successes": 1, "validation_attempts": 1,
        "validation_passes": 1, "status": "healthy", "created_at": T0}),
}


class Heard:
    """A notify callback that counts, and lets a test wait for the next call."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.count += 1

    def wait_beyond(self, seen: int, timeout: float = 15) -> None:
        wait_for(lambda: self.count > seen, timeout)


@pytest.fixture
def feed():
    """Run a feed function in a thread; stopped and joined after the test."""
    stopping = threading.Event()
    threads = []

    def run(target, *args):
        thread = threading.Thread(target=target, args=(*args,), daemon=True)
        threads.append(thread)
        thread.start()

    yield stopping, run
    stopping.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "the feed did not stop"


def gauge(telemetry: Telemetry, name: str) -> float:
    return telemetry.registry.get_sample_value(name) or 0.0


def psycopg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def sqlite_watcher(tmp_path, feed, interval: float = 0.02):
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    database = Database(url)
    migrate.upgrade(database.engine)
    database.dispose()
    stopping, run = feed
    heard, telemetry = Heard(), Telemetry()
    watcher = changefeed.SqliteWatcher(str(tmp_path / "feed.db"), heard, stopping, telemetry,
                                       interval)
    run(watcher.run)
    wait_for(lambda: gauge(telemetry, "pipewatch_changefeed_connected") == 1)
    return url, watcher, heard, telemetry


def test_sqlite_watcher_hears_another_connection(tmp_path, feed):
    url, _, heard, telemetry = sqlite_watcher(tmp_path, feed)
    for _ in range(3):
        seen = heard.count
        insert_scrape_run(url)
        heard.wait_beyond(seen)
    assert telemetry.registry.get_sample_value("pipewatch_change_events_total",
                                               {"source": "sqlite"}) >= 3


def test_sqlite_watcher_absorbs_this_process_commits_but_not_later_ones(tmp_path, feed):
    # A long poll interval, so that a poll rarely falls between the commit and local_change()
    # (when one does, the commit is simply heard twice: harmless, but not what is tested here).
    url, watcher, heard, telemetry = sqlite_watcher(tmp_path, feed, interval=1.0)
    events = lambda: telemetry.registry.get_sample_value(  # noqa: E731
        "pipewatch_change_events_total", {"source": "sqlite"}) or 0.0
    insert_scrape_run(url)
    watcher.local_change()  # what runtime.notify_change() does after an in-process commit
    assert heard.count == 1, "the local change wakes the hub at once"
    time.sleep(1.2)  # a poll later, the same commit has not been heard a second time
    assert heard.count == 1 and events() == 0
    insert_scrape_run(url)  # someone else, after: heard as usual
    heard.wait_beyond(1)
    assert events() == 1


ALERT_TABLES = {"alert_occurrences", "alert_transitions", "silences", "alert_rules"}
"""Migrations 006, 007 and 008 add their tables to the watched ones (an ack, a transition, a
silence or a rule change from another process is pushed too)."""


def test_migration_003_installs_notify_triggers_only_on_postgresql(database):
    """Up and down on both backends; on PostgreSQL the triggers and function come and go."""
    query = text("SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                 "WHERE t.tgname = 'pipewatch_notify_change'")
    function = text("SELECT count(*) FROM pg_proc WHERE proname = 'pipewatch_notify_change'")
    postgres = database.dialect == "postgresql"

    def installed() -> tuple[set, int]:
        with database.engine.connect() as connection:
            return set(connection.scalars(query)), connection.scalar(function)

    if postgres:
        assert installed() == (set(ROWS) | ALERT_TABLES, 1)
    migrate.downgrade(database.engine, "005_add_revoked_sessions")
    if postgres:
        assert installed() == (set(ROWS), 1)
    migrate.downgrade(database.engine, "002_add_data_quality_metrics")
    assert migrate.current_revision(database.engine) == "002_add_data_quality_metrics"
    assert "data_quality_metrics" in inspect(database.engine).get_table_names()
    if postgres:
        assert installed() == (set(), 0)
    migrate.upgrade(database.engine)
    if postgres:
        assert installed() == (set(ROWS) | ALERT_TABLES, 1)


@pytest.mark.postgres
def test_every_watched_table_notifies_with_its_name(pg_server):
    url = pg_server.create_database()
    database = Database(url)
    try:
        migrate.upgrade(database.engine)
        with database.session() as session:
            session.execute(insert(Location).values(id=1, name="Maiduguri"))
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as listener:
            listener.execute("LISTEN pipewatch_changes")
            for table, (model, values) in ROWS.items():
                with database.session() as session:
                    session.execute(insert(model), [values])
                notes = list(listener.notifies(timeout=5, stop_after=1))
                assert [note.payload for note in notes] == [table]
            # one statement writing many rows is one notification
            with database.session() as session:
                session.execute(insert(ScrapeRun), [ROWS["scrape_runs"][1]] * 500)
            notes = list(listener.notifies(timeout=1))
            assert [note.payload for note in notes] == ["scrape_runs"]
    finally:
        database.dispose()
        pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def own_pg_server():
    """A PostgreSQL server of this test alone: it gets restarted."""
    server = start_server()
    yield server
    server.stop()


@pytest.mark.postgres
def test_listener_survives_a_postgresql_restart(own_pg_server, feed):
    url = own_pg_server.create_database()
    database = Database(url)
    migrate.upgrade(database.engine)
    database.dispose()
    stopping, run = feed
    heard, telemetry = Heard(), Telemetry()
    connected = lambda: gauge(telemetry, "pipewatch_changefeed_connected") == 1  # noqa: E731
    listener = changefeed.PostgresListener(psycopg_conninfo(url), heard, stopping, telemetry, 0.1)
    run(listener.run)
    wait_for(connected)
    seen = heard.count
    insert_scrape_run(url)
    heard.wait_beyond(seen)
    listener.local_change()
    assert heard.count == seen + 1, "while listening, this process's own NOTIFY is enough"

    own_pg_server.restart()
    wait_for(lambda: gauge(telemetry, "pipewatch_changefeed_reconnects_total") >= 1, timeout=30)
    wait_for(connected, timeout=30)
    heard.wait_beyond(seen + 1)  # a fresh status is asked for after reconnecting
    seen = heard.count
    insert_scrape_run(url)
    heard.wait_beyond(seen)
