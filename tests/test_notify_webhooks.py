"""Webhooks, end to end on both databases: a transition written by the evaluator (or an ack
through the API) reaches a real local HTTP receiver as one signed POST, in order, retried on
5xx and refused connections, given up on 4xx, never for silenced alerts, and a receiver that
hangs holds up nobody else."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.notify.signing import HEADER, verify
from api.schemas.notifications import Deliveries, WebhookNotification
from api.storage import outbox
from api.storage.silence_store import create_silence
from tests.notify_fixtures import HttpReceiver, wait_until
from tests.status_fixtures import NOW, add_metrics, evaluate_alerts, metric

SECRET = "whsec-test-5521"
OPERATOR = "operator-token-4410"
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
KEY = "quality:geocoding_success_rate"
FAST = {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0, "NOTIFY_POLL_SECONDS": 0.05,
        "NOTIFY_RETRY_SECONDS": 0.05, "NOTIFY_TIMEOUT_SECONDS": 1.0,
        "PIPEWATCH_OPERATOR_TOKEN": OPERATOR}


@pytest.fixture
def receivers():
    made: list[HttpReceiver] = []

    def make(**kwargs) -> HttpReceiver:
        made.append(HttpReceiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


def operator(**extra):
    return {"headers": {"Authorization": f"Bearer {OPERATOR}"}, "environ_base": REMOTE, **extra}


def set_rate(runtime, moment, good: bool) -> None:
    add_metrics(runtime.db, [metric(moment, "aggregate", geo=(100, 99 if good else 80),
                                    val=(100, 100), window_seconds=86400)])


def transition(runtime, moment, good: bool) -> None:
    """New data, one evaluation (what the app's evaluator does on a change), the sender woken."""
    set_rate(runtime, moment, good)
    evaluate_alerts(runtime.db, moment, runtime.config)
    runtime.notify_change()


def alert_id(runtime) -> int:
    from api.storage.alert_store import open_occurrences

    with runtime.db.session() as session:
        return next(item.id for item in open_occurrences(session) if item.key == KEY)


def test_one_signed_post_per_transition_in_order(make_app, receivers):
    hook = receivers()
    app = make_app(WEBHOOK_URLS=(hook.url,), WEBHOOK_SECRET=SECRET, **FAST)
    runtime = app.server.extensions["pipewatch"]
    client = app.server.test_client()
    transition(runtime, NOW, good=False)  # fires at once (ALERT_FOR_SECONDS 0)
    wait_until(lambda: len(hook.received) == 1, message="the firing webhook")
    acked = client.post(f"/api/v1/alerts/{alert_id(runtime)}/ack", json={"by": "amina"},
                        **operator())
    assert acked.status_code == 200
    wait_until(lambda: len(hook.received) == 2, message="the acknowledged webhook")
    transition(runtime, NOW + timedelta(minutes=1), good=True)  # resolves (keep_firing 0)
    wait_until(lambda: len(hook.received) == 3, message="the resolved webhook")
    evaluate_alerts(runtime.db, NOW + timedelta(minutes=2), runtime.config)  # nothing new
    runtime.notify_change()

    bodies = []
    for item in hook.received:
        assert verify(SECRET, item.body, item.headers[HEADER])
        assert not verify("another-secret", item.body, item.headers[HEADER])
        assert item.headers["Content-Type"] == "application/json"
        bodies.append(WebhookNotification.model_validate_json(item.body, strict=True))
    assert [body.event for body in bodies] == ["firing", "acknowledged", "resolved"]
    assert len({body.id for body in bodies}) == 3
    assert {body.alert.key for body in bodies} == {KEY}
    assert bodies[1].alert.ack.by == "amina" and bodies[2].alert.state == "resolved"
    assert bodies[0].url.startswith("http://127.0.0.1:8050/?range=custom&start=2026-11-")
    # Exactly once: nothing more arrives (the sender polls every 50 ms).
    listed = Deliveries.model_validate_json(
        client.get("/api/v1/notifications").get_data(as_text=True))
    assert [(item.event, item.state, item.attempts) for item in listed.items] == [
        ("resolved", "delivered", 1), ("acknowledged", "delivered", 1),
        ("firing", "delivered", 1)]
    assert len(hook.received) == 3


def test_signature_is_over_timestamp_and_raw_body(make_app, receivers):
    """What the README's five lines compute, by hand."""
    import hashlib
    import hmac

    hook = receivers()
    app = make_app(WEBHOOK_URLS=(hook.url,), WEBHOOK_SECRET=SECRET, **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(hook.received) == 1)
    item = hook.received[0]
    t, v1 = (part.split("=", 1)[1] for part in item.headers[HEADER].split(","))
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + item.body, hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), v1)


