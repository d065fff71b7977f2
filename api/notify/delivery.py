"""One HTTP POST to a receiver, and what its outcome means for the notification.

Outcomes: `delivered` (2xx); `retry` (5xx, 408, 429, a timeout, a refused or broken
connection: the receiver may take it later); `failed` (any other 4xx: sending the same request
again cannot help). The error text is built here from the kind of failure and the status code
only, never from the exception's message or the response, which may echo the URL and its token.
"""
from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Mapping, Optional

RETRIED_STATUSES = frozenset({408, 425, 429})
"""4xx statuses that say "later", not "never"."""


@dataclass(frozen=True)
class Outcome:
    result: str  # delivered | retry | failed
    status: Optional[int] = None
    error: Optional[str] = None


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Outcome:
    """POST `body` to `url`; never raises for anything the network or receiver does."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "pipewatch", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(65536)
            return Outcome("delivered", response.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
        exc.close()
        if code >= 500 or code in RETRIED_STATUSES:
            return Outcome("retry", code, f"HTTP {code}")
        return Outcome("failed", code, f"HTTP {code} (not retried: the receiver refused it)")
    except urllib.error.URLError as exc:
        return Outcome("retry", None, _reason(exc.reason))
    except (TimeoutError, socket.timeout):
        return Outcome("retry", None, "timed out")
    except (ConnectionError, OSError, ValueError) as exc:
        return Outcome("retry", None, _reason(exc))


def _reason(reason: object) -> str:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ConnectionResetError):
        return "connection reset"
    if isinstance(reason, socket.gaierror):
        return "host name not resolved"
    if isinstance(reason, ssl.SSLError):
        return "TLS error"
    if isinstance(reason, BaseException):
        return f"connection failed ({type(reason).__name__})"
    return "connection failed"
