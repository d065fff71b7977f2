"""Helpers for the browser tests: the app in a subprocess, a TCP proxy that can refuse
WebSocket upgrades or stall open sockets, a trace of what the page saw and did, metric writes,
and waiting for what a person would see."""
from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import requests

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `predicate` until it returns something truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the page may be mid-render; try again
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"within {timeout} s: {what}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


class AppProcess:
    """The app served by Werkzeug in a child process on a fixed port; stop() and start()."""

    def __init__(self, database_url: str, port: int | None = None,
                 settings: Mapping[str, str] | None = None) -> None:
        self.database_url = database_url
        self.settings = dict(settings or {})
        """Settings for the app, as environment variables (e.g. WS_HEARTBEAT_SECONDS)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "AppProcess":
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, **self.settings, "PYTHONPATH": path}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.browser.serve_app", self.database_url, str(self.port)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the app process exited: " + (self.process.stdout.read() or ""))
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    threading.Thread(target=self._drain, daemon=True).start()
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the app did not answer /healthz in time")

    def _drain(self) -> None:
        process = self.process
        for _line in process.stdout:  # keep the pipe from filling up
            pass

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def counter(self, name: str) -> float:
        """A counter from the app's GET /metrics (Prometheus text), 0 when absent."""
        text = requests.get(self.url + "/metrics", timeout=5).text
        match = re.search(rf"^{name}\s+([0-9.e+]+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    def polls_total(self) -> float:
        return self.counter("pipewatch_polls_total")


class TcpProxy:
    """A byte-for-byte TCP proxy between the browser and the app, in threads.

    `block_websockets = True` makes it refuse new WebSocket upgrades (the HTTP connection is
    closed before reaching the app) while plain HTTP still passes; `cut_websockets()` drops
    the upgraded connections that are open; `stall_websockets()` stops forwarding on them
    while keeping them open (a middlebox that hangs: neither end sees a close), and
    `hold_websockets = True` does the same to new upgrades before they reach the app (the
    browser's socket stays "connecting"). If the app is down, connections are dropped.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.block_websockets = False
        self.hold_websockets = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._websockets: list[tuple[socket.socket, socket.socket]] = []
        self._stalled: set[tuple[socket.socket, socket.socket]] = set()
        self.refused_upgrades = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        head = b""
        try:
            client.settimeout(10)
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)
                if not chunk:
                    client.close()
                    return
                head += chunk
            client.settimeout(None)
        except OSError:
            client.close()
            return
        upgrade = b"upgrade: websocket" in head.split(b"\r\n\r\n", 1)[0].lower()
        if upgrade and self.block_websockets:
            self.refused_upgrades += 1
            client.close()
            return
        if upgrade and self.hold_websockets:
            while not self._closed:  # never answered, never closed
                time.sleep(0.1)
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        pair = (client, upstream)
        if upgrade:
            with self._lock:
                self._websockets.append(pair)
        try:
            upstream.sendall(head)
            self._pump(pair)
        finally:
            with self._lock:
                if pair in self._websockets:
                    self._websockets.remove(pair)
            for sock in pair:
                try:
                    sock.close()
                except OSError:
                    pass

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        a, b = pair
        peers = {a: b, b: a}
        while True:
            if pair in self._stalled:  # read nothing, send nothing, close nothing
                if self._closed:
                    return
                time.sleep(0.1)
                continue
            try:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
            except (OSError, ValueError):
                return
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return

    def cut_websockets(self) -> int:
        """Drop every open upgraded connection, as a middlebox dying would."""
        with self._lock:
            pairs = list(self._websockets)
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(pairs)

    def stall_websockets(self) -> int:
        """Stop forwarding on every open upgraded connection, leaving it open; new ones pass."""
        with self._lock:
            pairs = list(self._websockets)
            self._stalled.update(pairs)
        return len(pairs)

    def open_websockets(self) -> int:
        with self._lock:
            return len(self._websockets)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut_websockets()
        self._stalled.clear()


PAGE_TRACE = """
(function () {
  var trace = window.__pwTrace = {messages: [], polls: [], pill: [], stale: [],
                                  first_value: null};
  var Plain = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    var socket = protocols === undefined ? new Plain(url) : new Plain(url, protocols);
    socket.addEventListener("message", function () { trace.messages.push(performance.now()); });
    return socket;
  };
  window.WebSocket.prototype = Plain.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { window.WebSocket[k] = Plain[k]; });
  var plainFetch = window.fetch;
  window.fetch = function (input, init) {
    var body = init && typeof init.body === "string" ? init.body : "";
    if (body.indexOf('"output":"%(poll_output)s"') >= 0) { trace.polls.push(performance.now()); }
    return plainFetch.apply(window, arguments);
  };
  var lastPill = null, lastStale = null;
  new MutationObserver(function () {
    var pill = document.getElementById("%(pill)s");
    var panel = document.getElementById("%(live_panel)s");
    var value = document.getElementById("%(card_value)s");
    var now = performance.now();
    if (value && trace.first_value === null) { trace.first_value = value.textContent; }
    if (pill && pill.textContent !== lastPill) {
      lastPill = pill.textContent; trace.pill.push([now, lastPill]); }
    var stale = !!panel && panel.className.indexOf("pw-stale") >= 0;
    if (panel && stale !== lastStale) { lastStale = stale; trace.stale.push([now, stale]); }
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})();
"""
"""Injected before the page's own scripts (Page.addScriptToEvaluateOnNewDocument, formatted with
the ids): in `window.__pwTrace`, on the page's clock (performance.now(), ms), every socket
message, every status poll request, every change of the connection pill's text and of a live
panel's stale mark, and the geocoding card's text when it first appears. Tests read it
afterwards, so their own polling cannot blur the timing."""


def trace_page(driver) -> None:
    """Make every page this driver opens from now on keep `window.__pwTrace`."""
    from dashboard import ids

    source = PAGE_TRACE % {"poll_output": f"{ids.POLL_RESULT}.data", "pill": ids.CONN_PILL,
                           "live_panel": ids.SOURCES,
                           "card_value": ids.card("geocoding", "value")}
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})


def page_trace(driver) -> dict:
    """The page's trace now, plus `now` on the same clock."""
    return driver.execute_script("return Object.assign({now: performance.now()}, window.__pwTrace)")


