"""Several app processes on one PostgreSQL: a change made through one process, or by another
program entirely, reaches the sockets of every process (LISTEN/NOTIFY); a rule changed through
one is applied by the other; and an app's change feed outlives a PostgreSQL restart. Each app is `python app.py serve` (gunicorn, gevent)."""
from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
import requests

from api.timeutil import isoformat, utcnow
from tests.live_fixtures import (INGEST_TOKEN, ProductionServer, connect, new_source,
                                 recv_status, recv_until, scrape_run_body, shows_source,
                                 wait_for, without_timestamp)
from tests.pgserver import start_server

pytestmark = pytest.mark.postgres


def psql_insert_scrape_run(url: str) -> str:
    """What psql would do: plain SQL on a connection that knows nothing of pipewatch."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    source = new_source()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO scrape_runs (source, started_at, finished_at, status, items_found, "
            "items_new) VALUES (%s, %s, %s, 'success', 1, 1)",
            (source, utcnow(), utcnow()))
    return source


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
        for ws in watchers:
            recv_status(ws)
        source = first.ingest_scrape_run()
        expected = without_timestamp(second.status())
        for ws in watchers[:5]:
            assert without_timestamp(recv_until(ws, shows_source(source))) == expected
        recv_until(watchers[5], shows_source(source))
    finally:
        for ws in watchers:
            ws.close()


def test_a_row_inserted_by_psql_reaches_both_processes(two_apps, shared_database):
    first, second = two_apps
    watchers = [connect(first.ws_url), connect(second.ws_url)]
    try:
        for ws in watchers:
            recv_status(ws)
        source = psql_insert_scrape_run(shared_database)
        for ws, app in zip(watchers, two_apps):
            pushed = recv_until(ws, shows_source(source))
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

        computed = 'pipewatch_status_computations_total{caller="hub"}'
        before = app.metrics()[computed]
        own_pg_server.restart()
        wait_for(lambda: app.metrics()["pipewatch_changefeed_reconnects_total"] >= 1, 30)
        wait_for(lambda: app.metrics()["pipewatch_changefeed_connected"] == 1, 30)
        # Back, the listener asks for a fresh status at once; let that computation end first.
        wait_for(lambda: app.metrics()[computed] > before, 30)
        source = psql_insert_scrape_run(url)
        pushed = recv_until(ws, shows_source(source), timeout=30)
        assert pushed["seq"] > first["seq"]
        assert without_timestamp(pushed) == without_timestamp(app.status())
        ws.close()
    finally:
        app.stop()


def test_a_rule_changed_through_one_process_is_applied_by_the_other(shared_database):
    """A source quiet for 3 h is stale (warning) on both; a rule PUT through the first gives it
    a day: the second process, not restarted, pushes it healthy with its alert resolved."""
    settings = {"PIPEWATCH_OPERATOR_TOKEN": "operator-rules-token", "ALERT_FOR_SECONDS": 0,
                "ALERT_KEEP_FIRING_SECONDS": 0}
    first = ProductionServer(shared_database, **settings)
    second = None
    try:
        second = ProductionServer(shared_database, **settings)
        source = new_source()
        body = {**scrape_run_body(source),
                "started_at": isoformat(utcnow() - timedelta(hours=3, seconds=5)),
                "finished_at": isoformat(utcnow() - timedelta(hours=3))}
        assert requests.post(first.url + "/api/v1/scrape-runs", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
                             ).status_code == 201
        key = f"source_stale:{source}"
        ws = connect(second.ws_url)
        try:
            recv_until(ws, lambda doc: any(a["key"] == key and a["state"] == "firing"
                                           for a in doc["alerts"]))
            answer = requests.put(first.url + "/api/v1/rules", timeout=30, json={
                "rules": [{"source": source, "kind": "source_stale",
                           "stale_warning_seconds": 86400, "stale_error_seconds": 172800}],
                "by": "ada", "comment": "publishes once a day"},
                headers={"Authorization": "Bearer operator-rules-token"})
            assert answer.status_code == 200, answer.text
            pushed = recv_until(ws, lambda doc: all(a["key"] != key for a in doc["alerts"]))
            [entry] = [item for item in pushed["scraping_health"]["sources"]
                       if item["source"] == source]
            assert entry["status"] == "healthy"
        finally:
            ws.close()
    finally:
        first.stop()
        if second is not None:
            second.stop()
