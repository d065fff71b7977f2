"""Many viewers on one worker: the server raises its open-file limit, and N idle sockets stay
open and all get a change.

The server starts with a soft RLIMIT_NOFILE of 150, as a low login-shell limit would leave it,
and 200 sockets are opened: without the raise at start (api/serving.py `on_starting`) the
worker could not accept them all (EMFILE), so both tests fail if the raise goes.
"""
from __future__ import annotations

import resource
from pathlib import Path

import pytest

from tests.live_fixtures import (ProductionServer, connect, recv_status, recv_until,
                                 shows_source)

LOW_SOFT_LIMIT = 150
SOCKETS = 200


def soft_fd_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < SOCKETS + 1200:
        pytest.skip(f"the hard open-file limit here ({hard}) is too low for this test")
    url = f"sqlite:///{tmp_path_factory.mktemp('many') / 'many.db'}"
    # A long heartbeat: every message after the first is then a change, not a re-send.
    started = ProductionServer(url, fd_soft_limit=LOW_SOFT_LIMIT,
                               WS_MAX_CONNECTIONS=SOCKETS + 20, WS_HEARTBEAT_SECONDS=300)
    yield started
    started.stop()


def test_the_server_raises_its_soft_open_file_limit_to_the_hard_one(server):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for pid in (server.process.pid, server.worker_pid()):  # gunicorn master and its worker
        soft = soft_fd_limit(pid)
        assert soft > LOW_SOFT_LIMIT
        assert soft == hard


def test_idle_sockets_stay_open_and_all_get_a_change(server):
    sockets = []
    try:
        for _ in range(SOCKETS):
            sockets.append(connect(server.ws_url, timeout=30))
        first = [recv_status(ws)["seq"] for ws in sockets]
        source = server.ingest_scrape_run()
        seen = [recv_until(ws, shows_source(source), timeout=30) for ws in sockets]
        assert len(seen) == SOCKETS
        assert all(status["seq"] > before for status, before in zip(seen, first))
        assert all(ws.connected for ws in sockets)
    finally:
        for ws in sockets:
            ws.close()
