"""Who may do what: the read token, the write token, the operator token, and which origins may
open the socket.

Every rule about credentials lives here, so a reader checks access in one file:
- `check_bearer`: an `Authorization: Bearer` header against a configured token, in constant time.
- `throttled_check`: the same, with wrong tokens counted per client address (api/throttle.py):
  an address that fails AUTH_FAILURE_LIMIT times in AUTH_FAILURE_WINDOW_SECONDS gets 429.
- `bearer_role`: which role (READER, OPERATOR) a bearer token or a typed token stands for,
  throttled the same way.
- the sign-in cookie: a random session id signed (with the time) by a key derived from the
  token it was signed in with and its role, so the cookie records the role; it expires after
  SESSION_MAX_AGE_SECONDS and `end_sign_in` revokes it.
- `read_denial` / `require_read_token`: may this request read? With PIPEWATCH_READ_TOKEN set, it
  needs that bearer token (programs) or the sign-in cookie (browsers, api/http/login.py); the
  operator's token and cookie read too.
- `require_write_token`: writes need PIPEWATCH_INGEST_TOKEN; with none configured they are shut.
- `require_operator`: acting on alerts (acks, silences, rules) needs
  PIPEWATCH_OPERATOR_TOKEN (bearer, or a browser signed in with it); with none configured only
  a request from this machine may act (the `make run` demo).
- `origin_allowed`: a browser's Origin on the WebSocket handshake and the sign-in forms.
- `guard`: runs before every request (see its docstring for what it refuses and what it leaves).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, redirect, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy.exc import IntegrityError

from api.errors import ApiError, error_response
from api.runtime import get_runtime
from api.storage.sessions import revoke_session, session_revoked
from api.throttle import FailureThrottle
from api.timeutil import UTC, utcnow

COOKIE = "pipewatch_read"
LOGIN_PATH = "/login"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_MAX_NEXT = 2048
# Paths that are machine endpoints, never pages a person opens: refused with JSON 401.
_MACHINE_PREFIXES = ("/api/", "/_", "/assets/", "/static/", "/metrics")

# What a route needs (api/http/routes.py declares it for each of its routes):
OPEN = "open"    # anyone: probes, the OpenAPI document, the sign-in page, public stylesheets
READ = "read"    # the read token when one is set (the default for anything not declared)
OWN = "own"      # the view applies its own rule: ingest (write token), the WebSocket handshake
OPERATE = "operate"  # acting on alerts: the operator credential (`require_operator`)
_ACCESSES = (OPEN, READ, OWN, OPERATE)
# Who a credential makes its bearer: a reader reads, an operator reads and acts.
READER = "reader"
OPERATOR = "operator"
_COOKIE_PURPOSES = {READER: b"pipewatch read cookie v2", OPERATOR: b"pipewatch operator cookie v1"}
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_ACCESS = "pipewatch.access"
_THROTTLE = "pipewatch.auth_throttle"


# region: credentials


class Unauthorized(ValueError):
    """Missing or wrong credentials (401); `forbidden` when the door is shut for everyone (403);
    `guess` when a token was given and is wrong (what the throttle counts)."""

    def __init__(self, message: str, forbidden: bool = False, guess: bool = False):
        super().__init__(message)
        self.forbidden = forbidden
        self.guess = guess


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
        raise Unauthorized("wrong bearer token", guess=True)


# endregion
# region: guessing, throttled per client address


class Throttled(ApiError):
    """429: this client address sent too many wrong tokens lately; Retry-After says when to
    try again. Raised before the token is even compared, so guessing cannot go on meanwhile."""

    def __init__(self, retry_after: int):
        super().__init__(429, f"too many wrong tokens from this address: try again in "
                              f"{retry_after} s", code="too_many_attempts",
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def _throttle() -> FailureThrottle:
    """This app's failure table (one per app and process), made on first use."""
    throttle = current_app.extensions.get(_THROTTLE)
    if throttle is None:
        config = get_runtime().config
        throttle = current_app.extensions.setdefault(_THROTTLE, FailureThrottle(
            config["AUTH_FAILURE_LIMIT"], config["AUTH_FAILURE_WINDOW_SECONDS"],
            config["AUTH_THROTTLE_MAX_ADDRESSES"]))
    return throttle


def client_address() -> str:
    """The address failures are counted by: the TCP peer, or with TRUSTED_PROXIES the client
    as the outermost trusted proxy saw it (ProxyFix, app.py)."""
    return request.remote_addr or "unknown"


