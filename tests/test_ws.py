"""The WebSocket endpoint under its production server (`python app.py serve`: gunicorn, gevent),
with real clients: first message, pushes from ingest and from outside writers, limits, origin,
ping, size cap, abrupt disconnects and a stalled reader. The read token is checked on the
in-process server (it is refused before any upgrade, so the server kind does not matter)."""
from __future__ import annotations

import json
import socket
import struct

import pytest
import requests
import websocket
from wsproto.frame_protocol import FrameProtocol

from api.live.websocket import text_frame

from tests.live_fixtures import (WS_PATH, ProductionServer, close_frame, connect,
                                 insert_scrape_run, recv_status, recv_until, shows_source,
                                 wait_for,
                                 without_timestamp)

ALLOWED = "https://dashboards.example.org"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('ws') / 'ws.db'}"
    started = ProductionServer(url, WS_ALLOWED_ORIGINS=ALLOWED, WS_HEARTBEAT_SECONDS=5,
                               WS_COALESCE_SECONDS=0.01)
    started.database_url = url
    yield started
    started.stop()


@pytest.fixture
def clients(server):
    """Open sockets of one test, each closed after it (so the next test finds free slots)."""
    opened = []

    def open_one(query: str = "", **options):
        ws = connect(server.ws_url + query, **options)
        opened.append(ws)
        return ws

    yield open_one
    for ws in opened:
        try:
            ws.close(timeout=1)
        except Exception:  # noqa: BLE001 - already closed by the server or the test
            pass
    wait_for(lambda: server.metrics()["pipewatch_ws_open"] == 0)


def newer_than(seq):
    return lambda message: message["seq"] > seq


def test_first_message_is_the_status_document(server, clients):
    fetched = server.status()
    pushed = recv_status(clients())
    assert without_timestamp(pushed) == without_timestamp(fetched)
    assert pushed["timestamp"].endswith("Z")


def test_an_ingested_row_reaches_every_client(server, clients):
    sockets = [clients() for _ in range(20)]
    seq = max(recv_status(ws)["seq"] for ws in sockets)
    source = server.ingest_scrape_run()
    expected = without_timestamp(server.status())
    assert expected["seq"] > seq
    for ws in sockets:
        assert without_timestamp(recv_until(ws, shows_source(source))) == expected


def test_a_row_written_by_another_program_reaches_every_client(server, clients):
    sockets = [clients() for _ in range(20)]
    seq = max(recv_status(ws)["seq"] for ws in sockets)
    source = insert_scrape_run(server.database_url)
    pushed = [recv_until(ws, shows_source(source)) for ws in sockets]
    assert {message["seq"] for message in pushed} == {seq + 1}
    assert without_timestamp(pushed[0]) == without_timestamp(server.status())


def test_ping_gets_pong_other_text_is_ignored_and_big_frames_close_1009(server, clients):
    ws = clients()
    recv_status(ws)
    ws.send("hello")
    ws.send("ping")
    assert recv_until_text(ws, "pong")
    # Over WS_MAX_MESSAGE_BYTES (1024) but within one read of the server, so the close frame
    # is not overtaken by a reset for unread bytes.
    ws.send("x" * 2000)
    code, _ = close_frame(ws)
    assert code == 1009


