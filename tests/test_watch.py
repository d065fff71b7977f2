"""`python app.py watch`: the command-line viewer against the production server, as a person
runs it: pushed documents printed as they come (JSON lines, or one readable line each), the read
token sent as a header and never printed, a wrong one explained, and a server restart survived
by reconnecting."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

import pytest

import tests.live_fixtures as live
from api.settings import REPO_ROOT
from api.watch import brief, socket_url
from tests.live_fixtures import WS_PATH, ProductionServer

READ_TOKEN = "watch-read-token-4471"


class Viewer:
    """`python app.py watch ...` in its own process, its output read line by line."""

    def __init__(self, *args: str, token: str | None = None) -> None:
        env = {**os.environ, "PIPEWATCH_READ_TOKEN": token or ""}
        self.process = subprocess.Popen([sys.executable, "app.py", "watch", *args], cwd=REPO_ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines = {"stdout": queue.Queue(), "stderr": queue.Queue()}
        for name, found in self.lines.items():
            threading.Thread(target=self._pump, args=(getattr(self.process, name), found),
                             daemon=True).start()

    @staticmethod
    def _pump(pipe, found: queue.Queue) -> None:
        for text in pipe:
            found.put(text.rstrip("\n"))

    def line(self, stream: str = "stdout", timeout: float = 60) -> str:
        """The next line of `stream`; fails after `timeout` seconds without one."""
        try:
            return self.lines[stream].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line on {stream} in {timeout} s") from None

    def all_lines(self, stream: str) -> list[str]:
        found = []
        while not self.lines[stream].empty():
            found.append(self.lines[stream].get())
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def server(tmp_path):
    started = ProductionServer(f"sqlite:///{tmp_path / 'watch.db'}",
                               PIPEWATCH_READ_TOKEN=READ_TOKEN, WS_HEARTBEAT_SECONDS=30)
    yield started
    started.stop()


def test_it_prints_each_pushed_document_and_stops_after_count(server):
    viewer = Viewer(server.url, "--count", "2", token=READ_TOKEN)
    try:
        first = json.loads(viewer.line())
        source = server.ingest_scrape_run()
        second = json.loads(viewer.line())
        assert second["seq"] > first["seq"]
        assert any(item["source"] == source for item in second["scraping_health"]["sources"])
        assert viewer.process.wait(10) == 0
        assert not any(READ_TOKEN in text for text in viewer.all_lines("stderr"))
    finally:
        viewer.stop()


def test_brief_prints_one_readable_line_per_document(server):
    viewer = Viewer(server.url.replace("http://", ""), "--brief", "--count", "1",
                    token=READ_TOKEN)
    try:
        line = viewer.line()
        assert line.startswith("seq ") and "overall " in line and "alerts 0 firing" in line
        assert viewer.process.wait(10) == 0
    finally:
        viewer.stop()


def test_a_missing_token_is_explained_and_ends_the_viewer(server):
    viewer = Viewer(server.ws_url)
    try:
        message = viewer.line("stderr")
        assert message.startswith("error: cannot connect") and "HTTP 401" in message
        assert "--token or $PIPEWATCH_READ_TOKEN" in message
        assert viewer.process.wait(10) == 2
    finally:
        viewer.stop()


def test_it_reconnects_when_the_server_restarts(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    first = ProductionServer(url)
    viewer = Viewer(first.url, "--brief")
    second = None
    try:
        viewer.line()
        first.stop()
        assert "connection lost" in viewer.line("stderr")
        monkeypatch.setattr(live, "free_port", lambda: first.port)
        second = ProductionServer(url)
        line = viewer.line()
        assert line.startswith("seq ")
    finally:
        viewer.stop()
        first.stop()
        if second is not None:
            second.stop()


def test_urls_a_person_types_become_the_socket_url():
    assert socket_url("127.0.0.1:8050") == f"ws://127.0.0.1:8050{WS_PATH}"
    assert socket_url("https://pipewatch.example.org/") == f"wss://pipewatch.example.org{WS_PATH}"
    assert socket_url("ws://h:1/custom") == "ws://h:1/custom"
    with pytest.raises(ValueError, match="not a server or WebSocket URL"):
        socket_url("ftp://h")


def test_brief_counts_alerts_by_state():
    document = {"seq": 7, "timestamp": "2026-12-02T10:00:00Z", "overall_status": "error",
                "scraping_health": {"status": "error"}, "data_quality": {"status": "warning"},
                "anomalies": [{}],
                "alerts": [{"state": "firing", "severity": "error", "title": "Source stale (punch)",
                            "ack": {"by": "a"}, "silenced": None},
                           {"state": "pending", "severity": "warning", "title": "x",
                            "ack": None, "silenced": {"id": 1}}]}
    assert brief(document) == (
        "seq 7  2026-12-02T10:00:00Z  overall error  scraping error  quality warning  "
        "alerts 1 firing, 1 pending (1 acked, 1 silenced)  anomalies 1  "
        "| error: Source stale (punch)")