def _refuse_if_throttled(kind: str) -> None:
    """Throttled while this address is over its limit, before any token is compared."""
    wait = _throttle().retry_after(client_address())
    if wait is not None:
        get_runtime().telemetry.auth_throttled.labels(kind).inc()
        raise Throttled(wait)


def _count_guess(kind: str) -> None:
    _throttle().record_failure(client_address())
    get_runtime().telemetry.auth_failures.labels(kind).inc()


def throttled_check(header: str | None, token: str, *, required: bool, kind: str) -> None:
    """`check_bearer`, refused with Throttled while this address is over its limit; a wrong
    token counts against the address. `kind` (read, write, sign_in, operator) labels the
    counters."""
    _refuse_if_throttled(kind)
    try:
        check_bearer(header, token, required=required)
    except Unauthorized as exc:
        if exc.guess:
            _count_guess(kind)
        raise


def role_tokens() -> dict[str, str]:
    """The configured tokens by the role they grant (OPERATOR, READER); unset ones are absent."""
    config = get_runtime().config
    tokens = {OPERATOR: config["PIPEWATCH_OPERATOR_TOKEN"], READER: config["PIPEWATCH_READ_TOKEN"]}
    return {role: token for role, token in tokens.items() if token}


def bearer_role(header: str | None, *, kind: str) -> str:
    """The role whose token `header` (`Bearer <token>`) carries, compared in constant time with
    every configured token. Unauthorized when it is missing or matches none (a guess, counted
    against the address under `kind` like `throttled_check`); Throttled while over the limit."""
    _refuse_if_throttled(kind)
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("missing bearer token: send Authorization: Bearer <token>")
    presented = given.strip().encode("utf-8", "surrogatepass")
    matches = [role for role, token in role_tokens().items()
               if hmac.compare_digest(presented, token.encode("utf-8"))]
    if not matches:
        _count_guess(kind)
        raise Unauthorized("wrong bearer token", guess=True)
    return matches[0]


# endregion
# region: the sign-in cookie


