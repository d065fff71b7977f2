"""The webhooks' signature: `Pipewatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`, the scheme receivers know from Stripe and GitHub. The time is signed with
the body, so a receiver can refuse an old request replayed (README "Notifications")."""
from __future__ import annotations

import hashlib
import hmac

HEADER = "Pipewatch-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body,
                   hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (the README's snippet, as a function the tests use too)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp = parts.get("t", "")
    if not (stamp.isascii() and stamp.isdigit()):
        return False  # no time, or not one: nothing was signed with it
    expected = signature(secret, body, int(stamp)).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
