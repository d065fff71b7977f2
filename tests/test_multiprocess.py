"""Several app processes on one PostgreSQL: a change made through one process, or by another
program entirely, reaches the sockets of every process (LISTEN/NOTIFY); and an app's change feed
outlives a PostgreSQL restart. Each app is `python app.py serve` (gunicorn, gevent)."""
from __future__ import annotations

import psycopg
import pytest

from api.timeutil import utcnow
from tests.live_fixtures import (ProductionServer, connect, new_source, recv_status, recv_until,
                                 wait_for, without_timestamp)
from tests.pgserver import start_server

pytestmark = pytest.mark.postgres


def psql_insert_scrape_run(url: str) -> None:
    """What psql would do: plain SQL on a connection that knows nothing of pipewatch."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO scrape_runs (source, started_at, finished_at, status, items_found, "
            "items_new) VALUES (%s, %s, %s, 'success', 1, 1)",
            (new_source(), utcnow(), utcnow()))


@pytest.fixture(scope="module")
def shared_database(pg_server):
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def two_apps(shared_database):
    first = ProductionServer(shared_database)
    try:
        second = ProductionServer(shared_database)
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def test_a_change_through_one_process_reaches_the_other(two_apps):
    first, second = two_apps
    watchers = [connect(second.ws_url) for _ in range(5)] + [connect(first.ws_url)]
    try:
        seqs = [recv_status(ws)["seq"] for ws in watchers]
        first.ingest_scrape_run()
        expected = without_timestamp(second.status())
        for ws, seq in zip(watchers[:5], seqs):
            pushed = recv_until(ws, lambda message, seq=seq: message["seq"] > seq)
            assert without_timestamp(pushed) == expected
        recv_until(watchers[5], lambda message: message["seq"] > seqs[5])
    finally:
        for ws in watchers:
            ws.close()


def test_a_row_inserted_by_psql_reaches_both_processes(two_apps, shared_database):
    first, second = two_apps
    watchers = [connect(first.ws_url), connect(second.ws_url)]
    try:
        before = [recv_status(ws) for ws in watchers]
        psql_insert_scrape_run(shared_database)
        for ws, old, app in zip(watchers, before, two_apps):
            pushed = recv_until(ws, lambda message, old=old: message["seq"] > old["seq"])
            assert without_timestamp(pushed) == without_timestamp(app.status())
    finally:
        for ws in watchers:
            ws.close()


@pytest.fixture
def own_pg_server():
    """A PostgreSQL server of this test alone: it gets restarted."""
    server = start_server()
    yield server
    server.stop()


def test_the_app_keeps_pushing_after_a_postgresql_restart(own_pg_server):
    url = own_pg_server.create_database()
    app = ProductionServer(url, WS_HEARTBEAT_SECONDS=120)
    try:
        ws = connect(app.ws_url, timeout=30)
        first = recv_status(ws)
        wait_for(lambda: app.metrics()["pipewatch_changefeed_connected"] == 1)

        own_pg_server.restart()
        wait_for(lambda: app.metrics()["pipewatch_changefeed_reconnects_total"] >= 1, 30)
        wait_for(lambda: app.metrics()["pipewatch_changefeed_connected"] == 1, 30)
        psql_insert_scrape_run(url)
        pushed = recv_until(ws, lambda message: message["seq"] > first["seq"], timeout=30)
        assert without_timestamp(pushed) == without_timestamp(app.status())
        ws.close()
    finally:
        app.stop()
