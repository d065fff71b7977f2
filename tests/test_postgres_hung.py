"""A hung PostgreSQL (every process stopped with SIGSTOP: connections open, nothing answers)
gets `/readyz` 503 within READY_TIMEOUT_SECONDS, again and again without piling up stuck
checks; the app recovers by itself once the server resumes (SIGCONT). The app runs under its
production server (gunicorn, one gevent worker)."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from api.storage import migrate
from api.storage.db import Database
from tests.live_fixtures import STATUS_PATH, ProductionServer, wait_for
from tests.pgserver import PostgresServer, start_server

pytestmark = pytest.mark.postgres

READY_TIMEOUT_SECONDS = 0.5


def server_processes(server: PostgresServer) -> list[int]:
    """The postmaster (first line of postmaster.pid) and every backend and helper it forked."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                              text=True).stdout.split()
    return [postmaster, *map(int, children)]


@pytest.fixture
def own_pg_server():
    """A PostgreSQL server of this test alone: it gets stopped."""
    server = start_server()
    yield server
    server.stop()


def get_readyz(app: ProductionServer) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(app.url + "/readyz", timeout=10)
    return response, time.monotonic() - started


def test_readyz_answers_503_within_2_s_while_postgresql_hangs_and_recovers(own_pg_server):
    url = own_pg_server.create_database()
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    app = ProductionServer(url, READY_TIMEOUT_SECONDS=READY_TIMEOUT_SECONDS)
    stopped: list[int] = []
    try:
        assert get_readyz(app)[0].status_code == 200
        assert requests.get(app.url + STATUS_PATH, timeout=10).status_code == 200
        stopped = server_processes(own_pg_server)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)

        for _ in range(3):  # the first waits for its check; later ones see it still waiting
            response, seconds = get_readyz(app)
            assert response.status_code == 503, response.text
            assert seconds < 2.0
            error = response.json()["error"]
            assert error["code"] == "not_ready"
            assert error["details"]["cause"] == "unavailable"
        assert error["details"]["waiting_seconds"] >= READY_TIMEOUT_SECONDS
        started = time.monotonic()
        assert requests.get(app.url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 0.5

        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        stopped = []
        wait_for(lambda: get_readyz(app)[0].status_code == 200, timeout=20, interval=0.2)
        assert requests.get(app.url + STATUS_PATH, timeout=10).status_code == 200
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        app.stop()
