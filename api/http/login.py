"""`/login` and `/logout`: the sign-in page for people, when PIPEWATCH_READ_TOKEN or
PIPEWATCH_OPERATOR_TOKEN is set.

Scripts send the token as `Authorization: Bearer <token>`. A browser cannot put that header
on its page loads, Dash's own requests or a WebSocket handshake, so a person types the token
once here and gets a cookie. The read token makes the browser a reader, the operator token an
operator (who also reads). The cookie holds a random session id and the time, signed with a key
derived from that token and the role (api/auth.py `new_sign_in_cookie`), never the token, so
the role cannot be changed in the browser: changing a token invalidates its cookies at once,
each expires after SESSION_MAX_AGE_SECONDS, and sign-out revokes it in the database for every
process. HttpOnly keeps it from scripts, SameSite=Strict
from other sites' requests. Wrong tokens are counted per client address like wrong bearer
tokens (api/auth.py `bearer_role`): too many, and the form answers 429 for a while. The
rule that reads the cookie is api/auth.py's.
"""
from __future__ import annotations

from flask import Response, redirect, request, url_for
from markupsafe import escape

from api.auth import (COOKIE, LOGIN_PATH, OPERATOR, Throttled, Unauthorized, bearer_role,
                      end_sign_in, new_sign_in_cookie, read_denial, role_tokens, safe_next,
                      same_site_request, signed_in_role)
from api.errors import error_response
from api.runtime import get_runtime


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
<p class="text-muted small">Sign in with the read token (<code>PIPEWATCH_READ_TOKEN</code>)
to see the dashboard, or with the operator token (<code>PIPEWATCH_OPERATOR_TOKEN</code>) to
also acknowledge and silence alerts.</p>
{message}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<div class="mb-3"><label class="form-label" for="token">Token</label>
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


def _form(target: str, error: str | None = None, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    message = (f'<div class="alert alert-danger py-2" role="alert" id="sign-in-error">'
               f'{escape(error)}</div>' if error else "")
    body = _PAGE.format(css=escape(_stylesheet_url()), action=escape(LOGIN_PATH),
                        next=escape(target), message=message,
                        invalid=" is-invalid" if error else "")
    return Response(body, status=status, headers={**_HEADERS, **(headers or {})},
                    content_type="text/html; charset=utf-8")


def _over_https() -> bool:
    """Https here or at a proxy in front; a spoofed header only makes the cookie stricter."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _nothing_to_sign_in_for() -> bool:
    """No token is set; or this browser already is an operator; or, with no operator token to
    become one, it may read already. (A reader may come here to become an operator.)"""
    tokens = role_tokens()
    if OPERATOR in tokens:
        return signed_in_role() == OPERATOR
    return not tokens or read_denial() is None


def login():
    """The sign-in form; a right token (read or operator) sets the cookie of its role and goes
    back to `next`."""
    target = safe_next(request.values.get("next"))
    if _nothing_to_sign_in_for():
        return redirect(target, code=303)
    if request.method == "GET":
        return _form(target)
    if not same_site_request():
        return _form(target, "Sign in from this server's own page.", status=403)
    given = request.form.get("token", "")
    try:
        role = bearer_role(f"Bearer {given}", kind="sign_in")
    except Throttled as exc:  # a person's form: the page again, saying how long to wait
        return _form(target, f"Too many wrong tokens from this address. Try again in "
                             f"{exc.retry_after} s.", status=429,
                     headers={"Retry-After": str(exc.retry_after)})
    except Unauthorized:
        return _form(target, "Wrong token. Try again.", status=401)
    max_age = get_runtime().config["SESSION_MAX_AGE_SECONDS"]
    response = redirect(target, code=303)
    cookie = new_sign_in_cookie(role_tokens()[role], role)
    response.set_cookie(COOKIE, cookie, max_age=max_age, httponly=True,
                        samesite="Strict", secure=_over_https(), path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def logout():
    """End this browser's sign-in (revoked server-side, so a copy of the cookie is refused
    too), forget the cookie and show the form again."""
    if not same_site_request():
        return error_response(403, "sign out from this server's own page", code="forbidden")
    end_sign_in(request.cookies.get(COOKIE))
    response = redirect(LOGIN_PATH, code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=_over_https())
    return response
