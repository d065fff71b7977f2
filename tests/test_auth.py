"""PIPEWATCH_READ_TOKEN everywhere: REST, /metrics, the Dash page and its endpoints, the
WebSocket handshake, and the /login page that gives a browser its cookie.

The rule touches the database only to ask whether a cookie signed out (one primary-key
lookup), so these tests run on SQLite only (`db_url` below overrides the shared fixture that
would run each of them on PostgreSQL too); tests/test_sign_in.py covers sign-out on both.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import websocket

from api.auth import COOKIE, new_sign_in_cookie, safe_next, verified_sign_in
from dashboard import ids
from tests.conftest import ServerThread
from tests.live_fixtures import WS_PATH, connect, recv_status

TOKEN = "read-Secret-7f3a9c"
INGEST = "ingest-secret-21"
READS = ("/api/v1/monitoring/pipeline-status", "/api/v1/sources", "/api/v1/alerts",
         "/api/v1/anomalies", "/api/v1/metrics/series?metric=volume", "/api/v1/metrics",
         "/api/v1/metrics?format=csv", "/metrics")
DASH_GETS = ("/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico",
             "/assets/pipewatch.js")
OPEN = ("/healthz", "/readyz", "/api/v1/openapi.json",
        "/_pipewatch/vendor/css/bootstrap.min.css")


@pytest.fixture
def db_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def secured(make_app):
    return make_app(PIPEWATCH_READ_TOKEN=TOKEN, PIPEWATCH_INGEST_TOKEN=INGEST)


@pytest.fixture
def anon(secured):
    return secured.server.test_client()


@pytest.fixture
def signed_in(secured):
    """A test client that signed in through the form, as a browser does."""
    client = secured.server.test_client()
    response = client.post("/login", data={"token": TOKEN, "next": "/"})
    assert response.status_code == 303
    return client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_token(response) -> None:
    """The token appears nowhere in what the server sent back."""
    assert TOKEN.encode() not in response.get_data()
    for name, value in response.headers.items():
        assert TOKEN not in value, name


def assert_json_401(response) -> None:
    assert response.status_code == 401, response.get_data()[:200]
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert_no_token(response)


def poll_request() -> dict:
    """The page's poll callback as the browser posts it: it answers with the status."""
    return {"output": f"{ids.POLL_RESULT}.data",
            "outputs": {"id": ids.POLL_RESULT, "property": "data"},
            "inputs": [{"id": ids.POLL, "property": "n_intervals", "value": 1},
                       {"id": ids.POLL_KICK, "property": "data", "value": 0},
                       {"id": ids.REFRESH, "property": "n_clicks", "value": None}],
            "changedPropIds": [f"{ids.POLL}.n_intervals"],
            "state": [{"id": ids.CONN, "property": "data", "value": {"state": "polling-fallback"}}]}


def test_without_a_read_token_everything_stays_open(client):
    for path in READS + DASH_GETS[:2] + OPEN + ("/", "/?metric=volume"):
        assert client.get(path).status_code == 200, path
    login = client.get("/login?next=/%3Fmetric%3Dvolume")
    assert login.status_code == 303 and login.headers["Location"] == "/?metric=volume"


def test_reads_are_401_without_credentials_and_200_with_bearer_or_cookie(anon, signed_in):
    for path in READS:
        assert_json_401(anon.get(path))
        assert_json_401(anon.get(path, headers=bearer("wrong")))
        assert anon.get(path, headers=bearer()).status_code == 200, path
        assert signed_in.get(path).status_code == 200, path


def test_open_paths_need_nothing(anon):
    for path in OPEN:
        assert anon.get(path).status_code == 200, path
    assert anon.get("/login").status_code == 200