def write_aggregate(database_url: str, geocoding: tuple[int, int], validation: tuple[int, int],
                    config: dict) -> None:
    """Commit a newest `aggregate` metric row, as the collector (another process) would."""
    from api.storage.db import Database
    from api.storage.models import DataQualityMetric
    from api.status.thresholds import quality_status
    from api.timeutil import utcnow

    db = Database(database_url)
    try:
        now = utcnow()
        g_ok, g_all = geocoding
        v_ok, v_all = validation
        with db.session() as session:
            session.add(DataQualityMetric(
                timestamp=now, window_seconds=86400, metric_type="aggregate", source=None,
                geocoding_attempts=g_all, geocoding_successes=g_ok, validation_attempts=v_all,
                validation_passes=v_ok, created_at=now,
                status=quality_status(g_ok / g_all, v_ok / v_all, config)))
    finally:
        db.dispose()


def write_hourly(database_url: str, hour_end, attempts: int, successes: int) -> None:
    """Commit the all-sources `hourly` row of the hour ending at `hour_end`."""
    from api.storage.db import Database
    from api.storage.models import DataQualityMetric
    from api.timeutil import utcnow

    db = Database(database_url)
    try:
        with db.session() as session:
            session.add(DataQualityMetric(
                timestamp=hour_end, window_seconds=3600, metric_type="hourly", source=None,
                geocoding_attempts=attempts, geocoding_successes=successes,
                validation_attempts=attempts, validation_passes=successes,
                created_at=utcnow(), status="healthy"))
    finally:
        db.dispose()
