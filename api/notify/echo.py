"""`python app.py receive-webhooks`: a webhook receiver to watch notifications with no outside
service (the demo, a first setup). It prints one line per POST: event, severity, key, title,
the link, and whether the `Pipewatch-Signature` verifies with this process's WEBHOOK_SECRET.

It is what a receiver does, kept small on purpose: answer 2xx fast, verify the signature over
the raw body, de-duplicate by `id` (a retry re-sends the same one).
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from api.notify.signing import HEADER, verify


def describe(body: bytes, header: Optional[str], secret: str, seen: set[str]) -> str:
    """The line printed for one POST."""
    if not secret:
        check = "unsigned (WEBHOOK_SECRET unset here)"
    elif header is None:
        check = "NO SIGNATURE"
    else:
        try:
            check = "signature ok" if verify(secret, body, header) else "SIGNATURE INVALID"
        except ValueError:
            check = "SIGNATURE MALFORMED"
    try:
        document = json.loads(body)
        alert = document["alert"]
    except (ValueError, KeyError, TypeError):
        return f"not a pipewatch notification ({len(body)} bytes; {check})"
    repeat = " (repeat: same id)" if document.get("id") in seen else ""
    seen.add(document.get("id"))
    return (f"{document.get('event')}{repeat} {alert.get('severity')} {alert.get('key')}: "
            f"{alert.get('title')} | {document.get('url')} | {check}")


def serve(host: str, port: int, secret: str, out: Callable[[str], None] = print) -> None:
    """Receive until interrupted."""
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000))
            self.send_response(204)
            self.end_headers()
            out(describe(body, self.headers.get(HEADER), secret, seen))

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    out(f"receiving webhooks on http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