def test_the_readmes_five_lines_verify_a_real_webhook(make_app, receivers):
    """The verification snippet of README "Notifications", run as a receiver would."""
    import re

    from api.settings import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    snippet = re.search(r"refuse an old `t`:\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert len(snippet.strip().splitlines()) == 5
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - our own documentation
    hook = receivers()
    app = make_app(WEBHOOK_URLS=(hook.url,), WEBHOOK_SECRET=SECRET, **FAST)
    transition(app.server.extensions["pipewatch"], NOW, good=False)
    wait_until(lambda: len(hook.received) == 1)
    item = hook.received[0]
    assert scope["verify"](SECRET, item.body, item.headers[HEADER])
    assert not scope["verify"](SECRET, item.body + b" ", item.headers[HEADER])
    assert not scope["verify"]("wrong", item.body, item.headers[HEADER])


def test_silenced_alerts_are_not_notified(make_app, receivers):
    hook = receivers()
    app = make_app(WEBHOOK_URLS=(hook.url,), **FAST)
    runtime = app.server.extensions["pipewatch"]
    with runtime.db.session() as session:
        create_silence(session, {"kind": "quality", "starts_at": NOW - timedelta(hours=1),
                                 "ends_at": NOW + timedelta(hours=1), "created_by": "amina",
                                 "comment": "planned", "created_at": NOW})
    transition(runtime, NOW, good=False)
    with runtime.db.session() as session:
        assert outbox.recent(session, 10) == []
    assert alert_id(runtime) >= 1  # the alert is there, only not notified


def test_503_twice_then_200_is_delivered_on_the_third_attempt(make_app, receivers):
    hook = receivers(answers=[503, 503])
    app = make_app(WEBHOOK_URLS=(hook.url,), WEBHOOK_SECRET=SECRET, **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(hook.received) == 3, message="three attempts")
    ids = {item.json()["id"] for item in hook.received}
    assert len(ids) == 1  # the same notification each time: receivers de-duplicate by it
    wait_until(lambda: _deliveries(app)[0]["state"] == "delivered")
    (row,) = _deliveries(app)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (3, 200, None)
    metrics = app.server.test_client().get("/metrics").get_data(as_text=True)
    assert 'pipewatch_notifications_retried_total{kind="webhook"} 2.0' in metrics
    assert 'pipewatch_notifications_sent_total{kind="webhook"} 1.0' in metrics


def test_4xx_is_not_retried(make_app, receivers):
    hook = receivers(answers=[400])
    app = make_app(WEBHOOK_URLS=(hook.url,), **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: _deliveries(app)[0]["state"] == "failed", message="failed")
    (row,) = _deliveries(app)
    assert row["attempts"] == 1 and row["last_status"] == 400
    assert row["last_error"].startswith("HTTP 400")
    assert len(hook.received) == 1


def test_a_receiver_down_is_retried_then_failed_without_leaking_its_url(make_app, receivers,
                                                                          caplog):
    import logging

    from tests.live_fixtures import free_port

    caplog.set_level(logging.INFO, logger="api.notify")

    down = f"http://127.0.0.1:{free_port()}/hooks/T0KEN-SECRET-PATH?key=QUERYSECRET"
    app = make_app(WEBHOOK_URLS=(down,), NOTIFY_MAX_ATTEMPTS=3, **FAST)
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: _deliveries(app)[0]["state"] == "failed", message="given up")
    (row,) = _deliveries(app)
    assert (row["attempts"], row["last_error"]) == (3, "connection refused")
    client = app.server.test_client()
    shown = client.get("/api/v1/notifications").get_data(as_text=True) + \
        client.get("/metrics").get_data(as_text=True)
    assert "T0KEN" not in shown and "QUERYSECRET" not in shown
    logged = [record.getMessage() for record in caplog.records]
    assert any("connection refused" in line for line in logged)
    assert not any("T0KEN" in line or "QUERYSECRET" in line for line in logged)
    assert row["receiver"].startswith("webhook http://127.0.0.1:")


