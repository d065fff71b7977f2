"""Alerts in a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, started here
on a free port): a firing alert appears in each instance's /api/v2/alerts with its labels,
annotations and link, is resolved there when it resolves here, is learnt again by a restarted
Alertmanager, and a silenced alert is never sent.

Without the binary these tests FAIL with the fix, unless PIPEWATCH_SKIP_ALERTMANAGER=1 is set
(CI never sets it)."""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Iterator

import pytest

from api.storage.silence_store import create_silence
from tests.amserver import AlertmanagerServer, AlertmanagerUnavailable
from tests.notify_fixtures import wait_until
from tests.status_fixtures import NOW, add_metrics, evaluate_alerts, metric

SKIP = os.environ.get("PIPEWATCH_SKIP_ALERTMANAGER") == "1"
KEY = "quality:geocoding_success_rate"
FAST = {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0, "NOTIFY_POLL_SECONDS": 0.05,
        "NOTIFY_RETRY_SECONDS": 0.05, "NOTIFY_TIMEOUT_SECONDS": 2.0,
        "ALERTMANAGER_RESEND_SECONDS": 0.5, "PUBLIC_URL": "https://pipewatch.example.org"}


@pytest.fixture
def alertmanagers() -> Iterator:
    if SKIP:
        pytest.skip("PIPEWATCH_SKIP_ALERTMANAGER=1: Alertmanager tests skipped on request")
    started: list[AlertmanagerServer] = []

    def start() -> AlertmanagerServer:
        try:
            started.append(AlertmanagerServer().start())
        except AlertmanagerUnavailable as exc:
            pytest.fail(f"Alertmanager tests cannot run: {exc}\n"
                        "Set PIPEWATCH_SKIP_ALERTMANAGER=1 to skip them on purpose.",
                        pytrace=False)
        return started[-1]

    yield start
    for server in started:
        server.stop()


def transition(runtime, moment, good: bool) -> None:
    add_metrics(runtime.db, [metric(moment, "aggregate", geo=(100, 99 if good else 80),
                                    val=(100, 100), window_seconds=86400)])
    evaluate_alerts(runtime.db, moment, runtime.config)
    runtime.notify_change()


def ours(server: AlertmanagerServer) -> list[dict]:
    return [alert for alert in server.alerts() if alert["labels"].get("key") == KEY]


def test_firing_then_resolved_in_every_instance(make_sqlite_app, alertmanagers):
    first, second = alertmanagers(), alertmanagers()
    app = make_sqlite_app(ALERTMANAGER_URLS=(first.url, second.url), **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    for server in (first, second):
        wait_until(lambda: len(ours(server)) == 1, message="the alert in Alertmanager")
        (alert,) = ours(server)
        labels = alert["labels"]
        assert labels["alertname"] == "quality" and labels["severity"] == "warning"
        assert labels["pipewatch_id"].isdigit() and "source" not in labels
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert alert["generatorURL"].startswith(
            "https://pipewatch.example.org/?range=custom&start=2026-11-")
        assert alert["status"]["state"] == "active"
    transition(runtime, NOW + timedelta(minutes=1), good=True)  # resolves here
    for server in (first, second):
        wait_until(lambda: ours(server) == [], message="the alert resolved in Alertmanager")
    deliveries = app.server.test_client().get("/api/v1/notifications").get_json()["items"]
    assert sorted((item["event"], item["state"]) for item in deliveries) == [
        ("firing", "delivered"), ("firing", "delivered"),
        ("resolved", "delivered"), ("resolved", "delivered")]


def test_a_restarted_alertmanager_learns_the_active_alert_again(make_sqlite_app,
                                                                alertmanagers):
    server = alertmanagers()
    app = make_sqlite_app(ALERTMANAGER_URLS=(server.url,), **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(ours(server)) == 1)
    server.restart()
    assert ours(server) == []  # a new instance, empty storage: it knows nothing
    wait_until(lambda: len(ours(server)) == 1, message="the re-sent alert")
    metrics = app.server.test_client().get("/metrics").get_data(as_text=True)
    assert 'pipewatch_alertmanager_resends_total{outcome="accepted"}' in metrics


def test_a_silenced_alert_is_never_sent(make_sqlite_app, alertmanagers):
    server = alertmanagers()
    app = make_sqlite_app(ALERTMANAGER_URLS=(server.url,), **FAST)
    runtime = app.server.extensions["pipewatch"]
    with runtime.db.session() as session:
        create_silence(session, {"kind": "quality", "starts_at": NOW - timedelta(days=1),
                                 "ends_at": NOW + timedelta(days=30), "created_by": "amina",
                                 "comment": "planned", "created_at": NOW})
    transition(runtime, NOW, good=False)
    client = app.server.test_client()
    assert client.post("/api/v1/notifications/test").status_code == 202  # from loopback
    wait_until(lambda: any(alert["labels"].get("key") == "test:notification"
                           for alert in server.alerts()), message="the test alert")

    def resends() -> float:
        for line in client.get("/metrics").get_data(as_text=True).splitlines():
            if line.startswith('pipewatch_alertmanager_resends_total{outcome="accepted"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    done = resends()
    wait_until(lambda: resends() >= done + 2, message="two more re-sends")
    assert ours(server) == []
    assert [item["event"] for item in client.get("/api/v1/notifications").get_json()["items"]
            ] == ["test"]
