"""Helpers for the live-push tests: the app under its production server, WebSocket clients,
and writes that do not go through the app.

`ProductionServer` runs `python app.py serve` (gunicorn, one gevent worker) as a subprocess on
a free loopback port, with settings in the environment, and always kills it in `stop()`; with
`workers=N` it runs README's several-worker command (api.serving.gunicorn_command) instead.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from itertools import count
from typing import Any, Callable, Optional

import requests
import websocket
from sqlalchemy import insert

from api.settings import REPO_ROOT
from api.storage.db import Database
from api.storage.models import ScrapeRun
from api.timeutil import isoformat, utcnow

WS_PATH = "/api/v1/ws/monitoring/pipeline-status"
STATUS_PATH = "/api/v1/monitoring/pipeline-status"
INGEST_TOKEN = "live-test-ingest-token"
_sources = count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _soft_fd_limit(soft: Optional[int]) -> Optional[Callable[[], None]]:
    if soft is None:
        return None

    def lower() -> None:  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    return lower


class ProductionServer:
    """`python app.py serve` on a free port; `.url`, `.ws_url`, `.metrics()`, `.stop()`."""

    def __init__(self, database_url: str, *, workers: int = 1,
                 fd_soft_limit: Optional[int] = None, **settings: Any) -> None:
        """`fd_soft_limit`: start the server with this soft RLIMIT_NOFILE (as a login shell's
        1,024 would), to see what the server makes of it."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}{WS_PATH}"
        env = {**os.environ, "DATABASE_URL": database_url, "HOST": "127.0.0.1",
               "PORT": str(self.port), "COLLECTOR_INTERVAL_SECONDS": "0", "SIMULATE": "0",
               "GRACEFUL_TIMEOUT_SECONDS": "1", "LOG_LEVEL": "WARNING",
               "PIPEWATCH_INGEST_TOKEN": INGEST_TOKEN}
        env.update({name: str(value) for name, value in settings.items()})
        self.log_path = f"/tmp/pipewatch-serve-{self.port}.log"
        self._log = open(self.log_path, "wb")
        command = [sys.executable, "app.py", "serve"]
        if workers > 1:
            from api.serving import gunicorn_command
            from api.settings import load_config
            from api.storage import migrate

            # `serve` migrates before gunicorn starts; workers starting together must not race
            db = Database(database_url)
            try:
                migrate.upgrade(db.engine)
            finally:
                db.dispose()
            command = gunicorn_command(load_config(environ=env), workers)
        self.process = subprocess.Popen(command, cwd=REPO_ROOT,
                                        env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True,
                                        preexec_fn=_soft_fd_limit(fd_soft_limit))
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log()[-2000:]}")

    def log(self) -> str:
        with open(self.log_path, "rb") as handle:
            return handle.read().decode(errors="replace")

    def worker_pid(self) -> int:
        """The gunicorn worker (the process holding the sockets)."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                  text=True).stdout.split()
        return int(children[0])

    def worker_pids(self) -> list[int]:
        """Every gunicorn worker of this server now."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                  text=True).stdout.split()
        return sorted(int(child) for child in children)

    def metrics(self) -> dict[str, float]:
        """GET /metrics as {'name{labels}': value}."""
        text = requests.get(self.url + "/metrics", timeout=10).text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def status(self) -> dict[str, Any]:
        return requests.get(self.url + STATUS_PATH, timeout=10).json()

    def ingest_scrape_run(self, source: Optional[str] = None, *, count: int = 1) -> str:
        """POST scrape runs of new sources (so the status surely changes); one request.

        Returns the (last) source name, for `shows_source`."""
        bodies = [scrape_run_body(source if count == 1 else f"{source or new_source()}-{i}")
                  for i in range(count)]
        response = requests.post(self.url + "/api/v1/scrape-runs",
                                 json=bodies[0] if count == 1 else bodies,
                                 headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                                 timeout=30)
        assert response.status_code == 201, response.text
        return bodies[-1]["source"]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        self._log.close()


def new_source() -> str:
    return f"live-{os.getpid()}-{next(_sources)}"


def scrape_run_body(source: Optional[str] = None) -> dict[str, Any]:
    now = utcnow()
    return {"source": source or new_source(), "started_at": isoformat(now - timedelta(seconds=5)),
            "finished_at": isoformat(now), "status": "success", "items_found": 3,
            "items_new": 2}


def insert_scrape_run(database_url: str, source: Optional[str] = None) -> str:
    """A write from outside the app: its own connection, no notification from the app."""
    db = Database(database_url)
    source = source or new_source()
    try:
        now = utcnow()
        with db.session() as session:
            session.execute(insert(ScrapeRun).values(
                source=source, started_at=now - timedelta(seconds=5),
                finished_at=now, status="success", items_found=3, items_new=2))
    finally:
        db.dispose()
    return source


def shows_source(source: str) -> Callable[[dict[str, Any]], bool]:
    """A status document that lists `source` in its scraping health (the write has arrived).

    Wait for this rather than for any newer `seq`: a computation running while the row
    commits may already count it in one part and not yet in another (PostgreSQL reads each
    statement at its own moment); the notification of that commit brings the whole picture
    a moment later.
    """
    return lambda document: any(entry["source"] == source
                                for entry in document["scraping_health"]["sources"])


def connect(url: str, timeout: float = 15, **options: Any) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=timeout, **options)


def recv_status(ws: websocket.WebSocket) -> dict[str, Any]:
    """The next message, parsed."""
    return json.loads(ws.recv())


def recv_until(ws: websocket.WebSocket, accept: Callable[[dict[str, Any]], bool],
               timeout: float = 15) -> dict[str, Any]:
    """Read messages until one satisfies `accept`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching message in time")
        ws.settimeout(remaining)
        message = recv_status(ws)
        if accept(message):
            return message


def close_frame(ws: websocket.WebSocket, timeout: float = 15) -> tuple[int, str]:
    """Read until the server's close frame; its (code, reason)."""
    ws.settimeout(timeout)
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def without_timestamp(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "timestamp"}


def wait_for(predicate: Callable[[], bool], timeout: float = 15, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)