class CookieRefused(ValueError):
    """A sign-in cookie that does not let its browser in; the message says why. `expired`:
    it was valid once (its signature holds) and is too old now."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class SignIn:
    """What a verified cookie stands for: its session (by hash), when it expires, and the role
    it was signed in as (READER or OPERATOR)."""

    session_hash: str
    expires_at: datetime
    role: str = READER


def cookie_signer(token: str, role: str = READER) -> TimestampSigner:
    """The signer of sign-in cookies of `role`: keyed by an HMAC of the token signed in with and
    the role (never the token), so the signature records the role (a reader's cookie never
    verifies as an operator's, even if both tokens were the same) and changing a token
    invalidates its cookies at once; it adds the signing time."""
    key = hmac.new(token.encode("utf-8"), _COOKIE_PURPOSES[role], hashlib.sha256).digest()
    return TimestampSigner(key, salt="pipewatch sign-in", digest_method=hashlib.sha256)


def new_sign_in_cookie(token: str, role: str = READER) -> str:
    """A new session: a random id, signed with the time. Nothing in it reveals the token."""
    return cookie_signer(token, role).sign(secrets.token_urlsafe(18)).decode("ascii")


def verified_sign_in(cookie: str, token: str, max_age: int, role: str = READER) -> SignIn:
    """The session of a cookie that is signed for `token` as `role` and younger than `max_age`
    seconds; CookieRefused otherwise. Whether it signed out is the database's to say."""
    try:
        session_id, signed_at = cookie_signer(token, role).unsign(cookie, max_age=max_age,
                                                                  return_timestamp=True)
    except SignatureExpired:
        raise CookieRefused(f"the sign-in has expired (after {max_age} s): "
                            f"sign in again at {LOGIN_PATH}", expired=True) from None
    except BadSignature:
        raise CookieRefused("the sign-in cookie is no longer valid (was the token changed?): "
                            f"sign in again at {LOGIN_PATH}") from None
    return SignIn(hashlib.sha256(session_id).hexdigest(),
                  signed_at.astimezone(UTC) + timedelta(seconds=max_age), role)


def _verified_any_role(cookie: str) -> SignIn:
    """The sign-in of a cookie signed for any configured role's token; CookieRefused (saying it
    expired if it once was valid) when none verifies."""
    max_age = get_runtime().config["SESSION_MAX_AGE_SECONDS"]
    refusals = []
    for role, token in role_tokens().items():
        try:
            return verified_sign_in(cookie, token, max_age, role)
        except CookieRefused as exc:
            refusals.append(exc)
    if not refusals:
        raise CookieRefused("this server has no tokens: there is nothing to sign in to")
    raise next((exc for exc in refusals if exc.expired), refusals[0])


def cookie_sign_in(cookie: str) -> SignIn:
    """The live sign-in of a cookie: signed, unexpired and not signed out; CookieRefused
    otherwise (the message says why, for the 401)."""
    sign_in = _verified_any_role(cookie)
    with get_runtime().db.session() as session:
        if session_revoked(session, sign_in.session_hash):
            raise CookieRefused(f"this browser signed out: sign in again at {LOGIN_PATH}")
    return sign_in


def signed_in_role() -> str | None:
    """The role this request's browser is signed in as, or None (no cookie, or not live)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not role_tokens():
        return None
    try:
        return cookie_sign_in(cookie).role
    except CookieRefused:
        return None


def end_sign_in(cookie: str | None) -> None:
    """Sign-out: the cookie's session is refused from now on, by every process, until it would
    have expired anyway. A cookie that is not valid any more needs nothing."""
    if not cookie or not role_tokens():
        return
    runtime = get_runtime()
    try:
        sign_in = _verified_any_role(cookie)
    except CookieRefused:
        return
    try:
        with runtime.db.session() as session:
            revoke_session(session, sign_in.session_hash, sign_in.expires_at, utcnow())
    except IntegrityError:
        pass  # the same cookie signed out at the same moment elsewhere: revoked either way


# endregion
# region: reading


def read_token() -> str:
    return get_runtime().config["PIPEWATCH_READ_TOKEN"]


def read_denial() -> str | None:
    """None if the current request may read; otherwise why not (a message for the 401).

    Open when no read token is configured; otherwise a bearer token of a reader or an operator
    (Throttled while this address has guessed too often) or a signed, unexpired, not signed-out
    cookie of either.
    """
    token = read_token()
    if not token:
        return None
    header = request.headers.get("Authorization")
    if header is not None:
        try:
            bearer_role(header, kind="read")
            return None
        except Unauthorized as exc:
            problem = str(exc)
    else:
        problem = ("missing credentials: send Authorization: Bearer <token>, "
                   f"or sign in at {LOGIN_PATH} in a browser")
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return problem
    try:
        cookie_sign_in(cookie)
        return None
    except CookieRefused as exc:
        return problem if header is not None else str(exc)


def require_read_token() -> None:
    """ApiError 401 unless this request may read (`read_denial`). For views marked OWN that
    read (the WebSocket handshake); every READ route is already covered by `guard`."""
    problem = read_denial()
    if problem is not None:
        raise ApiError(401, problem)


def require_write_token() -> None:
    """ApiError 403 when writes are disabled, 401 when the bearer token is missing or wrong,
    429 (Throttled) while this address has sent too many wrong tokens."""
    try:
        throttled_check(request.headers.get("Authorization"),
                        get_runtime().config["PIPEWATCH_INGEST_TOKEN"], required=True,
                        kind="write")
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


def origin_allowed(origin: Optional[str], host: str, allowed: tuple[str, ...],
                   schemes: tuple[str, ...] = ("http",)) -> bool:
    """No Origin, this app's own origin, or one of `allowed`.

    The app's own origin is each of `schemes` (how this request reached the app) with the Host
    header: scheme, host and port must all match, so `https://host:port` is foreign to an app
    served over http on that port (an origin is all three, RFC 6454).
    """
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False  # includes "null" (sandboxed frames, file: pages)
    if key in {_origin_key(entry) for entry in allowed}:
        return True
    return key in {_origin_key(f"{scheme}://{host}") for scheme in schemes}


def request_schemes() -> tuple[str, ...]:
    """The schemes this request came in by: its own, and X-Forwarded-Proto's from a TLS proxy.

    Trusting the header is safe here: it only widens which Origin counts as this app's, and a
    browser cannot add it to a cross-site request; a script that can send it can send any Origin.
    """
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return tuple({request.scheme, *((forwarded,) if forwarded in ("http", "https") else ())})


def same_site_request() -> bool:
    """The request's Origin (if any) is this server or WS_ALLOWED_ORIGINS: the socket's rule,
    used for the sign-in and sign-out forms too."""
    return origin_allowed(request.headers.get("Origin"), request.host,
                          get_runtime().config["WS_ALLOWED_ORIGINS"], request_schemes())


# endregion
# region: acting (the operator)


def operator_token() -> str:
    return get_runtime().config["PIPEWATCH_OPERATOR_TOKEN"]


def _loopback_address(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return (mapped or ip).is_loopback


def is_local_request() -> bool:
    """Sent from this machine to this machine with nothing in between: the peer is a loopback
    address; the Host names loopback too (a site whose name an attacker points at 127.0.0.1,
    DNS rebinding, sends its own name); and no proxy forwarded it (a proxy on this host
    relaying other people's requests adds X-Forwarded-For or Forwarded, unless TRUSTED_PROXIES
    already resolved the real client into the peer address)."""
    if not _loopback_address(request.remote_addr):
        return False
    host = (urlsplit(f"//{request.host}").hostname or "").rstrip(".").lower()
    if host not in _LOOPBACK_HOSTS and not _loopback_address(host):
        return False
    proxied = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    return not proxied or get_runtime().config["TRUSTED_PROXIES"] > 0


def _require_same_site() -> None:
    """A browser's credentials (its cookie, or just being on this machine) ride along on any
    site's form posts: writes must come from this server's own pages (CSRF)."""
    if request.method not in _SAFE_METHODS and not same_site_request():
        raise ApiError(403, "act from this server's own page: this request's Origin is "
                            "another site", code="forbidden")


def _operator_unauthorized(message: str) -> ApiError:
    return ApiError(401, message, {"sign_in": request.script_root + LOGIN_PATH})


def require_operator() -> None:
    """ApiError unless this request may act on alerts (acks, silences, rules).

    With PIPEWATCH_OPERATOR_TOKEN set: its bearer token (counted as a guess when wrong, kind
    "operator", and Throttled like every token), or a browser signed in at /login with it
    whose request comes from this server's own page. 401 when missing or wrong; 403 for the
    read token or a reader's cookie (known, but not allowed to act). With none set, only a
    request from this machine may act (the `make run` demo; it still needs the read token if
    one is set, and a same-site Origin); any other gets 403 naming the setting.
    """
    token = operator_token()
    if not token:
        if not is_local_request():
            raise ApiError(403, "acting on alerts is turned off: this server has no "
                                "PIPEWATCH_OPERATOR_TOKEN, and without one only a request from "
                                "the server's own machine may act. Set PIPEWATCH_OPERATOR_TOKEN "
                                "and send it as a bearer token or sign in with it at "
                                f"{LOGIN_PATH}", code="operator_token_unset")
        problem = read_denial()
        if problem is not None:
            raise _operator_unauthorized(problem)
        _require_same_site()
        return
    header = request.headers.get("Authorization")
    if header is not None:
        try:
            role = bearer_role(header, kind="operator")
        except Unauthorized as exc:
            raise _operator_unauthorized(str(exc)) from None
        if role != OPERATOR:
            raise ApiError(403, "this token may read but not act: send "
                                "PIPEWATCH_OPERATOR_TOKEN", code="forbidden")
        return
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise _operator_unauthorized(
            "missing operator credentials: send Authorization: Bearer <operator token>, or "
            f"sign in at {LOGIN_PATH} with PIPEWATCH_OPERATOR_TOKEN in a browser")
    try:
        sign_in = cookie_sign_in(cookie)
    except CookieRefused as exc:
        raise _operator_unauthorized(str(exc)) from None
    if sign_in.role != OPERATOR:
        raise ApiError(403, "this browser signed in to read, not to act: sign in again at "
                            f"{LOGIN_PATH} with PIPEWATCH_OPERATOR_TOKEN", code="forbidden")
    _require_same_site()


# endregion
# region: the guard


def set_access(server: Flask, endpoint: str, access: str) -> None:
    """Declare what `endpoint` needs (OPEN, READ, OWN or OPERATE); undeclared endpoints need
    READ."""
    if access not in _ACCESSES:
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
    """The read and operator rules for every request the app answers, run before its view.

    An OPERATE endpoint runs `require_operator` whatever the read token (an operator may read),
    so its view never checks who may act.

    With no PIPEWATCH_READ_TOKEN it lets everything through. With one, every endpoint not
    declared OPEN or OWN needs the token: the REST reads, the export, /metrics, the Dash page
    and its own endpoints, whatever a route module forgets. A person's page load without it is
    redirected to the sign-in page (with `next`), a machine endpoint gets the JSON 401 with
    `details.sign_in` (an open page whose cookie stopped matching goes there by itself,
    assets/pipewatch.js). Views therefore never check the read token again; only OWN views
    apply a rule of their own.
    """
    access = current_app.extensions.get(_ACCESS, {}).get(request.endpoint or "", READ)
    if access == OPERATE:
        require_operator()
        return None
    if access != READ or not read_token():
        return None
    problem = read_denial()
    if problem is None:
        return None
    if _is_page_request():
        return redirect(f"{LOGIN_PATH}?{urlencode({'next': safe_next(_current_target())})}",
                        code=302)
    return error_response(401, problem, {"sign_in": request.script_root + LOGIN_PATH})


# endregion
