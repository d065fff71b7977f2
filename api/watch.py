"""`python app.py watch [URL]`: print each status document the WebSocket pushes, as it comes.

What an operator would do with `websocat`, with what `make run` already installed
(simple-websocket, the client half of the library the server uses). Each document is printed
as one JSON line (pipe it to `jq`), or with `--brief` as one line a person can read. When the
socket drops (server restart, network) it says so on stderr and reconnects with backoff; the
read token (`--token`, else $PIPEWATCH_READ_TOKEN) travels in the Authorization header, never
in the URL and never in what is printed.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TextIO
from urllib.parse import urlsplit, urlunsplit

import simple_websocket

from api.http.routes import WEBSOCKET_PATH

DEFAULT_URL = f"ws://127.0.0.1:8050{WEBSOCKET_PATH}"
REFUSALS = {401: "the read token is missing or wrong: --token or $PIPEWATCH_READ_TOKEN",
            403: "refused: another site's Origin, or the token cannot read",
            404: "no WebSocket at this path"}
"""Handshake answers that retrying cannot change: the viewer says why and exits 2."""
RECONNECT_SECONDS = (0.5, 1, 2, 5, 10)
"""Waits before each reconnection attempt in a row; the last repeats."""
RECEIVE_TIMEOUT_SECONDS = 90
"""No frame at all for this long (the server sends the document again at least every
WS_HEARTBEAT_SECONDS, 5 s by default): the connection is taken as dead and opened again."""


def socket_url(url: str) -> str:
    """The WebSocket URL for what a person types: a ws(s):// URL as is; an http(s):// one (or a
    bare host:port) is the server, and the status socket's path is added when none is given."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a server or WebSocket URL: {url!r} (try "
                         f"http://127.0.0.1:8050 or {DEFAULT_URL})")
    path = parts.path if parts.path not in ("", "/") else WEBSOCKET_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def brief(document: Mapping[str, Any]) -> str:
    """One line: seq, time, overall and section statuses, alerts by state, anomalies."""
    alerts = document.get("alerts", [])
    firing = sum(alert.get("state") == "firing" for alert in alerts)
    pending = sum(alert.get("state") == "pending" for alert in alerts)
    acked = sum(alert.get("ack") is not None for alert in alerts)
    silenced = sum(alert.get("silenced") is not None for alert in alerts)
    extra = ", ".join(part for part in (f"{acked} acked" if acked else "",
                                        f"{silenced} silenced" if silenced else "") if part)
    worst = next((alert for alert in alerts if alert.get("state") == "firing"), None)
    return (f"seq {document.get('seq')}  {document.get('timestamp')}  "
            f"overall {document.get('overall_status')}  "
            f"scraping {document.get('scraping_health', {}).get('status')}  "
            f"quality {document.get('data_quality', {}).get('status')}  "
            f"alerts {firing} firing, {pending} pending" + (f" ({extra})" if extra else "")
            + f"  anomalies {len(document.get('anomalies', []))}"
            + (f"  | {worst['severity']}: {worst['title']}" if worst else ""))


@dataclass
class Watch:
    """One viewer: where, how to print, when to stop. `connect` is the WebSocket client
    factory (simple_websocket.Client.connect), given so a test can count connections."""

    url: str
    token: Optional[str] = None
    brief: bool = False
    count: Optional[int] = None
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    connect: Callable[..., Any] = simple_websocket.Client.connect
    sleep: Callable[[float], None] = time.sleep

    def run(self) -> int:
        """Print documents until `count` were printed (0); 2 when the server refuses the
        handshake for good (a token, an origin, a path: see REFUSALS). Anything else (refused
        connections, drops, a restart) is retried with backoff until the user interrupts."""
        printed, failures = 0, 0
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        while self.count is None or printed < self.count:
            try:
                client = self.connect(self.url, headers=headers)
            except (OSError, simple_websocket.ConnectionError) as exc:
                what = f"cannot connect to {self.url} ({_reason(exc)})"
                if getattr(exc, "status_code", None) in REFUSALS:
                    print(f"error: {what}", file=self.err, flush=True)
                    return 2  # asking again would be refused again
                failures = self._retry(what, failures)
                continue
            if failures:
                print(f"connected to {self.url}", file=self.err, flush=True)
            failures = 0
            try:
                while self.count is None or printed < self.count:
                    frame = client.receive(timeout=RECEIVE_TIMEOUT_SECONDS)
                    if frame is None:
                        raise TimeoutError(f"no frame for {RECEIVE_TIMEOUT_SECONDS} s")
                    self._print(frame)
                    printed += 1
            except (simple_websocket.ConnectionClosed, OSError, TimeoutError) as exc:
                failures = self._retry(f"connection lost ({_reason(exc)})", failures)
            finally:
                _close(client)
        return 0

    def _print(self, frame: str | bytes) -> None:
        text = frame.decode() if isinstance(frame, bytes) else frame
        if self.brief:
            text = brief(json.loads(text))
        print(text, file=self.out, flush=True)

    def _retry(self, what: str, failures: int) -> int:
        wait = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
        print(f"{what}; reconnecting in {wait:g} s", file=self.err, flush=True)
        self.sleep(wait)
        return failures + 1


def _close(client) -> None:
    """Say goodbye when the socket is still open; a closed one has nothing to close."""
    try:
        client.close()
    except (simple_websocket.ConnectionClosed, OSError):
        pass


def _reason(exc: BaseException) -> str:
    """Why, in words, without echoing anything the server or the URL held beyond the host."""
    if isinstance(exc, simple_websocket.ConnectionClosed):
        code = getattr(exc.reason, "value", exc.reason)
        return f"closed by the server: {code} {exc.message or ''}".strip()
    if isinstance(exc, simple_websocket.ConnectionError):
        status = getattr(exc, "status_code", None)
        hint = REFUSALS.get(status)
        return f"HTTP {status}" + (f", {hint}" if hint else "") if status else "handshake failed"
    return type(exc).__name__ + (f": {exc.strerror}" if getattr(exc, "strerror", None) else "")
