"""Notifications across real server processes on one PostgreSQL database (`python app.py
serve`: gunicorn, a gevent worker): two processes evaluate and send, and a receiver gets each
transition exactly once; a process killed with SIGKILL in the middle of a delivery leaves it to
be sent again, with the same id, by the next one."""
from __future__ import annotations

import os
import signal
import time

import pytest

from api.storage.db import Database
from api.timeutil import utcnow
from tests.live_fixtures import ProductionServer
from tests.notify_fixtures import HttpReceiver, wait_until
from tests.status_fixtures import add_metrics, metric

pytestmark = pytest.mark.postgres
KEY = "quality:geocoding_success_rate"
SETTINGS = {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0,
            "ALERT_EVALUATE_SECONDS": 0.2, "NOTIFY_POLL_SECONDS": 0.1,
            "NOTIFY_RETRY_SECONDS": 0.1, "WEBHOOK_SECRET": "s"}


@pytest.fixture
def database_url(pg_server):
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def receiver():
    made = HttpReceiver()
    yield made
    made.stop()


def set_rate(url: str, good: bool) -> None:
    """A fresh aggregate row, straight into the database (as the collector writes it)."""
    db = Database(url)
    try:
        add_metrics(db, [metric(utcnow(), "aggregate", geo=(100, 99 if good else 80),
                                val=(100, 100), window_seconds=86400)])
    finally:
        db.dispose()


def events(receiver: HttpReceiver) -> list[tuple[str, str]]:
    return [(body["event"], body["id"]) for body in receiver.bodies()
            if body["alert"]["key"] == KEY]


def test_two_processes_send_each_transition_once(database_url, receiver):
    first = ProductionServer(database_url, WEBHOOK_URLS=receiver.url, **SETTINGS)
    try:
        second = ProductionServer(database_url, WEBHOOK_URLS=receiver.url, **SETTINGS)
        try:
            set_rate(database_url, good=False)
            wait_until(lambda: [e for e, _ in events(receiver)] == ["firing"], timeout=30,
                       message="one firing webhook")
            set_rate(database_url, good=True)
            wait_until(lambda: [e for e, _ in events(receiver)] == ["firing", "resolved"],
                       timeout=30, message="then one resolved webhook")
            # Both processes keep evaluating and polling: still exactly one of each.
            # (No event marks "nothing more will come": give each process ~7 evaluations
            # and ~15 sender polls in which a duplicate would have been sent.)
            marker = len(receiver.received)
            time.sleep(1.5)
            assert len(receiver.received) == marker
            assert len({uid for _, uid in events(receiver)}) == 2
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_sender_killed_mid_delivery_is_replaced_and_the_id_is_kept(database_url):
    hanging = HttpReceiver(answers=[("hang", 60)])
    try:
        settings = {**SETTINGS, "NOTIFY_TIMEOUT_SECONDS": 3}
        victim = ProductionServer(database_url, WEBHOOK_URLS=hanging.url, **settings)
        try:
            set_rate(database_url, good=False)
            wait_until(lambda: len(hanging.received) == 1, timeout=30,
                       message="the delivery in flight")
            os.killpg(victim.process.pid, signal.SIGKILL)  # master and worker, mid-request
            victim.process.wait(10)
        finally:
            victim.stop()
        assert len(hanging.received) == 1
        successor = ProductionServer(database_url, WEBHOOK_URLS=hanging.url, **settings)
        try:
            # The lease (timeout + 5 s) passes, the row is claimed again and delivered.
            wait_until(lambda: len(hanging.received) == 2, timeout=30,
                       message="the delivery sent again")
            first, again = (item.json() for item in hanging.received)
            assert first["id"] == again["id"] and first["event"] == again["event"] == "firing"
            wait_until(lambda: _states(successor) == ["delivered"], timeout=10)
        finally:
            successor.stop()
        assert len(hanging.received) == 2  # once more at most
    finally:
        hanging.stop()


def _states(server: ProductionServer) -> list[str]:
    import requests

    items = requests.get(server.url + "/api/v1/notifications", timeout=10).json()["items"]
    return [item["state"] for item in items if item["alert_key"] == KEY]
