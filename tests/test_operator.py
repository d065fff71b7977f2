"""Who may act on alerts: PIPEWATCH_OPERATOR_TOKEN as a bearer token or a browser signed in with
it, or, with none set, a request from the server's own machine (issue 11, part 6).

No alert action exists yet, so each app here gets a test-only route declared OPERATE, the way
api/http/routes.py will declare the real ones; the guard must refuse before its view runs. The
rule reads the database only to ask whether a cookie signed out, so these run on SQLite.
"""
from __future__ import annotations

import pytest

from api.auth import COOKIE, OPERATE, OPERATOR, READER, new_sign_in_cookie, set_access

READ = "read-token-5521"
OPERATE_TOKEN = "operator-token-9043"
ACT = "/api/v1/test-only/act"
SAME_SITE = {"Origin": "http://localhost"}
FOREIGN = {"Origin": "https://evil.example"}
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def acting_app(make_sqlite_app):
    """An app with the given settings and one OPERATE route whose view counts its calls."""
    def build(**settings):
        app = make_sqlite_app(**settings)
        calls = []

        def act():
            calls.append(1)
            return {"acted": len(calls)}

        app.server.add_url_rule(ACT, endpoint="test_only.act", view_func=act,
                                methods=["GET", "POST"])
        set_access(app.server, "test_only.act", OPERATE)
        app.calls = calls
        return app
    return build


@pytest.fixture
def secured(acting_app):
    return acting_app(PIPEWATCH_READ_TOKEN=READ, PIPEWATCH_OPERATOR_TOKEN=OPERATE_TOKEN,
                      AUTH_FAILURE_LIMIT=5, AUTH_FAILURE_WINDOW_SECONDS=60)


def signed_in(app, token: str):
    client = app.server.test_client()
    response = client.post("/login", data={"token": token, "next": "/"}, headers=SAME_SITE)
    assert response.status_code == 303
    return client


def metric_value(client, line_start: str) -> float:
    text = client.get("/metrics", headers=bearer(READ), environ_base=REMOTE).get_data(True)
    [line] = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def error(response) -> dict:
    return response.get_json()["error"]


# region With an operator token: bearer tokens


def test_the_operator_bearer_token_acts_from_anywhere(secured):
    client = secured.server.test_client()
    response = client.post(ACT, headers=bearer(OPERATE_TOKEN), environ_base=REMOTE)
    assert response.status_code == 200 and response.get_json() == {"acted": 1}
    # An operator may read too.
    assert client.get("/api/v1/sources", headers=bearer(OPERATE_TOKEN),
                      environ_base=REMOTE).status_code == 200


def test_missing_or_wrong_operator_tokens_get_401_and_the_view_never_runs(secured):
    client = secured.server.test_client()
    missing = client.post(ACT, environ_base=REMOTE)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "PIPEWATCH_OPERATOR_TOKEN" in error(missing)["message"]
    assert error(missing)["details"] == {"sign_in": "/login"}
    wrong = client.post(ACT, headers=bearer("guess"), environ_base=REMOTE)
    assert wrong.status_code == 401 and error(wrong)["message"] == "wrong bearer token"
    # This machine is no exception once a token is set.
    assert client.post(ACT, headers=SAME_SITE).status_code == 401
    assert secured.calls == []


def test_the_read_token_is_known_but_may_not_act(secured):
    client = secured.server.test_client()
    refused = client.post(ACT, headers=bearer(READ), environ_base=REMOTE)
    assert refused.status_code == 403 and error(refused)["code"] == "forbidden"
    assert "PIPEWATCH_OPERATOR_TOKEN" in error(refused)["message"]
    assert secured.calls == []


def test_wrong_operator_tokens_are_throttled_per_address(secured):
    client = secured.server.test_client()
    for _ in range(5):
        assert client.post(ACT, headers=bearer("guess"), environ_base=ATTACKER).status_code == 401
    throttled = client.post(ACT, headers=bearer(OPERATE_TOKEN), environ_base=ATTACKER)
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert client.post(ACT, headers=bearer(OPERATE_TOKEN), environ_base=REMOTE).status_code == 200
    assert metric_value(client, 'pipewatch_auth_failures_total{kind="operator"}') == 5
    assert metric_value(client, 'pipewatch_auth_throttled_total{kind="operator"}') == 1
    assert secured.calls == [1]


# endregion
# region With an operator token: browsers


def test_a_browser_signed_in_with_the_operator_token_acts_and_reads(secured):
    client = signed_in(secured, OPERATE_TOKEN)
    assert client.post(ACT, headers=SAME_SITE, environ_base=REMOTE).status_code == 200
    assert client.get(ACT, environ_base=REMOTE).status_code == 200  # a GET has no Origin
    assert client.get("/api/v1/sources").status_code == 200
    # It is an operator already: the sign-in page sends it back.
    assert client.get("/login?next=/").status_code == 303


def test_an_operator_cookie_acts_only_from_this_servers_pages(secured):
    client = signed_in(secured, OPERATE_TOKEN)
    refused = client.post(ACT, headers=FOREIGN, environ_base=REMOTE)
    assert refused.status_code == 403 and "Origin" in error(refused)["message"]
    assert secured.calls == []


