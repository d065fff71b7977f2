"""Guessing tokens is throttled per client address, sign-in cookies expire and sign-out ends
them server-side, and an Origin is scheme, host and port (issue 10, items 4 and 8)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from api.auth import COOKIE, cookie_signer, new_sign_in_cookie, origin_allowed
from api.storage.models import RevokedSession
from api.throttle import FailureThrottle

READ = "read-token-0451"
INGEST = "ingest-token-7782"
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OPERATOR = {"REMOTE_ADDR": "198.51.100.4"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# region The table itself, on a clock the test moves


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_waits_once_it_failed_limit_times_within_the_window():
    clock = Clock()
    throttle = FailureThrottle(limit=3, window_seconds=60, max_addresses=100, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a") is None
        throttle.record_failure("a")
        clock.now += 10
    assert throttle.retry_after("a") == 30  # the first failure leaves the window at 1060
    assert throttle.retry_after("b") is None  # other addresses are untouched
    clock.now += 30
    assert throttle.retry_after("a") is None  # one more try, then wait for the next to age
    throttle.record_failure("a")
    assert throttle.retry_after("a") == 10


def test_the_table_is_bounded_and_forgets_the_least_recent_address():
    throttle = FailureThrottle(limit=1, window_seconds=60, max_addresses=3, clock=Clock())
    for address in ("a", "b", "c", "a", "d"):
        throttle.record_failure(address)
    assert len(throttle) == 3
    assert throttle.retry_after("b") is None  # forgotten: the least recently failing
    assert all(throttle.retry_after(address) for address in ("a", "c", "d"))


def test_limit_zero_turns_it_off():
    throttle = FailureThrottle(limit=0, window_seconds=60, max_addresses=3)
    for _ in range(100):
        throttle.record_failure("a")
    assert throttle.retry_after("a") is None and len(throttle) == 0

# endregion

# region Over HTTP


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_READ_TOKEN=READ, PIPEWATCH_INGEST_TOKEN=INGEST,
                    AUTH_FAILURE_LIMIT=5, AUTH_FAILURE_WINDOW_SECONDS=2)


def metric_value(client, line_start: str) -> float:
    text = client.get("/metrics", headers=bearer(READ), environ_base=OPERATOR).get_data(True)
    [line] = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def assert_throttled(response) -> int:
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "too_many_attempts"
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 2 and error["message"].endswith(f"try again in {wait} s")
    return wait


def test_wrong_bearer_reads_are_throttled_per_address(client):
    for _ in range(5):
        response = client.get("/api/v1/sources", headers=bearer("guess"), environ_base=ATTACKER)
        assert response.status_code == 401
    assert_throttled(client.get("/api/v1/sources", headers=bearer("guess"),
                                environ_base=ATTACKER))
    # Even the right token waits from that address: otherwise guessing would go on.
    assert_throttled(client.get("/api/v1/sources", headers=bearer(READ), environ_base=ATTACKER))
    # From anywhere else the right token is never slowed down.
    assert client.get("/api/v1/sources", headers=bearer(READ),
                      environ_base=OPERATOR).status_code == 200
    assert metric_value(client, 'pipewatch_auth_failures_total{kind="read"}') == 5
    assert metric_value(client, 'pipewatch_auth_throttled_total{kind="read"}') == 2
    time.sleep(2.1)  # the window moves on
    assert client.get("/api/v1/sources", headers=bearer(READ),
                      environ_base=ATTACKER).status_code == 200


def test_behind_trusted_proxies_each_client_is_counted_by_its_own_address(make_app):
    """All requests arrive from the proxy's address; with TRUSTED_PROXIES=1 the client's
    address comes from X-Forwarded-For, so a guesser never locks out the others. Without the
    setting the header is ignored: a client cannot pick its own address."""
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def via_proxy(client, token, client_address):
        return client.get("/api/v1/sources", headers={**bearer(token),
                                                      "X-Forwarded-For": client_address},
                          environ_base=proxy)

    trusting = make_app(PIPEWATCH_READ_TOKEN=READ, AUTH_FAILURE_LIMIT=2,
                        AUTH_FAILURE_WINDOW_SECONDS=2, TRUSTED_PROXIES=1)
    client = trusting.server.test_client()
    for _ in range(2):
        assert via_proxy(client, "guess", "203.0.113.9").status_code == 401
    assert_throttled(via_proxy(client, READ, "203.0.113.9"))
    assert via_proxy(client, READ, "198.51.100.7").status_code == 200

    naive = make_app(PIPEWATCH_READ_TOKEN=READ, AUTH_FAILURE_LIMIT=2,
                     AUTH_FAILURE_WINDOW_SECONDS=2)
    client = naive.server.test_client()
    for address in ("203.0.113.9", "203.0.113.10"):
        assert via_proxy(client, "guess", address).status_code == 401
    assert_throttled(via_proxy(client, READ, "198.51.100.7"))


def test_wrong_bearer_writes_are_throttled(client):
    for _ in range(5):
        response = client.post("/api/v1/metrics", json={}, headers=bearer("guess"),
                               environ_base=ATTACKER)
        assert response.status_code == 401
    assert_throttled(client.post("/api/v1/metrics", json={}, headers=bearer(INGEST),
                                 environ_base=ATTACKER))
    assert client.post("/api/v1/metrics", json={}, headers=bearer(INGEST),
                       environ_base=OPERATOR).status_code == 422  # through to validation
    assert metric_value(client, 'pipewatch_auth_failures_total{kind="write"}') == 5


def test_wrong_sign_ins_are_throttled_and_the_form_says_how_long(client, app):
    for _ in range(5):
        assert client.post("/login", data={"token": "guess"},
                           environ_base=ATTACKER).status_code == 401
    page = client.post("/login", data={"token": READ}, environ_base=ATTACKER)
    assert page.status_code == 429 and "Set-Cookie" not in page.headers
    assert 1 <= int(page.headers["Retry-After"]) <= 2
    assert b"Too many wrong tokens from this address" in page.get_data()
    elsewhere = app.server.test_client()
    assert elsewhere.post("/login", data={"token": READ},
                          environ_base=OPERATOR).status_code == 303
    assert metric_value(client, 'pipewatch_auth_failures_total{kind="sign_in"}') == 5
    assert metric_value(client, 'pipewatch_auth_throttled_total{kind="sign_in"}') == 1


def test_missing_credentials_are_not_guesses(client):
    for _ in range(20):
        assert client.get("/api/v1/sources", environ_base=ATTACKER).status_code == 401
    assert client.get("/api/v1/sources", headers=bearer(READ),
                      environ_base=ATTACKER).status_code == 200

# endregion

# region The cookie: expiry and sign-out


def signed_in(app):
    client = app.server.test_client()
    response = client.post("/login", data={"token": READ, "next": "/"})
    assert response.status_code == 303 and "Max-Age=43200" in response.headers["Set-Cookie"]
    return client, client.get_cookie(COOKIE).value


def test_an_expired_cookie_sends_the_page_back_to_sign_in(app):
    signer = cookie_signer(READ)
    signer.get_timestamp = lambda: int(time.time()) - 43200 - 5  # signed 12 h 5 s ago
    client = app.server.test_client()
    client.set_cookie(COOKIE, signer.sign("session-id").decode())
    refused = client.get("/api/v1/sources")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["message"].startswith("the sign-in has expired")
    # What the open page meets at its next request: the JSON 401 naming the sign-in page
    # (assets/pipewatch.js goes there), and a reload is redirected there with its view.
    dash = client.get("/_dash-layout")
    assert dash.status_code == 401 and dash.get_json()["error"]["details"] == {
        "sign_in": "/login"}
    page = client.get("/?range=7d")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=%2F%3Frange%3D7d"
    client.set_cookie(COOKIE, new_sign_in_cookie(READ))  # a fresh one is fine
    assert client.get("/api/v1/sources").status_code == 200


def test_sign_out_ends_the_cookie_everywhere_until_it_would_expire(app, runtime):
    """On both databases: the revocation is a row every process and host reads."""
    client, cookie = signed_in(app)
    other, _ = signed_in(app)  # another browser stays signed in
    assert client.post("/logout").status_code == 303
    copy = app.server.test_client()  # the same cookie, kept by someone who copied it
    copy.set_cookie(COOKIE, cookie)
    refused = copy.get("/api/v1/sources")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["message"].startswith("this browser signed out")
    assert copy.get("/").status_code == 302
    assert other.get("/api/v1/sources").status_code == 200
    assert copy.post("/logout").status_code == 303  # signing out twice is harmless
    with runtime.db.session() as session:
        [expires_at] = session.scalars(select(RevokedSession.expires_at)).all()
    assert 43190 <= (expires_at.timestamp() - time.time()) <= 43200


def test_sign_out_prunes_revocations_whose_cookies_expired(make_app, runtime):
    short = make_app(PIPEWATCH_READ_TOKEN=READ, SESSION_MAX_AGE_SECONDS=1)
    client, _ = signed_in_short(short)
    client.post("/logout")
    time.sleep(1.1)
    later, _ = signed_in_short(short)
    later.post("/logout")
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(RevokedSession)) == 1


def signed_in_short(app):
    client = app.server.test_client()
    assert client.post("/login", data={"token": READ}).status_code == 303
    return client, client.get_cookie(COOKIE).value

# endregion

# region Origins are scheme, host and port


def test_origin_needs_the_same_scheme():
    assert origin_allowed("http://app.example:8050", "app.example:8050", (), ("http",))
    assert not origin_allowed("https://app.example:8050", "app.example:8050", (), ("http",))
    assert not origin_allowed("http://app.example", "app.example", (), ("https",))
    assert origin_allowed("https://app.example", "app.example", (), ("http", "https"))
    assert origin_allowed("https://other.example", "app.example", ("https://other.example",))


def test_forms_refuse_another_scheme_and_accept_a_tls_proxy(app):
    def sign_in(**headers):  # a fresh browser each time: a signed-in one is sent straight on
        return app.server.test_client().post("/login", data={"token": READ}, headers=headers)

    assert sign_in(Origin="https://localhost").status_code == 403
    assert sign_in(Origin="https://localhost:80").status_code == 403
    assert sign_in(Origin="http://localhost").status_code == 303
    assert sign_in(**{"Origin": "https://localhost", "X-Forwarded-Proto": "https"}
                   ).status_code == 303


# endregion
