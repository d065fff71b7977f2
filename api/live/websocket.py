"""The WebSocket endpoint, `/api/v1/ws/monitoring/pipeline-status` (api/http/routes.py).

On connect the socket gets the current status at once, then whatever its hub mailbox receives:
every change, and the status at least every WS_HEARTBEAT_SECONDS. It is the same JSON document
as `GET /api/v1/monitoring/pipeline-status`.

Before the upgrade (plain HTTP answers, in the API's error shape): a handshake whose Origin is
neither this app's host nor in WS_ALLOWED_ORIGINS gets 403 (no Origin at all, as from websocat
or scripts, is allowed: Origin only guards browsers against other sites); with
PIPEWATCH_READ_TOKEN set, a handshake with neither its `Authorization: Bearer` nor the sign-in
cookie of api/auth.py (what a browser sends) gets 401.
After the upgrade: beyond WS_MAX_CONNECTIONS open sockets the handshake is accepted and closed
at once with 1013 and a reason, so a client knows to poll instead of retrying blindly. Inbound
frames are capped at WS_MAX_MESSAGE_BYTES (1009 beyond); a text `ping` gets `pong`; a page's
report (`{"type": "report", "shown": "<timestamp of the status it shows>"}`, see `PageReports`)
is counted in the metrics; anything else is ignored. The handler ends as soon as the peer goes,
cleanly or not, freeing the slot.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Callable, Optional

from flask import Blueprint, Flask, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from api.auth import require_read_token, same_site_request
from api.errors import ApiError
from api.live.hub import Close, Hub, Mailbox
from api.runtime import get_runtime
from api.timeutil import age_seconds

IDLE_WAIT_SECONDS = 30.0  # the handler wakes at least this often even if nothing happens


def get_hub(app: Optional[Flask] = None) -> Hub:
    return (app or current_app).extensions["pipewatch.hub"]


# region: before the upgrade


def guard_handshake():
    """Before the upgrade: refuse a foreign Origin (403) or a missing read token (401)."""
    runtime = get_runtime()
    config = runtime.config
    if not same_site_request():
        runtime.telemetry.ws_refused.labels("origin").inc()
        raise ApiError(403, "WebSocket handshake from an origin that is not allowed",
                       {"fix": "open the page from this server, or add its origin to "
                               "WS_ALLOWED_ORIGINS"}, code="origin_not_allowed")
    try:
        require_read_token()
    except ApiError:
        runtime.telemetry.ws_refused.labels("token").inc()
        raise
    if not config["WS_COMPRESSION"]:
        # simple-websocket accepts permessage-deflate whenever offered; compressing per socket
        # would undo "serialise once" (CPU and ~100 KB of zlib state per socket).
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


# endregion
# region: the open socket


class _WholeFrames:
    """The connection's socket, with `send` writing every byte of one frame at a time.

    simple-websocket writes frames with `sock.send()`, which may write only part of them when
    the peer's buffer is nearly full (always possible under gevent); the rest would be lost and
    the stream corrupted. `sendall` blocks this socket's handler instead, which is harmless: the
    hub never waits for a handler. Two writers share the socket (this handler, and
    simple-websocket's reader answering pings and closes), and a `sendall` that blocks lets the
    other run: the lock keeps their frames from interleaving.

    A third writer, the hub, uses `try_send`: it writes a frame only if the socket takes it
    now, never waiting (api/live/hub.py `Mailbox.offer`). What the kernel did not take stays
    here as `_tail`, and is written before anything else, by `flush` or the next `send`.
    """

    def __init__(self, raw) -> None:
        self._raw = raw
        self._lock = threading.Lock()
        self._tail = b""

    def send(self, data: bytes) -> int:
        with self._lock:
            self._flush()
            self._raw.sendall(data)
        return len(data)

    def flush(self) -> None:
        """Write the rest of a frame `try_send` began (waiting as needed)."""
        if self._tail:
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        tail, self._tail = self._tail, b""
        if tail:
            self._raw.sendall(tail)

    def try_send(self, data: bytes) -> Optional[bool]:
        """Write `data` without waiting: True all of it, False part (the rest is kept for
        `flush`), None nothing (busy writer, full buffer, or a broken socket: the caller sends
        it the usual way and the handler sees the error)."""
        if self._tail or not self._lock.acquire(blocking=False):
            return None
        try:
            written = os.write(self._raw.fileno(), data)
        except OSError:  # BlockingIOError, a peer gone: the handler's path will tell
            return None
        else:
            if written < len(data):
                self._tail = data[written:]
                return False
            return True
        finally:
            self._lock.release()

    def __getattr__(self, name: str):
        return getattr(self._raw, name)


def _direct_writer(ws) -> Optional[Callable[[str], Optional[bool]]]:
    """The hub's non-waiting writer for this socket, when it is safe: a non-blocking plain
    socket (gevent's). A blocking one (the threaded dev server) could stall the hub, and a
    TLS socket (gunicorn's own certfile) must not be written around its encryption."""
    raw = ws.sock._raw
    try:
        if os.get_blocking(raw.fileno()) or hasattr(raw, "do_handshake"):
            return None
    except (OSError, ValueError):
        return None
    frames = ws.sock
    return lambda text: frames.try_send(_frames.of(text))


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455 5.2): what a server sends."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class _Frames:
    """The newest status text's frame, built once for every socket.

    The hub hands the same `str` object to every mailbox, so the first socket to send it frames
    it and the others reuse those bytes (wsproto took ~4 us per socket to encode and frame a
    7.5 KB status, on the broadcast's critical path).
    Only for connections without extensions (WS_COMPRESSION off, the default: the handshake
    never negotiates one); a compressed connection frames through simple-websocket.
    """

    def __init__(self) -> None:
        self._latest: tuple[str, bytes] | None = None

    def of(self, text: str) -> bytes:
        latest = self._latest
        if latest is not None and latest[0] is text:
            return latest[1]
        frame = text_frame(text.encode())
        self._latest = (text, frame)  # one assignment: a racing thread frames it again, no harm
        return frame


_frames = _Frames()


def _count_attempt(telemetry) -> None:
    try:
        attempt = int(request.args.get("attempt", "0"))
    except ValueError:
        return
    if attempt > 0:
        telemetry.ws_reconnects.inc()


def pipeline_status_socket(ws) -> None:
    runtime = get_runtime()
    telemetry = runtime.telemetry
    ws.sock = _WholeFrames(ws.sock)
    _count_attempt(telemetry)
    if runtime.stopping.is_set():
        ws.close(1001, "server shutting down; reconnect shortly")
        return
    limit = runtime.config["WS_MAX_CONNECTIONS"]
    compressed = runtime.config["WS_COMPRESSION"]
    mailbox = get_hub().subscribe(ws.event, limit,
                                  direct=None if compressed else _direct_writer(ws))
    if mailbox is None:
        telemetry.ws_refused.labels("limit").inc()
        ws.close(1013, f"too many connections (limit {limit}); poll "
                       "GET /api/v1/monitoring/pipeline-status")
        return
    telemetry.ws_opened.inc()
    send = ws.send if compressed else (
        lambda text: ws.sock.send(_frames.of(text)))
    try:
        _serve(ws, mailbox, send, telemetry)
    except (ConnectionClosed, OSError):
        pass  # the peer went away: nothing to tell anyone
    finally:
        get_hub().unsubscribe(mailbox)


class PageReports:
    """One socket's page reports: page-seconds in socket mode, and the age of what it shows.

    The dashboard sends a report every few seconds (assets/pipewatch.js `report`); scripts do
    not, so they are not counted as pages. The seconds are measured here, on this socket (from
    its opening or its previous report), never taken from the page; the age is this server's
    clock minus the shown document's `timestamp`, so the browser's clock does not matter.
    At the close, a socket that reported counts its last seconds too.
    """

    __slots__ = ("_telemetry", "_since", "_reported")

    def __init__(self, telemetry) -> None:
        self._telemetry = telemetry
        self._since = time.monotonic()
        self._reported = False

    def receive(self, text: str) -> bool:
        """Count `text` if it is a report; False when it is not one."""
        try:
            report = json.loads(text)
        except ValueError:
            return False
        if not isinstance(report, dict) or report.get("type") != "report":
            return False
        self._reported = True
        self._telemetry.page_report("socket", self._elapsed(), age_seconds(report.get("shown")))
        return True

    def close(self) -> None:
        if self._reported:
            self._telemetry.page_report("socket", self._elapsed(), None)

    def _elapsed(self) -> float:
        now = time.monotonic()
        elapsed, self._since = now - self._since, now
        return elapsed


def _serve(ws, mailbox: Mailbox, send: Callable[[str], object], telemetry) -> None:
    """Send the mailbox's messages (with `send`) and answer pings until the socket closes.

    The mailbox shares the socket's own event (simple-websocket sets it on every inbound frame
    and on disconnect; the hub sets it on every message), so one wait covers all three.
    """
    reports = PageReports(telemetry)
    try:
        _serve_loop(ws, mailbox, send, telemetry, reports)
    finally:
        reports.close()


def _serve_loop(ws, mailbox: Mailbox, send: Callable[[str], object], telemetry,
                reports: PageReports) -> None:
    wake: threading.Event = mailbox.wake
    while True:
        wake.wait(IDLE_WAIT_SECONDS)
        wake.clear()
        while ws.input_buffer:  # frames simple-websocket has read for us
            inbound = ws.receive(timeout=0)
            if not isinstance(inbound, str):
                continue
            if inbound.strip().lower() == "ping":
                ws.send("pong")
            else:
                reports.receive(inbound)
        if not ws.connected:
            return
        ws.sock.flush()  # the rest of a frame the hub began writing
        message, heard = mailbox.take_timed()
        if isinstance(message, Close):
            ws.close(message.code, message.reason)
            return
        if message is not None:
            send(message)
            mailbox.done()
            telemetry.ws_messages.inc()
            if heard is not None:
                telemetry.delivery_seconds.observe(time.monotonic() - heard)


# endregion


def blueprint(path: str) -> Blueprint:
    """The socket at `path` with its handshake guard, on a blueprint of its own.

    A new one per app: Flask-Sock binds a route to one blueprint, and a blueprint that has been
    registered takes no new routes, while tests build many apps in one process."""
    bp = Blueprint("pipewatch_ws", __name__)
    bp.before_request(guard_handshake)
    Sock().route(path, bp=bp)(pipeline_status_socket)
    return bp


def socket_options(config) -> dict:
    """simple-websocket's options from the settings (`SOCK_SERVER_OPTIONS`)."""
    return {"max_message_size": config["WS_MAX_MESSAGE_BYTES"],
            "ping_interval": config["WS_PING_SECONDS"] or None}