def test_a_reader_may_read_not_act_and_may_sign_in_again_as_operator(secured):
    client = signed_in(secured, READ)
    assert client.get("/api/v1/sources").status_code == 200
    refused = client.post(ACT, headers=SAME_SITE)
    assert refused.status_code == 403 and "PIPEWATCH_OPERATOR_TOKEN" in error(refused)["message"]
    assert client.get("/login?next=/").status_code == 200  # the form, to become an operator
    assert client.post("/login", data={"token": OPERATE_TOKEN}, headers=SAME_SITE
                       ).status_code == 303
    assert client.post(ACT, headers=SAME_SITE).status_code == 200


def test_the_role_cannot_be_swapped_and_old_operator_cookies_are_refused(secured, acting_app):
    client = secured.server.test_client()
    # A cookie names its role through its key: the operator token signing a reader's cookie,
    # or the read token an operator's, verifies as nothing.
    for token, role in ((OPERATE_TOKEN, READER), (READ, OPERATOR)):
        client.set_cookie(COOKIE, new_sign_in_cookie(token, role))
        assert client.post(ACT, headers=SAME_SITE).status_code == 401
    client.set_cookie(COOKIE, new_sign_in_cookie(OPERATE_TOKEN, OPERATOR))
    assert client.post(ACT, headers=SAME_SITE).status_code == 200
    rotated = acting_app(PIPEWATCH_OPERATOR_TOKEN="the-new-operator-token").server.test_client()
    rotated.set_cookie(COOKIE, new_sign_in_cookie(OPERATE_TOKEN, OPERATOR))
    stale = rotated.post(ACT, headers=SAME_SITE)
    assert stale.status_code == 401 and "sign in again" in error(stale)["message"]


def test_signing_out_ends_the_operator_cookie(secured):
    client = signed_in(secured, OPERATE_TOKEN)
    cookie = client.get_cookie(COOKIE).value
    assert client.post("/logout", headers=SAME_SITE).status_code == 303
    copy = secured.server.test_client()
    copy.set_cookie(COOKIE, cookie)
    refused = copy.post(ACT, headers=SAME_SITE)
    assert refused.status_code == 401 and "signed out" in error(refused)["message"]


def test_with_open_reads_the_sign_in_page_makes_operators(acting_app):
    app = acting_app(PIPEWATCH_OPERATOR_TOKEN=OPERATE_TOKEN)
    client = app.server.test_client()
    assert client.get("/login").status_code == 200
    assert client.post("/login", data={"token": READ}, headers=SAME_SITE).status_code == 401
    assert client.post("/login", data={"token": OPERATE_TOKEN}, headers=SAME_SITE
                       ).status_code == 303
    assert client.post(ACT, headers=SAME_SITE, environ_base=REMOTE).status_code == 200


# endregion
# region Without an operator token: this machine only


def test_with_no_operator_token_this_machine_may_act(acting_app):
    app = acting_app()
    client = app.server.test_client()  # from 127.0.0.1 to Host localhost, as `make run`
    assert client.post(ACT, headers=SAME_SITE).status_code == 200
    assert client.post(ACT).status_code == 200  # curl sends no Origin
    for peer, host in (("::1", "[::1]:8050"), ("::ffff:127.0.0.1", "127.0.0.1:8050")):
        assert client.post(ACT, environ_base={"REMOTE_ADDR": peer},
                           headers={"Host": host}).status_code == 200
    assert app.calls == [1, 1, 1, 1]


@pytest.mark.parametrize("environ, headers", [
    (REMOTE, {}),  # another machine
    ({}, {"Host": "rebound.example:8050"}),  # DNS rebinding: another site's name, our address
    ({}, {"X-Forwarded-For": "203.0.113.9"}),  # a proxy on this machine relaying others
    ({}, {"Forwarded": "for=203.0.113.9"}),
], ids=["remote", "foreign-host", "x-forwarded-for", "forwarded"])
def test_with_no_operator_token_anyone_else_gets_403_naming_the_setting(acting_app, environ,
                                                                        headers):
    app = acting_app()
    refused = app.server.test_client().post(ACT, environ_base=environ, headers=headers)
    assert refused.status_code == 403
    assert error(refused)["code"] == "operator_token_unset"
    assert "Set PIPEWATCH_OPERATOR_TOKEN" in error(refused)["message"]
    assert app.calls == []


def test_behind_a_trusted_proxy_the_client_address_decides(acting_app):
    app = acting_app(TRUSTED_PROXIES=1)
    client = app.server.test_client()
    assert client.post(ACT, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert client.post(ACT, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_with_no_operator_token_this_machine_still_needs_same_site_and_the_read_token(
        acting_app):
    app = acting_app(PIPEWATCH_READ_TOKEN=READ)
    client = app.server.test_client()
    cross_site = client.post(ACT, headers={**FOREIGN, **bearer(READ)})
    assert cross_site.status_code == 403 and error(cross_site)["code"] == "forbidden"
    assert client.post(ACT, headers=SAME_SITE).status_code == 401
    assert client.post(ACT, headers={**SAME_SITE, **bearer(READ)}).status_code == 200
    assert app.calls == [1]


# endregion
