"""The hub in-process, on a real database and the real status computation: latest-only
mailboxes, coalesced bursts, heartbeat, seq, and what sockets are told on failure and shutdown."""
from __future__ import annotations

import json
import threading
import time

import pytest

from api.live.hub import Close, Mailbox
from tests.live_fixtures import STATUS_PATH, insert_scrape_run, without_timestamp

UNREACHABLE = "postgresql+psycopg://pipewatch:hunter2@127.0.0.1:9/pipewatch"


@pytest.fixture
def build(make_sqlite_app):
    """Apps on one SQLite file (the hub does not depend on the backend; the feed tests do)."""
    return make_sqlite_app


def parts(app):
    server = app.server
    return server.extensions["pipewatch"], server.extensions["pipewatch.hub"], server.test_client()


def next_message(mailbox: Mailbox, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mailbox.wake.wait(0.05)
        mailbox.wake.clear()
        message = mailbox.take()
        if message is not None:
            return message
    raise AssertionError("no message in time")


def sample(runtime, name: str, **labels) -> float:
    return runtime.telemetry.registry.get_sample_value(name, labels) or 0.0


def write(runtime, source: str | None = None) -> None:
    insert_scrape_run(runtime.db.url, source)
    runtime.notify_change()


def test_mailbox_keeps_only_the_newest_message():
    mailbox = Mailbox(threading.Event())
    assert mailbox.put("a") is False
    assert mailbox.wake.is_set()
    assert mailbox.put("b") is True, "an unread message was replaced"
    assert mailbox.take() == "b"
    assert mailbox.take() is None
    mailbox.put(Close(1001, "bye"))
    mailbox.put("c")
    assert mailbox.take() == Close(1001, "bye"), "a close order is never overwritten"


def test_a_mailbox_keeps_when_its_unsent_change_was_heard():
    """Delivery latency runs from the first change a frame carries: a heartbeat (no time)
    replacing an unread change still carries that change; a taken message's time is gone."""
    mailbox = Mailbox(threading.Event())
    mailbox.put("change", heard=10.0)
    mailbox.put("newer change", heard=12.0)
    mailbox.put("heartbeat")
    assert mailbox.take_timed() == ("heartbeat", 10.0)
    mailbox.put("heartbeat")
    assert mailbox.take_timed() == ("heartbeat", None)


def test_a_change_is_timed_from_when_the_hub_heard_it(build):
    app = build()
    runtime, hub, _client = parts(app)
    mailbox = hub.subscribe(threading.Event(), limit=10)
    try:
        next_message(mailbox)  # the first status: no change behind it, not timed
        heard = time.monotonic()
        write(runtime)
        deadline = time.monotonic() + 10
        while True:
            mailbox.wake.wait(0.05)
            message, when = mailbox.take_timed()
            if when is not None:
                break
            assert time.monotonic() < deadline, "no timed change in time"
        assert heard <= when <= time.monotonic() and message is not None
    finally:
        hub.unsubscribe(mailbox)


def test_nothing_runs_until_the_first_subscriber(build):
    def running(name: str) -> int:  # other tests' apps may run theirs: count, do not assume none
        return sum(thread.name == name for thread in threading.enumerate())

    hubs, feeds = running("pipewatch-hub"), running("pipewatch-changefeed")
    runtime, hub, _ = parts(build())
    assert (running("pipewatch-hub"), running("pipewatch-changefeed")) == (hubs, feeds)
    mailbox = hub.subscribe(threading.Event(), limit=5)
    assert (running("pipewatch-hub"), running("pipewatch-changefeed")) == (hubs + 1, feeds + 1)
    next_message(mailbox)


def test_first_message_is_the_rest_document(build):
    runtime, hub, client = parts(build())
    write(runtime)
    mailbox = hub.subscribe(threading.Event(), limit=5)
    pushed = json.loads(next_message(mailbox))
    fetched = client.get(STATUS_PATH).get_json()
    assert without_timestamp(pushed) == without_timestamp(fetched)
    assert pushed["seq"] == fetched["seq"]
    assert sample(runtime, "pipewatch_ws_open") == 1
    hub.unsubscribe(mailbox)
    assert sample(runtime, "pipewatch_ws_open") == 0


def test_limit_refuses_the_next_subscriber(build):
    _, hub, _ = parts(build())
    held = [hub.subscribe(threading.Event(), limit=3) for _ in range(3)]
    assert None not in held
    assert hub.subscribe(threading.Event(), limit=3) is None
    hub.unsubscribe(held[0])
    assert hub.subscribe(threading.Event(), limit=3) is not None


def test_a_burst_is_coalesced_and_its_last_state_is_sent(build):
    runtime, hub, client = parts(build(WS_HEARTBEAT_SECONDS=60))
    mailbox = hub.subscribe(threading.Event(), limit=5)
    next_message(mailbox)
    before = sample(runtime, "pipewatch_status_computations_total", caller="hub")
    commits = 200
    for _ in range(commits):
        write(runtime)
    final = without_timestamp(client.get(STATUS_PATH).get_json())
    latest = None
    deadline = time.monotonic() + 15
    while latest != final and time.monotonic() < deadline:
        latest = without_timestamp(json.loads(next_message(mailbox)))
    assert latest == final, "the last state of the burst reached the socket"
    computed = sample(runtime, "pipewatch_status_computations_total", caller="hub") - before
    assert 1 <= computed < commits / 4, f"{commits} commits caused {computed} computations"


def test_a_stalled_reader_holds_one_message_not_a_queue(build):
    runtime, hub, client = parts(build(WS_HEARTBEAT_SECONDS=60, WS_COALESCE_SECONDS=0))
    stalled = hub.subscribe(threading.Event(), limit=5)
    reader = hub.subscribe(threading.Event(), limit=5)
    next_message(reader)
    for _ in range(30):
        write(runtime)
        # wait until this change reached the reader before the next, so the stalled mailbox
        # is offered every one of them
        expected = client.get(STATUS_PATH).get_json()["seq"]
        while json.loads(next_message(reader))["seq"] < expected:
            pass
    held = stalled.take()
    assert stalled.take() is None
    assert json.loads(held)["seq"] == expected, "the stalled reader gets the newest state"
    assert sample(runtime, "pipewatch_ws_mailbox_overwrites_total") >= 29


def test_seq_moves_only_when_content_changes(build):
    runtime, hub, _ = parts(build(WS_HEARTBEAT_SECONDS=0.2))
    mailbox = hub.subscribe(threading.Event(), limit=5)
    beats = [json.loads(next_message(mailbox)) for _ in range(4)]
    assert len({beat["seq"] for beat in beats}) == 1, "heartbeats repeat the seq"
    assert len({beat["timestamp"] for beat in beats}) == 4, "each heartbeat is recomputed"
    write(runtime)
    changed = json.loads(next_message(mailbox))
    assert changed["seq"] == beats[0]["seq"] + 1
    assert json.loads(next_message(mailbox))["seq"] == changed["seq"]


def test_a_notification_without_change_sends_nothing(build):
    runtime, hub, _ = parts(build(WS_HEARTBEAT_SECONDS=60))
    mailbox = hub.subscribe(threading.Event(), limit=5)
    next_message(mailbox)
    runtime.notify_change()
    deadline = time.monotonic() + 10
    while sample(runtime, "pipewatch_broadcasts_total", reason="unchanged") < 1:
        assert time.monotonic() < deadline, "the notification was not processed"
        time.sleep(0.02)
    assert mailbox.take() is None


def test_database_down_closes_sockets_with_1011(build):
    _, hub, _ = parts(build(DATABASE_URL=UNREACHABLE))
    mailbox = hub.subscribe(threading.Event(), limit=5)
    message = next_message(mailbox)
    assert isinstance(message, Close) and message.code == 1011
    assert "hunter2" not in message.reason


def test_shutdown_tells_sockets_1001(build):
    runtime, hub, _ = parts(build())
    mailbox = hub.subscribe(threading.Event(), limit=5)
    next_message(mailbox)
    runtime.close()
    assert next_message(mailbox) == Close(1001, "server shutting down; reconnect shortly")
    assert hub.subscribe(threading.Event(), limit=5) is None


def test_the_hub_hands_each_change_to_the_alert_evaluator_after_pushing_it(build):
    """With sockets open the evaluator hears changes from the hub (api/live/wiring.py): a
    failing scraper's alert reaches the socket although the evaluator's timer is an hour."""
    from tests.status_fixtures import add_runs, run
    from api.timeutil import utcnow

    runtime, hub, _ = parts(build(ALERT_EVALUATE_SECONDS=3600, ALERT_FOR_SECONDS=0,
                                  WS_HEARTBEAT_SECONDS=60))
    mailbox = hub.subscribe(threading.Event(), limit=5)
    assert json.loads(next_message(mailbox))["alerts"] == []
    add_runs(runtime.db, [run("punch", utcnow(), status="failed", error="HTTP 500")])
    runtime.notify_change()
    deadline = time.monotonic() + 15
    keys: list[str] = []
    while "scraper_failing:punch" not in keys and time.monotonic() < deadline:
        keys = [alert["key"] for alert in json.loads(next_message(mailbox))["alerts"]]
    assert "scraper_failing:punch" in keys
