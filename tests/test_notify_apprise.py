"""Chat and e-mail through apprise, tested through its `json://` scheme to a real local HTTP
receiver: one line per transition with severity, title, source and the dashboard link; a
resolved one says how long it lasted; failures are retried; the URL's token is never shown."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.settings import ConfigError
from tests.notify_fixtures import HttpReceiver, wait_until
from tests.status_fixtures import NOW, add_metrics, evaluate_alerts, metric

FAST = {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0, "NOTIFY_POLL_SECONDS": 0.05,
        "NOTIFY_RETRY_SECONDS": 0.05}


@pytest.fixture
def chat():
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


def transition(runtime, moment, good: bool) -> None:
    add_metrics(runtime.db, [metric(moment, "aggregate", geo=(100, 99 if good else 80),
                                    val=(100, 100), window_seconds=86400)])
    evaluate_alerts(runtime.db, moment, runtime.config)
    runtime.notify_change()


def test_one_line_per_transition_through_json(make_sqlite_app, chat):
    chat.answers = [503]  # the first attempt fails: retried
    url = f"json://127.0.0.1:{chat.port}/rooms/TOKEN-IN-PATH"
    app = make_sqlite_app(APPRISE_URLS=(url,), **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(chat.received) == 2, message="the retried firing line")
    transition(runtime, NOW + timedelta(minutes=125), good=True)
    wait_until(lambda: len(chat.received) == 3, message="the resolved line")
    assert {item.path for item in chat.received} == {"/rooms/TOKEN-IN-PATH"}
    firing, resolved = chat.received[1].json(), chat.received[2].json()
    assert firing["message"].startswith("WARNING: ")
    assert "http://127.0.0.1:8050/?range=custom&start=2026-11-" in firing["message"]
    assert "\n" not in firing["message"]
    assert resolved["message"].startswith("RESOLVED: ") and "(lasted 2 h 5 min)" in \
        resolved["message"]
    items = app.server.test_client().get("/api/v1/notifications").get_json()["items"]
    assert [(item["event"], item["state"], item["attempts"], item["receiver"])
            for item in items] == [("resolved", "delivered", 1, "apprise json://"),
                                   ("firing", "delivered", 2, "apprise json://")]
    assert "TOKEN" not in app.server.test_client().get("/api/v1/notifications").get_data(
        as_text=True)


def test_a_url_apprise_does_not_know_stops_the_app(make_sqlite_app):
    with pytest.raises(ConfigError, match="APPRISE_URLS entry 1 \\(apprise nosuch://\\)"):
        make_sqlite_app(APPRISE_URLS=("nosuch://secret-token",))
