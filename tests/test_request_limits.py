"""What the server refuses before the app sees it: request lines up to gunicorn's largest bounded
limit reach the app; longer ones, and oversized headers, get the API's JSON error shape (414,
431) instead of gunicorn's HTML. Over real HTTP against the production server."""
from __future__ import annotations

import json
import socket
from urllib.parse import urlencode

import pytest
import requests

from api.serving import HEADER_FIELD_LIMIT, REQUEST_LINE_LIMIT
from tests.live_fixtures import ProductionServer

PATH = "/api/v1/metrics"
RANGE = [("start", "2026-11-01T00:00:00Z"), ("end", "2026-11-30T00:00:00Z"),
         ("metric_type", "hourly"), ("limit", "1000")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'pipewatch.db'}"
    app = ProductionServer(url)
    yield app
    app.stop()


def request_line(query: str) -> str:
    return f"GET {PATH}?{query} HTTP/1.1"


def sources_query(count: int, length: int) -> str:
    sources = [("source", f"{i:03d}".ljust(length, "x")) for i in range(count)]
    return urlencode(RANGE + sources)


def raw_get(server: ProductionServer, target: str, headers: str = "") -> tuple[int, dict, bytes]:
    """Send exactly this request (requests would not let a test build an oversized head)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
                           "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {name.lower(): value.strip() for name, _, value in
              (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), parsed, body


def test_a_request_line_up_to_the_limit_reaches_the_api(server):
    # 100 sources (the API's most) of 70 characters, with a range: over gunicorn's default
    # 4094 bytes, under the limit.
    query = sources_query(100, 70)
    assert 4094 < len(request_line(query)) <= REQUEST_LINE_LIMIT
    response = requests.get(f"{server.url}{PATH}?{query}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_a_longer_request_line_gets_414_in_the_error_shape(server):
    query = sources_query(100, 100)
    assert len(request_line(query)) > REQUEST_LINE_LIMIT
    status, headers, body = raw_get(server, f"{PATH}?{query}")
    assert status == 414
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long"
    assert error["details"] == {"limit_bytes": REQUEST_LINE_LIMIT}
    assert "sources" in error["message"]


def test_an_oversized_header_gets_431_in_the_error_shape(server):
    status, headers, body = raw_get(server, "/api/v1/sources",
                                    f"Authorization: Bearer {'t' * (HEADER_FIELD_LIMIT + 1)}\r\n")
    assert status == 431
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "request_header_fields_too_large"
    # The server keeps serving after refusing.
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
