"""The demo's built-in webhook receiver: what `python app.py demo` points WEBHOOK_URLS at when
no receiver is configured, so the Notifications panel shows real deliveries with no outside
service (README "Notifications").

It does what a receiver should, and no more: it checks the `Pipewatch-Signature` over the raw
body with WEBHOOK_SECRET (and refuses an old `t`) before reading the body, answers at once,
and keeps the last CAPACITY notifications in memory for `GET /api/v1/demo/webhooks`. Memory is
per process, which is enough for the demo's one server process; it stores nothing and writes
nothing, so the outbox and its delivery log stay the only record.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from typing import Any, Optional

from api.notify.signing import verify

CAPACITY = 50
TOLERANCE_SECONDS = 300
"""A signature older (or further ahead) than this is refused: a replayed request."""


class SignatureRefused(ValueError):
    """The webhook's signature is missing, malformed, wrong or too old: why, in a few words."""


def check_signature(secret: str, body: bytes, header: Optional[str],
                    now: Optional[float] = None) -> None:
    """Raise SignatureRefused unless `header` signs `body` with `secret`, recently."""
    if not header:
        raise SignatureRefused("no Pipewatch-Signature header")
    try:
        timestamp = int(dict(part.split("=", 1) for part in header.split(",")
                             if "=" in part)["t"])
        signed = verify(secret, body, header)
    except (KeyError, ValueError):
        raise SignatureRefused("malformed Pipewatch-Signature header") from None
    if not signed:
        raise SignatureRefused("the signature does not match WEBHOOK_SECRET")
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureRefused(f"the signature is more than {TOLERANCE_SECONDS} s old")


class Inbox:
    """The last `capacity` notifications accepted, newest first; safe from any thread."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def keep(self, notification: dict[str, Any], received_at: datetime) -> None:
        with self._lock:
            self._items.appendleft({"received_at": received_at, "notification": notification})

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)