def test_a_hanging_receiver_delays_no_other_receiver(make_app, receivers):
    hanging = receivers(answers=[("hang", 30)])
    fast = receivers()
    app = make_app(WEBHOOK_URLS=(hanging.url, fast.url), **{**FAST,
                                                            "NOTIFY_TIMEOUT_SECONDS": 20.0})
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(hanging.received) == 1 and len(fast.received) == 1,
               message="both receivers reached")
    # The hanging one has not answered; the other was delivered meanwhile, and the API answers.
    states = {row["receiver"].rsplit(":", 1)[1]: row["state"] for row in _deliveries(app)}
    assert states == {str(hanging.port): "pending", str(fast.port): "delivered"}
    client = app.server.test_client()
    assert client.get("/api/v1/monitoring/pipeline-status").status_code == 200


def test_a_retried_alert_keeps_its_order(make_app, receivers):
    """firing got 503, resolved was written meanwhile: resolved waits for firing."""
    hook = receivers(answers=[503])
    app = make_app(WEBHOOK_URLS=(hook.url,), **{**FAST, "NOTIFY_RETRY_SECONDS": 0.5})
    runtime = app.server.extensions["pipewatch"]
    transition(runtime, NOW, good=False)
    wait_until(lambda: len(hook.received) == 1)
    transition(runtime, NOW + timedelta(minutes=1), good=True)
    wait_until(lambda: len(hook.received) == 3, message="retry and resolved")
    assert [item.json()["event"] for item in hook.received] == ["firing", "firing", "resolved"]


def test_a_sender_killed_mid_delivery_leaves_the_row_to_be_sent_again(database):
    """A claim is a lease: past it, the same row (same uid) is claimable again."""
    with database.session() as session:
        uid = outbox.enqueue(session, occurrence_id=None, event="test", receiver="webhook:x",
                             kind="webhook", target="webhook http://h", alert={"key": "k"},
                             now=NOW)
    with database.session() as session:
        (first,) = outbox.claim(session, "webhook:x", NOW, NOW + timedelta(seconds=60))
    with database.session() as session:  # another sender, while the lease holds
        assert outbox.claim(session, "webhook:x", NOW + timedelta(seconds=30),
                            NOW + timedelta(seconds=90)) == []
    with database.session() as session:  # the first one died; its lease passed
        (again,) = outbox.claim(session, "webhook:x", NOW + timedelta(seconds=61),
                                NOW + timedelta(seconds=120))
    assert first.uid == again.uid == uid


def _deliveries(app) -> list[dict]:
    response = app.server.test_client().get("/api/v1/notifications")
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))["items"]


