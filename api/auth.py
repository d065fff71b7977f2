"""Who may do what: the read token, the write token, and which origins may open the socket.

Every rule about credentials lives here, so a reader checks access in one file:
- `check_bearer`: an `Authorization: Bearer` header against a configured token, in constant time.
- `read_denial` / `require_read_token`: may this request read? With PIPEWATCH_READ_TOKEN set, it
  needs that bearer token (programs) or the sign-in cookie (browsers, api/http/login.py).
- `require_write_token`: writes need PIPEWATCH_INGEST_TOKEN; with none configured they are shut.
- `origin_allowed`: a browser's Origin on the WebSocket handshake and the sign-in forms.
- `guard`: runs before every request (see its docstring for what it refuses and what it leaves).
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, redirect, request

from api.errors import ApiError, error_response
from api.runtime import get_runtime

COOKIE = "pipewatch_read"
LOGIN_PATH = "/login"
_COOKIE_PURPOSE = b"pipewatch read cookie v1"
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_MAX_NEXT = 2048
# Paths that are machine endpoints, never pages a person opens: refused with JSON 401.
_MACHINE_PREFIXES = ("/api/", "/_", "/assets/", "/static/", "/metrics")

# What a route needs (api/http/routes.py declares it for each of its routes):
OPEN = "open"    # anyone: probes, the OpenAPI document, the sign-in page, public stylesheets
READ = "read"    # the read token when one is set (the default for anything not declared)
OWN = "own"      # the view applies its own rule: ingest (write token), the WebSocket handshake
_ACCESS = "pipewatch.access"


# region: credentials


class Unauthorized(ValueError):
    """Missing or wrong credentials (401); `forbidden` when the door is shut for everyone (403)."""

    def __init__(self, message: str, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden


def check_bearer(header: str | None, token: str, *, required: bool) -> None:
    """Compare `Authorization: Bearer ...` with `token` in constant time.

    `required=True` (writes): no configured token means the door is shut (403), never open.
    `required=False` (reads): no configured token means open.
    """
    if not token:
        if required:
            raise Unauthorized("writes are disabled: the server has no PIPEWATCH_INGEST_TOKEN",
                               forbidden=True)
        return
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("missing bearer token: send Authorization: Bearer <token>")
    if not hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"),
                               token.encode("utf-8")):
        raise Unauthorized("wrong bearer token")


def cookie_value(token: str) -> str:
    """What the sign-in cookie holds for `token`: an HMAC keyed by it (hex), not the token."""
    return hmac.new(token.encode("utf-8"), _COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def cookie_matches(cookie: str | None, token: str) -> bool:
    if not cookie:
        return False
    return hmac.compare_digest(cookie.encode("utf-8", "surrogatepass"),
                               cookie_value(token).encode("ascii"))


def read_token() -> str:
    return get_runtime().config["PIPEWATCH_READ_TOKEN"]


def read_denial() -> str | None:
    """None if the current request may read; otherwise why not (a message for the 401).

    Open when no read token is configured; otherwise a matching bearer token or sign-in cookie.
    """
    token = read_token()
    if not token:
        return None
    header = request.headers.get("Authorization")
    if header is not None:
        try:
            check_bearer(header, token, required=False)
            return None
        except Unauthorized as exc:
            problem = str(exc)
    else:
        problem = ("missing credentials: send Authorization: Bearer <token>, "
                   f"or sign in at {LOGIN_PATH} in a browser")
    if cookie_matches(request.cookies.get(COOKIE), token):
        return None
    if request.cookies.get(COOKIE) and header is None:
        problem = ("the sign-in cookie is no longer valid (was the token changed?): "
                   f"sign in again at {LOGIN_PATH}")
    return problem


def require_read_token() -> None:
    """ApiError 401 unless this request may read (`read_denial`). For views marked OWN that
    read (the WebSocket handshake); every READ route is already covered by `guard`."""
    problem = read_denial()
    if problem is not None:
        raise ApiError(401, problem)


def require_write_token() -> None:
    """ApiError 403 when writes are disabled, 401 when the bearer token is missing or wrong."""
    try:
        check_bearer(request.headers.get("Authorization"),
                     get_runtime().config["PIPEWATCH_INGEST_TOKEN"], required=True)
    except Unauthorized as exc:
        if exc.forbidden:
            raise ApiError(403, str(exc), code="writes_disabled") from None
        raise ApiError(401, str(exc)) from None


# endregion
# region: origins


def _origin_key(origin: str) -> Optional[tuple[str, str, int]]:
    """(scheme, host, port) of an Origin, with the scheme's default port filled in."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or port is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def origin_allowed(origin: Optional[str], host: str, allowed: tuple[str, ...]) -> bool:
    """No Origin, this app's own host (the Host header), or one of `allowed`."""
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False  # includes "null" (sandboxed frames, file: pages)
    if key in {_origin_key(entry) for entry in allowed}:
        return True
    own = _origin_key(f"{key[0]}://{host}")
    return own is not None and own[1:] == key[1:]


def same_site_request() -> bool:
    """The request's Origin (if any) is this server or WS_ALLOWED_ORIGINS: the socket's rule,
    used for the sign-in and sign-out forms too."""
    return origin_allowed(request.headers.get("Origin"), request.host,
                          get_runtime().config["WS_ALLOWED_ORIGINS"])


# endregion
# region: the guard


def set_access(server: Flask, endpoint: str, access: str) -> None:
    """Declare what `endpoint` needs (OPEN, READ or OWN); undeclared endpoints need READ."""
    if access not in (OPEN, READ, OWN):
        raise ValueError(f"unknown access {access!r}")
    server.extensions.setdefault(_ACCESS, {})[endpoint] = access


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site (with its query string), else "/".

    Refuses absolute URLs, scheme-relative `//host` and `/\\host` (browsers read both as
    another host), control characters and anything too long: no open redirect.
    """
    if (not target or len(target) > _MAX_NEXT or not target.startswith("/")
            or target.startswith(("//", "/\\")) or "\\" in target
            or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _is_page_request() -> bool:
    """A person's page load (redirect to sign in) rather than a machine endpoint (JSON 401)."""
    return (request.method in ("GET", "HEAD")
            and not request.path.startswith(_MACHINE_PREFIXES))


def _current_target() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def guard():
    """The read rule for every request the app answers, run before its view.

    With no PIPEWATCH_READ_TOKEN it lets everything through. With one, every endpoint not
    declared OPEN or OWN needs the token: the REST reads, the export, /metrics, the Dash page
    and its own endpoints, whatever a route module forgets. A person's page load without it is
    redirected to the sign-in page (with `next`), a machine endpoint gets the JSON 401 with
    `details.sign_in` (an open page whose cookie stopped matching goes there by itself,
    assets/pipewatch.js). Views therefore never check the read token again; only OWN views
    apply a rule of their own.
    """
    if not read_token():
        return None
    access = current_app.extensions.get(_ACCESS, {}).get(request.endpoint or "", READ)
    if access != READ:
        return None
    problem = read_denial()
    if problem is None:
        return None
    if _is_page_request():
        return redirect(f"{LOGIN_PATH}?{urlencode({'next': safe_next(_current_target())})}",
                        code=302)
    return error_response(401, problem, {"sign_in": request.script_root + LOGIN_PATH})


# endregion