def test_ingest_keeps_its_own_token(anon):
    body = {"timestamp": "2026-11-25T20:00:00Z", "window_seconds": 3600,
            "metric_type": "hourly", "source": "auth-test", "geocoding_attempts": 2,
            "geocoding_successes": 1, "validation_attempts": 1, "validation_passes": 1}
    assert anon.post("/api/v1/metrics", json=body, headers=bearer(TOKEN)).status_code == 401
    assert anon.post("/api/v1/metrics", json=body,
                     headers={"Authorization": f"Bearer {INGEST}"}).status_code == 201


def test_page_redirects_to_login_keeping_path_and_query(anon):
    response = anon.get("/?metric=validation&sources=a%2Cb&days=7")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/login")
    assert parse_qs(location.query)["next"] == ["/?metric=validation&sources=a%2Cb&days=7"]
    assert anon.get("/some/page").headers["Location"] == "/login?next=%2Fsome%2Fpage"


def test_dash_endpoints_are_json_401_without_credentials(anon, signed_in):
    for path in DASH_GETS:
        assert_json_401(anon.get(path))
    refused = anon.post("/_dash-update-component", json=poll_request())
    assert_json_401(refused)
    # Where an open page whose cookie no longer matches sends its person (assets/pipewatch.js).
    assert refused.get_json()["error"]["details"] == {"sign_in": "/login"}
    polled = signed_in.post("/_dash-update-component", json=poll_request())
    assert polled.status_code == 200
    assert "overall_status" in polled.get_json()["response"][ids.POLL_RESULT]["data"]["doc"]
    assert_json_401(anon.get("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js"))
    layout = signed_in.get("/_dash-layout")
    assert layout.status_code == 200 and layout.get_json()
    assert signed_in.get("/").status_code == 200
    assert signed_in.get("/_dash-dependencies").status_code == 200


def test_wrong_token_at_login_is_401_and_sets_no_cookie(anon):
    for given in ("wrong", TOKEN[:-1], TOKEN + "x", "", " " * 3, "é" * 20):
        response = anon.post("/login", data={"token": given, "next": "/?metric=volume"})
        assert response.status_code == 401
        assert "Set-Cookie" not in response.headers
        assert b"Wrong token" in response.get_data()
        assert b'value="/?metric=volume"' in response.get_data()
        assert_no_token(response)
    assert_json_401(anon.get("/api/v1/monitoring/pipeline-status"))


