"""Another process's write lock on the SQLite file never freezes the server.

The app runs under its production server (gunicorn, one gevent worker) while another process
holds `BEGIN IMMEDIATE` on the file. Everything else keeps answering while a write
waits: /healthz, reads (WAL), the socket's heartbeats. The waiting write ends in 201 when the
lock frees within SQLITE_LOCK_WAIT_SECONDS, else in a 503 naming the cause, with Retry-After;
never a dropped connection.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests

from api.storage import migrate
from api.storage.db import Database
from tests.live_fixtures import (INGEST_TOKEN, STATUS_PATH, ProductionServer, connect,
                                 scrape_run_body)

LOCK_WAIT_SECONDS = 2.0
HEARTBEAT_SECONDS = 0.3
# /healthz takes a few ms here; before the fix it took as long as the lock was held.
HEALTHZ_MEDIAN_SECONDS = 0.1
HEALTHZ_WORST_SECONDS = 0.3  # generous: two cores shared with other tests

# Another program holding the write lock, in a process of its own (as the tracker, a cron
# `collect` or `sqlite3 pipewatch.db` would): Python's sqlite3 module, so the test needs no CLI.
HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("INSERT INTO scrape_runs (source, started_at, status, items_found, items_new) "
                   "VALUES ('held-by-another-process', '2026-01-01', 'success', 0, 0)")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


class LockHolder:
    """A second process holding BEGIN IMMEDIATE on the file until `release()`."""

    def __init__(self, path: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(10)


@pytest.fixture(scope="module")
def database_path(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("locked") / "pipewatch.db")
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="module")
def server(database_path):
    app = ProductionServer(f"sqlite:///{database_path}",
                           SQLITE_LOCK_WAIT_SECONDS=LOCK_WAIT_SECONDS,
                           WS_HEARTBEAT_SECONDS=HEARTBEAT_SECONDS)
    yield app
    app.stop()


@pytest.fixture
def holder(database_path):
    holders: list[LockHolder] = []
    yield lambda: holders.append(LockHolder(database_path)) or holders[-1]
    for held in holders:
        held.release()


def post_scrape_run(server: ProductionServer, outcome: dict[str, Any]) -> None:
    """POST in a thread; records the response, its duration, or the connection's failure."""
    started = time.monotonic()
    try:
        outcome["response"] = requests.post(
            server.url + "/api/v1/scrape-runs", json=scrape_run_body(),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"}, timeout=30)
    except requests.RequestException as exc:
        outcome["error"] = exc
    outcome["seconds"] = time.monotonic() - started


def watch_while(server: ProductionServer, busy: threading.Thread) -> dict[str, list[float]]:
    """While `busy` runs: /healthz latencies, status reads, and gaps between socket messages."""
    ws = connect(server.ws_url, timeout=5)
    ws.recv()
    seen: dict[str, list[float]] = {"healthz": [], "reads": [], "gaps": []}
    last_message = time.monotonic()
    try:
        while busy.is_alive():
            started = time.monotonic()
            assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
            seen["healthz"].append(time.monotonic() - started)
            read = requests.get(server.url + STATUS_PATH, timeout=10)
            assert read.status_code == 200, read.text
            seen["reads"].append(time.monotonic() - started)
            ws.settimeout(0.05)
            try:
                json.loads(ws.recv())
                seen["gaps"].append(time.monotonic() - last_message)
                last_message = time.monotonic()
            except Exception:  # noqa: BLE001 - no message within 50 ms is fine here
                pass
        seen["gaps"].append(time.monotonic() - last_message)
    finally:
        ws.close()
    return seen


def assert_server_kept_answering(seen: dict[str, list[float]]) -> None:
    assert len(seen["healthz"]) >= 5
    assert statistics.median(seen["healthz"]) < HEALTHZ_MEDIAN_SECONDS, seen["healthz"]
    assert max(seen["healthz"]) < HEALTHZ_WORST_SECONDS, seen["healthz"]
    assert max(seen["gaps"]) < 3 * HEARTBEAT_SECONDS + 0.5, seen["gaps"]


def test_a_write_waits_for_a_short_lock_while_everything_else_answers(server, holder):
    held = holder()
    outcome: dict[str, Any] = {}
    writer = threading.Thread(target=post_scrape_run, args=(server, outcome))
    writer.start()
    releaser = threading.Timer(LOCK_WAIT_SECONDS / 2, held.release)
    releaser.start()
    seen = watch_while(server, writer)
    writer.join()
    assert "error" not in outcome, outcome
    assert outcome["response"].status_code == 201, outcome["response"].text
    assert outcome["seconds"] >= LOCK_WAIT_SECONDS / 2 - 0.1  # it did wait for the lock
    assert_server_kept_answering(seen)


def test_a_write_behind_a_long_lock_gets_503_locked_with_retry_after(server, holder):
    holder()  # held until the test ends: longer than the server's wait
    outcome: dict[str, Any] = {}
    writer = threading.Thread(target=post_scrape_run, args=(server, outcome))
    writer.start()
    seen = watch_while(server, writer)
    writer.join()
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["details"]["cause"] == "locked"
    assert LOCK_WAIT_SECONDS - 0.1 <= outcome["seconds"] < LOCK_WAIT_SECONDS + 2
    assert_server_kept_answering(seen)
    assert "database fault on POST /api/v1/scrape-runs: locked" in server.log()


def test_the_worker_survives_a_lock_and_writes_after_it(server, holder):
    held = holder()
    outcome: dict[str, Any] = {}
    post_scrape_run(server, outcome)
    assert outcome["response"].status_code == 503
    held.release()
    post_scrape_run(server, outcome)
    assert outcome["response"].status_code == 201, outcome["response"].text
    assert "WORKER TIMEOUT" not in server.log()
