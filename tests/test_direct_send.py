"""The hub's direct write to a socket (api/live/hub.py `Mailbox.offer`, api/live/websocket.py
`_WholeFrames.try_send`), on a real non-blocking socket pair: whole frames go out without
waking the handler, a frame the kernel takes only in part is finished by the handler before
anything else, and nothing overtakes a message the handler is still sending."""
from __future__ import annotations

import socket
import threading

import pytest

from api.live.hub import Mailbox
from api.live.websocket import _WholeFrames, text_frame


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    server.settimeout(10)  # non-blocking at the OS level, as under gevent; sendall waits
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    yield _WholeFrames(server), client
    server.close()
    client.close()


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    sock.settimeout(5)
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "closed early"
        data += chunk
    return data


def direct(frames: _WholeFrames):
    return lambda text: frames.try_send(text_frame(text.encode()))


def test_a_frame_the_socket_takes_is_sent_without_waking_the_handler(pair):
    frames, client = pair
    mailbox = Mailbox(threading.Event(), direct(frames))
    assert mailbox.offer("hello") == "sent"
    assert not mailbox.wake.is_set()
    assert mailbox.take() is None
    assert read_exactly(client, 7) == text_frame(b"hello")


def test_a_partly_written_frame_is_finished_before_the_next_one(pair):
    frames, client = pair
    mailbox = Mailbox(threading.Event(), direct(frames))
    big = "x" * 2_000_000  # far beyond the socket buffers: the kernel takes only part
    assert mailbox.offer(big) == "sent"
    assert mailbox.wake.is_set(), "the handler is woken to finish the frame"
    assert frames.try_send(b"other") is None, "nothing is written around the unfinished frame"
    expected = text_frame(big.encode()) + text_frame(b"next")
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_exactly(client, len(expected))))
    reader.start()
    frames.send(text_frame(b"next"))  # the handler's path: the rest of the frame goes first
    reader.join(10)
    assert received == [expected]


def test_nothing_overtakes_a_message_the_handler_is_sending(pair):
    frames, client = pair
    mailbox = Mailbox(threading.Event(), direct(frames))
    mailbox.put("first")
    assert mailbox.take() == "first"  # the handler holds it, not yet sent
    assert mailbox.offer("second") == "queued", "no direct write while the handler sends"
    frames.send(text_frame(b"first"))
    mailbox.done()
    assert mailbox.take() == "second"
    frames.send(text_frame(b"second"))
    mailbox.done()
    assert mailbox.offer("third") == "sent"
    expected = text_frame(b"first") + text_frame(b"second") + text_frame(b"third")
    assert read_exactly(client, len(expected)) == expected


def test_a_broken_socket_falls_back_to_the_handler(pair):
    frames, client = pair
    client.close()
    mailbox = Mailbox(threading.Event(), direct(frames))
    assert mailbox.offer("x" * 100) == "queued"
    assert mailbox.wake.is_set()