def test_the_built_in_receiver_prints_what_the_demo_sends(make_sqlite_app):
    """`python app.py receive-webhooks`: the demo's receiver, with no outside service."""
    import subprocess
    import sys

    from api.settings import REPO_ROOT
    from tests.live_fixtures import free_port

    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "app.py", "receive-webhooks", "--port",
                                str(port)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert "receiving webhooks on" in process.stdout.readline()
        app = make_sqlite_app(WEBHOOK_URLS=(f"http://127.0.0.1:{port}/",),
                              WEBHOOK_SECRET=SECRET, **FAST)
        client = app.server.test_client()
        assert client.post("/api/v1/notifications/test", **operator()).status_code == 202
        line = process.stdout.readline()
        assert line.startswith("test warning test:notification: pipewatch test notification")
        assert line.rstrip().endswith("signature ok")
        wait_until(lambda: _deliveries(app)[0]["state"] == "delivered")
    finally:
        process.terminate()
        process.wait(10)


def test_only_an_operator_may_send_a_test(make_app, receivers):
    hook = receivers()
    app = make_app(WEBHOOK_URLS=(hook.url,), PIPEWATCH_READ_TOKEN="reader-1", **FAST)
    client = app.server.test_client()
    reader = {"headers": {"Authorization": "Bearer reader-1"}, "environ_base": REMOTE}
    assert client.post("/api/v1/notifications/test", environ_base=REMOTE).status_code == 401
    assert client.post("/api/v1/notifications/test", **reader).status_code == 403
    assert client.get("/api/v1/notifications", **reader).status_code == 200
    assert client.get("/api/v1/notifications", environ_base=REMOTE).status_code == 401
    assert client.post("/api/v1/notifications/test", **operator()).status_code == 202
    wait_until(lambda: len(hook.received) == 1)
    assert hook.received[0].json()["event"] == "test"


def test_the_delivery_log_keeps_finished_rows_for_the_retention_only(database):
    """Pruning deletes delivered and failed rows past NOTIFY_RETENTION_DAYS, never pending
    ones, and only the given receiver's."""
    from api.notify.sender import Sender
    from api.receivers import Receiver
    from api.runtime import Runtime
    from api.timeutil import utcnow
    from tests.status_fixtures import config

    hook = Receiver("webhook", "http://127.0.0.1:9/")
    other = Receiver("webhook", "http://127.0.0.1:10/")
    old, recent = utcnow() - timedelta(days=31), utcnow() - timedelta(days=29)
    rows = {}
    with database.session() as session:
        for label, receiver, created, state in (
                ("old-delivered", hook, old, "delivered"), ("old-failed", hook, old, "failed"),
                ("old-pending", hook, old, "pending"), ("recent", hook, recent, "delivered"),
                ("other", other, old, "delivered")):
            rows[label] = outbox.enqueue(session, occurrence_id=None, event="test",
                                         receiver=receiver.name, kind="webhook",
                                         target=receiver.target, alert={"key": "k"},
                                         now=created)
        for label in ("old-delivered", "old-failed", "recent", "other"):
            (row,) = outbox.by_uids(session, [rows[label]])
            outbox.record(session, row.id, state="failed" if "failed" in label else "delivered",
                          attempts=1, status=200, error=None, next_attempt_at=None,
                          delivered_at=None)
    runtime = Runtime(config(WEBHOOK_URLS=(hook.url, other.url), NOTIFY_RETENTION_DAYS=30),
                      database)
    assert Sender(runtime).prune(hook) == 2
    with database.session() as session:
        left = {row.uid for row in outbox.recent(session, 10)}
    assert left == {rows["old-pending"], rows["recent"], rows["other"]}


def test_a_malformed_signature_header_is_refused_not_an_error():
    """A receiver (the demo's, `receive-webhooks`) asks `verify`: a header without a usable
    time is simply not a valid signature."""
    from api.notify.signing import signature

    body = b'{"id":"x"}'
    good = signature(SECRET, body, 1_700_000_000)
    assert verify(SECRET, body, good)
    for header in ("", "v1=abc", "t=soon,v1=abc", "t=-5,v1=abc", good.replace("t=", "t=x")):
        assert verify(SECRET, body, header) is False
