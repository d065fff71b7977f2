"""Read access: who may read when PIPEWATCH_READ_TOKEN is set, and a sign-in page for people.

Scripts send the token as `Authorization: Bearer <token>`. A browser cannot put that header
on its page loads, Dash's own requests or a WebSocket handshake, so a person types the token
once at `GET/POST /login` and gets a cookie. The cookie holds an HMAC of the token, never the
token: it cannot be turned back into the token, and changing the token invalidates every
cookie at once. HttpOnly keeps it from scripts, SameSite=Strict from other sites' requests.

`read_denial()` is the one rule ("may this request read?"); api.reads.require_read_token
raises the API's 401 from it for the REST reads, the export, /metrics and the WebSocket
handshake, and the guard here applies it to everything else the server answers: the Dash
page (redirected to /login) and its internal endpoints (JSON 401). Left open: /healthz and
/readyz (orchestrators), the sign-in page and the stylesheet it uses, the OpenAPI document
(it describes the API, no data), and ingest writes (PIPEWATCH_INGEST_TOKEN, api/ingest.py).
With no read token configured, nothing here refuses anything.
"""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, redirect, request, url_for
from markupsafe import escape

from api.errors import error_response
from api.runtime import get_runtime
from api.validation import Unauthorized, check_bearer

COOKIE = "pipewatch_read"
LOGIN_PATH = "/login"
_COOKIE_PURPOSE = b"pipewatch read cookie v1"
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/api/v1/openapi.json"})
# Blueprints that apply read or write rules of their own: the login page itself, the vendored
# stylesheets (public files), ingest (its own token), the WebSocket (read_denial after its
# Origin check, counting refusals in /metrics).
_OWN_RULES = frozenset({"pipewatch_auth", "pipewatch_vendor", "pipewatch_ingest", "pipewatch_ws"})
# Paths that are machine endpoints, never pages a person opens: answered with JSON 401.
_MACHINE_PREFIXES = ("/api/", "/_", "/assets/", "/static/", "/metrics")
_MAX_NEXT = 2048

bp = Blueprint("pipewatch_auth", __name__)


# region: the rule


def cookie_value(token: str) -> str:
    """What the sign-in cookie holds for `token`: an HMAC keyed by it (hex), not the token."""
    return hmac.new(token.encode("utf-8"), _COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def _cookie_matches(cookie: str | None, token: str) -> bool:
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
    if _cookie_matches(request.cookies.get(COOKIE), token):
        return None
    if request.cookies.get(COOKIE) and header is None:
        problem = ("the sign-in cookie is no longer valid (was the token changed?): "
                   f"sign in again at {LOGIN_PATH}")
    return problem


# endregion
# region: the guard


def _is_page_request() -> bool:
    """A person's page load (redirect to sign in) rather than a machine endpoint (JSON 401)."""
    return (request.method in ("GET", "HEAD")
            and not request.path.startswith(_MACHINE_PREFIXES))


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


def _current_target() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _guard():
    if not read_token():
        return None
    if request.path in _OPEN_PATHS or request.blueprint in _OWN_RULES:
        return None
    problem = read_denial()
    if problem is None:
        return None
    if _is_page_request():
        return redirect(f"{LOGIN_PATH}?{urlencode({'next': safe_next(_current_target())})}",
                        code=302)
    # An open page whose cookie stopped matching (the token changed) reads `sign_in` from its
    # requests' 401 and goes there (assets/pipewatch.js), instead of failing quietly.
    return error_response(401, problem, {"sign_in": url_for("pipewatch_auth.login")})


# endregion
# region: the sign-in page

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · pipewatch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body class="bg-light">
<main class="container py-5"><div class="row justify-content-center mt-5">
<div class="col-sm-9 col-md-6 col-lg-4"><div class="card shadow-sm"><div class="card-body p-4">
<h1 class="h4 mb-3">pipewatch</h1>
<p class="text-muted small">This server needs its read token
(<code>PIPEWATCH_READ_TOKEN</code>) to show the dashboard.</p>
{message}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<div class="mb-3"><label class="form-label" for="token">Read token</label>
<input class="form-control{invalid}" type="password" id="token" name="token"
 autocomplete="current-password" required autofocus></div>
<button class="btn btn-primary w-100" type="submit" id="sign-in">Sign in</button>
</form>
</div></div></div></div>
</main>
</body></html>
"""
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src data:; "
                                       "form-action 'self'; frame-ancestors 'none'"}


def _stylesheet_url() -> str:
    return url_for("pipewatch_vendor.static", filename="css/bootstrap.min.css")


def _form(target: str, error: str | None = None, status: int = 200) -> Response:
    message = (f'<div class="alert alert-danger py-2" role="alert" id="sign-in-error">'
               f'{escape(error)}</div>' if error else "")
    body = _PAGE.format(css=escape(_stylesheet_url()), action=escape(LOGIN_PATH),
                        next=escape(target), message=message,
                        invalid=" is-invalid" if error else "")
    return Response(body, status=status, headers=_HEADERS, content_type="text/html; charset=utf-8")


def _cross_site_post() -> bool:
    """A form POST from another site: refused, no cookie. Browsers send Origin on form POSTs;
    the rule is the WebSocket's (this host, or WS_ALLOWED_ORIGINS behind a proxy)."""
    from api.live.websocket import origin_allowed  # not at the top: api.live.websocket imports this module's rule

    return not origin_allowed(request.headers.get("Origin"), request.host,
                              get_runtime().config["WS_ALLOWED_ORIGINS"])


def _over_https() -> bool:
    """Https here or at a proxy in front; a spoofed header only makes the cookie stricter."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


@bp.route(LOGIN_PATH, methods=["GET", "POST"])
def login():
    """The sign-in form; a right token sets the cookie and goes back to `next`."""
    target = safe_next(request.values.get("next"))
    token = read_token()
    if not token or read_denial() is None:
        return redirect(target, code=303)
    if request.method == "GET":
        return _form(target)
    if _cross_site_post():
        return _form(target, "Sign in from this server's own page.", status=403)
    given = request.form.get("token", "")
    try:
        check_bearer(f"Bearer {given}", token, required=False)
    except Unauthorized:
        return _form(target, "Wrong token. Try again.", status=401)
    response = redirect(target, code=303)
    response.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="Strict",
                        secure=_over_https(), path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
def logout():
    """Forget the sign-in cookie and show the form again."""
    if _cross_site_post():
        return error_response(403, "sign out from this server's own page", code="forbidden")
    response = redirect(LOGIN_PATH, code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=_over_https())
    return response


# endregion


def init_app(server: Flask) -> None:
    """Register /login and /logout, and guard every request before its view runs."""
    server.register_blueprint(bp)
    server.before_request(_guard)
