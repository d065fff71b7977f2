"""Shared fixtures: databases (SQLite and a real PostgreSQL server), apps, clients, servers.

Database tests take the `db_url` fixture, which runs each test twice: on a fresh SQLite file
and on a fresh database of a PostgreSQL server this session starts itself. PostgreSQL is never
skipped silently: when it cannot start, the test fails with the fix. Set
PIPEWATCH_SKIP_POSTGRES=1 to skip those cases on purpose (CI never sets it).
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterator

import pytest
from flask import got_request_exception

from api.runtime import report_thread_error
from api.storage import migrate
from api.storage.db import Database
from tests.pgserver import PostgresServer, PostgresUnavailable, start_server

SKIP_POSTGRES = os.environ.get("PIPEWATCH_SKIP_POSTGRES") == "1"
BASE_OVERRIDES = {"COLLECTOR_INTERVAL_SECONDS": 0, "ALERT_EVALUATE_SECONDS": 0,
                  "SIMULATE": False, "LOG_LEVEL": "WARNING"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL server the tests start")
    config.addinivalue_line("markers", "browser: needs headless Chromium and chromedriver")
    got_request_exception.connect(_report_request_error)


def _report_request_error(_sender, exception: Exception, **_extra) -> None:
    """A request that ended in an unexpected exception (a 500) fails the test that sent it.

    In whichever thread served it (the test's own, through test_client, or a server thread),
    it goes to threading.excepthook, which pytest.ini turns into a failure of the running test.
    """
    report_thread_error(exception)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session (or PIPEWATCH_TEST_POSTGRES_URL's)."""
    if SKIP_POSTGRES:
        pytest.skip("PIPEWATCH_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL tests cannot run: {exc}\n"
                    "Set PIPEWATCH_SKIP_POSTGRES=1 to skip them on purpose.", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pipewatch-test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite file only, for tests whose subject is not the database."""
    return f"sqlite:///{tmp_path / 'pipewatch-test.db'}"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A migrated, empty database (both backends)."""
    db = Database(db_url)
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


def _app_builder(url: str) -> Iterator[Callable[..., Any]]:
    """Build apps on `url`: `build(PIPEWATCH_INGEST_TOKEN="t")`; every app built is closed after.

    Background workers are off unless a test turns them on.
    """
    from app import create_app

    built = []

    def build(**overrides: Any):
        app = create_app({**BASE_OVERRIDES, "DATABASE_URL": url, **overrides})
        built.append(app)
        return app

    yield build
    for app in built:
        app.server.extensions["pipewatch"].close()


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[..., Any]]:
    """Apps on the test's database (both backends)."""
    yield from _app_builder(db_url)


@pytest.fixture
def make_sqlite_app(sqlite_url: str) -> Iterator[Callable[..., Any]]:
    """Apps on a SQLite file only, for tests whose subject does not depend on the backend."""
    yield from _app_builder(sqlite_url)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def runtime(app):
    return app.server.extensions["pipewatch"]


class ServerThread:
    """The app's Flask server on a free loopback port in a thread (Werkzeug, threaded)."""

    def __init__(self, flask_app) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, flask_app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(app) -> Iterator[ServerThread]:
    """The test's app served over real HTTP on loopback."""
    server = ServerThread(app.server).start()
    yield server
    server.stop()