def test_protocol_pings_amid_pushes_get_pongs_and_every_frame_is_whole(server, clients):
    """Two writers share a socket (the handler's pushes, simple-websocket's pongs): their frames
    must never interleave, and the pushed frames (built once, for every socket) must parse."""
    ws = clients()
    seq = recv_status(ws)["seq"]
    for round_ in range(30):
        ws.ping(f"p{round_}")
        server.ingest_scrape_run()
    ws.settimeout(15)
    last = server.status()["seq"]
    pongs, newest = set(), seq
    while len(pongs) < 30 or newest < last:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG:
            pongs.add(frame.data.decode())
        else:
            assert opcode == websocket.ABNF.OPCODE_TEXT
            newest = max(newest, json.loads(frame.data)["seq"])
    assert pongs == {f"p{round_}" for round_ in range(30)}
    assert newest > seq


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_status_frame_is_the_frame_wsproto_would_send(size):
    payload = "é" * (size // 2) + "x" * (size % 2)  # multi-byte text: the length is in bytes
    assert text_frame(payload.encode()) == FrameProtocol(client=False, extensions=[]).send_data(
        payload, fin=True)


def recv_until_text(ws, text: str) -> bool:
    """Skip status documents (a heartbeat may come first) until `text` arrives."""
    ws.settimeout(15)
    while True:
        message = ws.recv()
        if message == text:
            return True
        assert message.startswith("{"), f"unexpected reply {message!r}"


@pytest.mark.parametrize("origin, allowed", [
    (None, True),
    ("own", True),
    (ALLOWED, True),
    ("https://evil.example.com", False),
    ("null", False),
])
def test_origin(server, clients, origin, allowed):
    if origin == "own":
        origin = server.url
    if allowed:
        options = {"suppress_origin": True} if origin is None else {"origin": origin}
        assert recv_status(clients(**options))["seq"] >= 1
        return
    response = requests.get(server.url + WS_PATH, headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": origin}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert server.metrics()['pipewatch_ws_refused_total{reason="origin"}'] >= 1


def test_the_101st_socket_is_closed_1013_and_a_freed_slot_is_reusable(server, clients):
    sockets = [clients() for _ in range(100)]
    for ws in sockets:
        recv_status(ws)
    extra = clients()
    code, reason = close_frame(extra)
    assert code == 1013
    assert "poll" in reason
    assert server.metrics()['pipewatch_ws_refused_total{reason="limit"}'] >= 1
    sockets[0].close()
    wait_for(lambda: server.metrics()["pipewatch_ws_open"] == 99)
    assert recv_status(clients())["seq"] >= 1


def abrupt_disconnect(ws) -> None:
    """Drop the TCP connection with a reset, no close frame (a crashed browser, a lost network)."""
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.sock.close()


def test_hundreds_of_abrupt_disconnects_leak_no_slot(server, clients):
    for _ in range(3):
        batch = [connect(server.ws_url) for _ in range(100)]
        for ws in batch:
            recv_status(ws)
        for ws in batch:
            abrupt_disconnect(ws)
        wait_for(lambda: server.metrics()["pipewatch_ws_open"] == 0)
    full = [clients() for _ in range(100)]
    assert all(recv_status(ws)["seq"] >= 1 for ws in full), "all 100 slots are free again"


def stalled_client(server) -> socket.socket:
    """A client that completes the handshake and then never reads again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    raw.connect(("127.0.0.1", server.port))
    raw.sendall((f"GET {WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    return raw


def test_a_stalled_client_delays_nobody_and_is_not_queued_for(server, clients):
    stalled = stalled_client(server)
    try:
        wait_for(lambda: server.metrics()["pipewatch_ws_open"] == 1)
        # A big document (hundreds of sources) fills the stalled socket's buffers sooner.
        server.ingest_scrape_run("stalled-test-" + "x" * 80, count=300)
        readers = [clients() for _ in range(5)]
        for ws in readers:
            recv_status(ws)
        overwrites = server.metrics()["pipewatch_ws_mailbox_overwrites_total"]
        changes = 0
        # Change until the stalled socket's buffers are full and its mailbox starts dropping
        # messages, then 20 more: every change must still reach every reader.
        while changes < 20 or server.metrics()["pipewatch_ws_mailbox_overwrites_total"] == \
                overwrites:
            assert changes < 400, "the stalled client's messages were never dropped"
            server.ingest_scrape_run()
            expected = server.status()["seq"]
            for ws in readers:
                recv_until(ws, newer_than(expected - 1))
            changes += 1
        for _ in range(20):
            server.ingest_scrape_run()
            expected = server.status()["seq"]
            for ws in readers:
                recv_until(ws, newer_than(expected - 1))
    finally:
        stalled.close()


def test_reconnect_attempts_are_counted(server, clients):
    before = server.metrics().get("pipewatch_ws_reconnects_total", 0)
    recv_status(clients("?attempt=3"))
    recv_status(clients("?attempt=0"))
    recv_status(clients("?attempt=junk"))
    assert server.metrics()["pipewatch_ws_reconnects_total"] == before + 1


def test_metrics_are_prometheus_text(server):
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    for name in ("pipewatch_ws_open", "pipewatch_ws_opened_total", "pipewatch_polls_total",
                 "pipewatch_ws_messages_sent_total", "pipewatch_broadcast_seconds_bucket",
                 "pipewatch_changefeed_connected"):
        assert name in response.text


def test_read_token_guards_socket_and_metrics(sqlite_url):
    from app import create_app
    from tests.conftest import BASE_OVERRIDES, ServerThread

    app = create_app({**BASE_OVERRIDES, "DATABASE_URL": sqlite_url,
                      "PIPEWATCH_READ_TOKEN": "read-secret"})
    live = ServerThread(app.server).start()
    try:
        ws_url = live.url.replace("http", "ws") + WS_PATH
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(ws_url)
        assert refused.value.status_code == 401
        assert b"read-secret" not in (refused.value.resp_body or b"")
        with pytest.raises(websocket.WebSocketBadStatusException):
            connect(ws_url, header=["Authorization: Bearer wrong"])
        ws = connect(ws_url, header=["Authorization: Bearer read-secret"])
        assert recv_status(ws)["seq"] >= 1
        ws.close()
        assert requests.get(live.url + "/metrics", timeout=10).status_code == 401
        assert requests.get(live.url + "/metrics", timeout=10, headers={
            "Authorization": "Bearer read-secret"}).status_code == 200
    finally:
        live.stop()
        app.server.extensions["pipewatch"].close()