def test_right_token_sets_a_strict_httponly_cookie_and_returns_to_next(anon):
    page = anon.get("/login?next=%2F%3Fmetric%3Dvolume")
    assert page.status_code == 200 and b'name="token"' in page.get_data()
    assert b"/_pipewatch/vendor/css/bootstrap.min.css" in page.get_data()
    assert_no_token(page)
    response = anon.post("/login", data={"token": TOKEN, "next": "/?metric=volume"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/?metric=volume"
    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path"} <= attributes and "secure" not in attributes
    assert "SameSite=Strict" in cookie
    assert cookie.startswith(f"{COOKIE}=") and "Max-Age=43200" in cookie
    verified_sign_in(cookie.split(";")[0].split("=", 1)[1], TOKEN, 43200)  # raises if not
    assert_no_token(response)
    assert anon.get("/?metric=volume").status_code == 200
    again = anon.get("/login?next=/x")  # already signed in: straight on
    assert again.status_code == 303 and again.headers["Location"] == "/x"


def test_cookie_is_secure_over_https(anon, secured):
    response = anon.post("/login", data={"token": TOKEN}, base_url="https://localhost")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "; Secure" in response.headers["Set-Cookie"]
    proxied = secured.server.test_client().post("/login", data={"token": TOKEN},
                                                headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in proxied.headers["Set-Cookie"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
                                    "http:/evil.example", "/ok\r\nSet-Cookie: x=1", "", None,
                                    "evil.example", "/" + "a" * 5000])
def test_foreign_or_odd_next_goes_to_the_root(anon, target):
    data = {"token": TOKEN} if target is None else {"token": TOKEN, "next": target}
    response = anon.post("/login", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert safe_next(target) == "/"


def test_same_site_next_is_kept():
    for target in ("/", "/?metric=volume&days=30", "/some/page?a=1#frag"):
        assert safe_next(target) == target


def test_cross_site_form_posts_are_refused(anon):
    response = anon.post("/login", data={"token": TOKEN},
                         headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "Set-Cookie" not in response.headers
    for origin in ("null", "http://localhost.evil.example", "http://localhost:8080"):
        refused = anon.post("/login", data={"token": TOKEN}, headers={"Origin": origin})
        assert refused.status_code == 403, origin
    assert anon.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    same = anon.post("/login", data={"token": TOKEN}, headers={"Origin": "http://localhost"})
    assert same.status_code == 303


def test_signed_in_page_offers_sign_out_and_open_page_does_not(signed_in, client):
    """The header's Sign out button posts to /logout, only when reads need a token."""
    def forms(node):
        if isinstance(node, dict):
            if node.get("type") == "Form":
                yield node["props"]
            for value in node.values():
                yield from forms(value)
        elif isinstance(node, list):
            for value in node:
                yield from forms(value)

    [form] = forms(signed_in.get("/_dash-layout").get_json())
    assert (form["action"], form["method"]) == ("/logout", "POST")
    assert form["children"]["props"]["id"] == ids.SIGN_OUT
    assert list(forms(client.get("/_dash-layout").get_json())) == []


def test_logout_clears_the_cookie(signed_in):
    assert signed_in.get("/api/v1/sources").status_code == 200
    response = signed_in.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert response.headers["Set-Cookie"].startswith(f"{COOKIE}=;")
    assert_json_401(signed_in.get("/api/v1/sources"))
    assert signed_in.get("/").status_code == 302


def test_a_cookie_of_the_old_token_is_refused_after_the_token_changes(make_app):
    old = new_sign_in_cookie(TOKEN)
    rotated = make_app(PIPEWATCH_READ_TOKEN="the-new-read-token").server.test_client()
    rotated.set_cookie(COOKIE, old)
    refused = rotated.get("/api/v1/monitoring/pipeline-status")
    assert_json_401(refused)
    assert "sign in again" in refused.get_json()["error"]["message"]
    assert rotated.get("/").status_code == 302
    rotated.set_cookie(COOKIE, TOKEN)  # the raw token is not a cookie either
    assert_json_401(rotated.get("/api/v1/sources"))


def test_socket_refused_without_and_accepted_with_the_cookie(make_app, caplog):
    """A real server and real clients: sign in over HTTP, then open the socket with the cookie
    the browser would send; a cookie of another token is refused. Nothing logs the token."""
    caplog.set_level(logging.DEBUG)
    app = make_app(PIPEWATCH_READ_TOKEN=TOKEN)
    live = ServerThread(app.server).start()
    try:
        ws_url = live.url.replace("http", "ws", 1) + WS_PATH
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(ws_url)
        assert refused.value.status_code == 401
        assert TOKEN.encode() not in (refused.value.resp_body or b"")
        with pytest.raises(websocket.WebSocketBadStatusException) as stale:
            connect(ws_url, cookie=f"{COOKIE}={new_sign_in_cookie('an-older-token')}")
        assert stale.value.status_code == 401

        session = requests.Session()
        wrong = session.post(live.url + "/login", data={"token": "typo-" + TOKEN}, timeout=10)
        assert wrong.status_code == 401 and not session.cookies
        signed = session.post(live.url + "/login", data={"token": TOKEN, "next": "/"},
                              allow_redirects=False, timeout=10)
        assert signed.status_code == 303 and TOKEN not in signed.text
        assert session.get(live.url + "/", timeout=10).status_code == 200
        ws = connect(ws_url, cookie=f"{COOKIE}={session.cookies[COOKIE]}",
                     origin=live.url)
        try:
            assert recv_status(ws)["seq"] >= 1
        finally:
            ws.close()
        assert requests.get(live.url + "/metrics", headers=bearer(), timeout=10).ok
    finally:
        live.stop()
    assert "POST /login" in caplog.text  # the server's request log was captured
    assert TOKEN not in caplog.text
