"""gunicorn's gevent worker, answering what gunicorn refuses by itself in the API's error shape.

gunicorn reads the request line and headers before the app sees anything, and refuses a line
over `limit_request_line` (414) or a header over `limit_request_field_size` (431) itself, in
HTML. This worker writes those two refusals as `{"error": {...}}` JSON instead, like every other
error under /api/. Other malformed HTTP (a broken request line, a bad header name, a bad
chunk) is left to gunicorn: no client of the API sends it.

The limits (api/serving.py, read by gunicorn from its config module) are the largest gunicorn
allows while still bounded: 8190 bytes. `limit_request_line = 0` would mean unbounded: gunicorn
would buffer any line a client sends, rescanning it on every read. README "Failure modes" says
which requests do not fit.
"""
from __future__ import annotations

import json

from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.util import write_nonblock
from gunicorn.workers.ggevent import GeventWorker

from api.errors import error_document
from api.serving import HEADER_FIELD_LIMIT, REQUEST_LINE_LIMIT

_REFUSALS = (
    (LimitRequestLine, 414, "URI Too Long",
     f"request line longer than {REQUEST_LINE_LIMIT} bytes; ask for fewer sources per request",
     REQUEST_LINE_LIMIT),
    (LimitRequestHeaders, 431, "Request Header Fields Too Large",
     f"a request header is longer than {HEADER_FIELD_LIMIT} bytes, or there are too many",
     HEADER_FIELD_LIMIT),
)


def refusal(status: int, reason: str, message: str, limit: int) -> bytes:
    """A complete HTTP response carrying the error shape; the connection is closed after it."""
    body = json.dumps(error_document(status, message, {"limit_bytes": limit}),
                      separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class JsonErrorGeventWorker(GeventWorker):
    """`worker_class` in api/serving.py: the gevent worker, with JSON 414 and 431."""

    def handle_error(self, req, client, addr, exc) -> None:
        for kind, status, reason, message, limit in _REFUSALS:
            if isinstance(exc, kind):
                self.log.warning("refused request from ip=%s: %s %s", (addr or ("",))[0],
                                 status, reason)
                try:
                    write_nonblock(client, refusal(status, reason, message, limit))
                except OSError:
                    self.log.debug("could not send the %s refusal", status)
                return
        super().handle_error(req, client, addr, exc)
