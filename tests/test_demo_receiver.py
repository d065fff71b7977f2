"""The demo's built-in webhook receiver (api/demo/inbox.py, /api/v1/demo/webhooks) and how
`python app.py demo` wires it: the app's own sender delivers a signed test notification to it
over real HTTP, the delivery log shows it delivered, and the receiver lists what it got; a
forged or old signature is a 401 that the sender records as a failed delivery; `serve` never
has it, and a receiver the person configured is left alone."""
from __future__ import annotations

import json
import threading
import time

import pytest
from werkzeug.serving import make_server

from api import cli
from api.demo.inbox import Inbox, SignatureRefused, check_signature
from api.notify.signing import HEADER, signature
from api.schemas.documents import Error
from api.schemas.notifications import Deliveries, DemoWebhooks
from api.settings import load_config
from tests.live_fixtures import free_port
from tests.notify_fixtures import wait_until

SECRET = "demo-secret-7731"
PATH = "/api/v1/demo/webhooks"


def test_a_signature_is_checked_over_the_raw_body_and_its_age():
    body = b'{"id": "x"}'
    now = time.time()
    check_signature(SECRET, body, signature(SECRET, body, int(now)), now)
    refusals = {
        "no Pipewatch-Signature header": None,
        "malformed Pipewatch-Signature header": "v1=abc",
        "the signature does not match WEBHOOK_SECRET": signature("other", body, int(now)),
        "the signature is more than 300 s old": signature(SECRET, body, int(now) - 301),
    }
    for reason, header in refusals.items():
        with pytest.raises(SignatureRefused, match=reason):
            check_signature(SECRET, body, header, now)
    with pytest.raises(SignatureRefused):  # the body signed is the body received
        check_signature(SECRET, body + b" ", signature(SECRET, body, int(now)), now)


def test_the_inbox_keeps_the_newest_few():
    inbox = Inbox(capacity=2)
    for n in range(3):
        inbox.keep({"id": str(n)}, received_at=None)
    assert [item["notification"]["id"] for item in inbox.items()] == ["2", "1"]


class Served:
    """The app on a port chosen before it is built, so its WEBHOOK_URLS can name itself."""

    def __init__(self, make_app, **settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = make_app(DEMO_RECEIVER=True, WEBHOOK_URLS=(self.url + PATH,),
                            NOTIFY_POLL_SECONDS=0.05, NOTIFY_TIMEOUT_SECONDS=2.0, **settings)
        self._server = make_server("127.0.0.1", self.port, self.app.server, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def served(make_sqlite_app):
    made = []

    def serve(**settings) -> Served:
        made.append(Served(make_sqlite_app, **settings))
        return made[-1]

    yield serve
    for server in made:
        server.stop()


def test_the_sender_delivers_a_signed_test_to_the_built_in_receiver(served):
    app = served(WEBHOOK_SECRET=SECRET).app
    client = app.server.test_client()
    sent = client.post("/api/v1/notifications/test")
    assert sent.status_code == 202, sent.get_json()
    answer = Deliveries.model_validate(sent.get_json())
    assert [r.model_dump() for r in answer.receivers] == [
        {"kind": "webhook", "target": f"webhook http://127.0.0.1:{served_port(app)}"}]
    uid = answer.items[0].id

    def log():
        return Deliveries.model_validate(client.get("/api/v1/notifications").get_json())

    wait_until(lambda: log().items[0].state == "delivered", message="the test is delivered")
    assert log().items[0].id == uid and log().items[0].last_status == 204
    got = DemoWebhooks.model_validate(client.get(PATH).get_json())
    assert [item.notification.id for item in got.items] == [uid]
    assert got.items[0].notification.event == "test"


def served_port(app) -> int:
    return int(app.server.extensions["pipewatch"].config["WEBHOOK_URLS"][0].split(":")[2]
               .split("/")[0])


def test_a_forged_signature_is_refused_and_recorded_as_failed(served):
    """The sender signs with its own secret; the receiver checks with the same setting. A body
    posted with another key is a 401 in the error shape, and nothing is kept."""
    app = served(WEBHOOK_SECRET=SECRET).app
    client = app.server.test_client()
    body = json.dumps({"id": "forged"}).encode()
    refused = client.post(PATH, data=body, headers={
        HEADER: signature("not-the-secret", body, int(time.time())),
        "Content-Type": "application/json"})
    assert refused.status_code == 401
    error = Error.model_validate(refused.get_json()).error
    assert error.code == "signature_refused" and "does not match" in error.message
    assert client.get(PATH).get_json()["items"] == []
    unsigned = client.post(PATH, data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    signed_junk = b'{"id": "x"}'
    bad = client.post(PATH, data=signed_junk, headers={
        HEADER: signature(SECRET, signed_junk, int(time.time()))})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["problems"]


def test_without_the_setting_there_is_no_receiver(make_sqlite_app):
    client = make_sqlite_app().server.test_client()
    assert client.post(PATH, data=b"{}").status_code in (404, 405)  # the page's catch-all
    assert client.get(PATH).status_code == 404
    refused = client.post("/api/v1/notifications/test")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == (
        "no receiver configured: set WEBHOOK_URLS, ALERTMANAGER_URLS or APPRISE_URLS")
    assert client.get("/api/v1/notifications").get_json()["receivers"] == []


def test_demo_points_webhooks_at_its_own_receiver_only_when_none_is_configured():
    config = load_config({"PORT": 9123, "HOST": "0.0.0.0"})
    assert cli.demo_receiver(config) is True
    assert config["DEMO_RECEIVER"] is True
    assert config["WEBHOOK_URLS"] == ("http://127.0.0.1:9123/api/v1/demo/webhooks",)
    assert len(config["WEBHOOK_SECRET"]) == 32
    other = load_config({"PORT": 9123, "HOST": "127.0.0.1"})
    assert cli.demo_receiver(other) and other["WEBHOOK_SECRET"] != config["WEBHOOK_SECRET"]
    mine = load_config({"APPRISE_URLS": ("json://127.0.0.1:9/",), "DEMO_RECEIVER": True})
    assert cli.demo_receiver(mine) is False
    assert mine["DEMO_RECEIVER"] is False and mine["WEBHOOK_URLS"] == ()


def test_demo_serves_with_the_receiver_and_serve_never_does(monkeypatch, tmp_path):
    from api import serving

    served: list[dict] = []
    monkeypatch.setattr(serving, "serve", lambda config: served.append(dict(config)) or 0)
    monkeypatch.setattr(cli, "seed_if_empty", lambda *args, **kwargs: False)
    database = ["--database-url", f"sqlite:///{tmp_path / 'demo.db'}", "--port", "9124"]
    assert cli.main(["demo", *database]) == 0
    assert served[-1]["DEMO_RECEIVER"] is True and served[-1]["SIMULATE"] is True
    assert served[-1]["WEBHOOK_URLS"] == ("http://127.0.0.1:9124/api/v1/demo/webhooks",)
    monkeypatch.setenv("DEMO_RECEIVER", "1")
    assert cli.main(["serve", *database]) == 0
    assert served[-1]["DEMO_RECEIVER"] is False and served[-1]["WEBHOOK_URLS"] == ()


def test_the_openapi_document_lists_the_receiver_only_where_it_is_served(make_sqlite_app):
    with_it = make_sqlite_app(DEMO_RECEIVER=True).server.test_client()
    paths = with_it.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths[PATH]) == {"get", "post"}
    without = make_sqlite_app().server.test_client()
    assert PATH not in without.get("/api/v1/openapi.json").get_json()["paths"]
