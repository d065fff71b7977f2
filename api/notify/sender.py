"""The sender: one worker per receiver per process delivers the outbox, off the request path,
to webhooks (signed JSON), Alertmanagers (v2 alerts) and apprise (one line, api/notify/chat.py).

Why one worker per receiver: a receiver that hangs until NOTIFY_TIMEOUT_SECONDS, or is down
and being retried, holds only its own worker; the status push (the hub) and every other
receiver go on. Each worker claims its receiver's due rows under a lease
(api/storage/outbox.py claim: the database's sender lock makes claims of all processes take
turns), so with several processes or hosts each row is sent by one of them, and only the oldest
unfinished row of an alert is claimable, so each alert's notifications arrive in order. A
process killed mid-delivery leaves its rows leased; they are claimed again when the lease
passes and sent with the same `id` (at least once; receivers de-duplicate).

Outcomes (api/notify/delivery.py): accepted -> `delivered`; 5xx, timeouts, refused -> retried
after NOTIFY_RETRY_SECONDS doubling each time (plus up to 50% jitter, at most 300 s), until
NOTIFY_MAX_ATTEMPTS, then `failed` with the error; other 4xx -> `failed` at once.

Under gunicorn's gevent worker the threads are greenlets: the HTTP calls and PostgreSQL yield,
SQLite's lock waits are cooperative (api/storage/sqlite_locks.py), and the claims and records
are single short statements.

Alertmanager workers also post every firing, unsilenced alert each ALERTMANAGER_RESEND_SECONDS,
valid for four times that long (like Prometheus), so a restarted Alertmanager learns them again
and one that stops hearing from pipewatch resolves them by itself. A resend runs on the same
worker as that receiver's outbox, so it never overtakes a `resolved` already taken from it.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta

from api.errors import DATABASE_UNAVAILABLE
from api.notify import delivery, payloads
from api.notify.chat import Chat
from api.notify.signing import HEADER, signature
from api.receivers import ALERTMANAGER, APPRISE, WEBHOOK, Receiver, receivers_of
from api.runtime import Runtime, report_thread_error
from api.status.lifecycle import shown
from api.storage import alert_store, outbox
from api.storage.silence_store import active_silences
from api.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 300.0
PRUNE_EVERY_SECONDS = 3600.0
"""How often each receiver's worker deletes its notifications past NOTIFY_RETENTION_DAYS."""
LEASE_MARGIN_SECONDS = 5.0
"""A claimed row is held for NOTIFY_TIMEOUT_SECONDS plus this: long enough for its one
attempt and the write of its outcome; a sender that died holding it frees it this soon."""


def backoff(attempts: int, base: float) -> float:
    """Seconds before attempt `attempts + 1`: base, 2 base, 4 base... at most 300 s, each
    with up to 50% random jitter so receivers recovering are not hit by every sender at once."""
    delay = min(MAX_RETRY_SECONDS, base * 2 ** max(0, attempts - 1))
    return delay * (1 + random.uniform(0, 0.5))


class Sender:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        config = runtime.config
        self._config = config
        self.receivers = receivers_of(config)
        self._wakes = {receiver.name: threading.Event() for receiver in self.receivers}
        self._poll = config["NOTIFY_POLL_SECONDS"]
        self._timeout = config["NOTIFY_TIMEOUT_SECONDS"]
        self._resend = config["ALERTMANAGER_RESEND_SECONDS"]
        self._resent_at: dict[str, float] = {}
        self._pruned_at: dict[str, float] = {}
        self._chat = Chat(receiver for receiver in self.receivers if receiver.kind == APPRISE)

    def notify(self) -> None:
        """New rows may be due (a commit in this process); cheap, from any thread."""
        for wake in self._wakes.values():
            wake.set()

    def start(self) -> None:
        """One worker per receiver, when there are receivers and NOTIFY_POLL_SECONDS > 0."""
        if self._poll <= 0 or not self.receivers:
            return
        self._runtime.on_close(self.notify)  # wake them to see `stopping`
        for receiver in self.receivers:
            self._runtime.start_worker(f"notify-{receiver.kind}",
                                       lambda receiver=receiver: self._run(receiver))

    def _run(self, receiver: Receiver) -> None:
        stopping = self._runtime.stopping
        wake = self._wakes[receiver.name]
        while not stopping.is_set():
            wake.clear()
            sent = 0
            try:
                if receiver.kind == ALERTMANAGER:
                    self._resend_if_due(receiver)
                self._prune_if_due(receiver)
                sent = self.run_once(receiver)
            except DATABASE_UNAVAILABLE as exc:
                log.warning("notification sender for %s: database unavailable (%s); retrying",
                            receiver.target, type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - reported; the next cycle runs
                report_thread_error(exc)
            if not sent:
                wake.wait(self._poll)

    def run_once(self, receiver: Receiver) -> int:
        """Claim and deliver the receiver's next due row; how many were attempted (0 or 1).
        One row per claim keeps each lease as short as one attempt."""
        now = utcnow()
        lease = timedelta(seconds=self._timeout + LEASE_MARGIN_SECONDS)
        with self._runtime.db.session() as session:
            claimed = outbox.claim(session, receiver.name, now, now + lease, limit=1)
        for item in claimed:
            self._deliver(receiver, item)
        return len(claimed)

    def _deliver(self, receiver: Receiver, item: outbox.Claimed) -> None:
        now = utcnow()
        link = payloads.dashboard_url(self._config, item.alert, item.created_at)
        if receiver.kind == APPRISE:
            title, line = payloads.chat_line(item.event, item.alert, link)
            self._record(receiver, item, self._chat.send(receiver, title, line))
            return
        if receiver.kind == WEBHOOK:
            body = json.dumps(payloads.webhook_body(item.uid, item.event, item.alert, now, link),
                              separators=(",", ":")).encode("utf-8")
            secret = self._config["WEBHOOK_SECRET"]
            headers = {HEADER: signature(secret, body, int(time.time()))} if secret else {}
            url = receiver.url
        else:
            alert = payloads.alertmanager_alert(item.alert, link, now,
                                                timedelta(seconds=4 * self._resend))
            body = json.dumps([alert]).encode("utf-8")
            headers = {}
            url = alertmanager_endpoint(receiver)
        outcome = delivery.post(url, body, headers, self._timeout)
        self._record(receiver, item, outcome)

    def _record(self, receiver: Receiver, item: outbox.Claimed,
                outcome: delivery.Outcome) -> None:
        now = utcnow()
        attempts = item.attempts + 1
        telemetry = self._runtime.telemetry
        state, next_at, delivered_at = outcome.result, None, None
        if outcome.result == "delivered":
            delivered_at = now
            telemetry.notifications_sent.labels(receiver.kind).inc()
            telemetry.notification_latency.labels(receiver.kind).observe(
                max(0.0, (now - item.created_at).total_seconds()))
        elif outcome.result == "retry" and attempts < self._config["NOTIFY_MAX_ATTEMPTS"]:
            state = "pending"
            next_at = now + timedelta(seconds=backoff(attempts,
                                                      self._config["NOTIFY_RETRY_SECONDS"]))
            telemetry.notifications_retried.labels(receiver.kind).inc()
            log.info("notification %s to %s: %s; attempt %d, retrying", item.uid,
                     receiver.target, outcome.error, attempts)
        else:
            state = "failed"
            telemetry.notifications_failed.labels(receiver.kind).inc()
            log.warning("notification %s to %s failed after %d attempt(s): %s", item.uid,
                        receiver.target, attempts, outcome.error)
        with self._runtime.db.session() as session:
            outbox.record(session, item.id, state=state, attempts=attempts,
                          status=outcome.status, error=outcome.error,
                          next_attempt_at=next_at, delivered_at=delivered_at)

    def _prune_if_due(self, receiver: Receiver) -> None:
        last = self._pruned_at.get(receiver.name)
        if last is not None and time.monotonic() - last < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at[receiver.name] = time.monotonic()
        self.prune(receiver)

    def prune(self, receiver: Receiver) -> int:
        """Delete the receiver's finished notifications older than NOTIFY_RETENTION_DAYS."""
        before = utcnow() - timedelta(days=self._config["NOTIFY_RETENTION_DAYS"])
        with self._runtime.db.session() as session:
            return outbox.prune(session, receiver.name, before)

    def _resend_if_due(self, receiver: Receiver) -> None:
        last = self._resent_at.get(receiver.name)
        if last is not None and time.monotonic() - last < self._resend:
            return
        self._resent_at[receiver.name] = time.monotonic()
        self.resend(receiver)

    def resend(self, receiver: Receiver) -> bool:
        """Post every firing, unsilenced alert to the Alertmanager (an empty list when there
        is none: it still tells whether the Alertmanager answers); True when it took them."""
        now = utcnow()
        with self._runtime.db.session() as session:
            alerts = [alert for alert in shown([], alert_store.open_occurrences(session),
                                               active_silences(session, now))
                      if alert["state"] == "firing" and alert["silenced"] is None]
        valid = timedelta(seconds=4 * self._resend)
        body = json.dumps([payloads.alertmanager_alert(
            alert, payloads.dashboard_url(self._config, alert, now), now, valid)
            for alert in alerts]).encode("utf-8")
        outcome = delivery.post(alertmanager_endpoint(receiver), body, {}, self._timeout)
        accepted = outcome.result == "delivered"
        self._runtime.telemetry.alertmanager_resends.labels(
            "accepted" if accepted else "failed").inc()
        if not accepted:
            log.warning("re-sending %d firing alert(s) to %s: %s", len(alerts), receiver.target,
                        outcome.error)
        return accepted


def alertmanager_endpoint(receiver: Receiver) -> str:
    return receiver.url.rstrip("/") + "/api/v2/alerts"


def enqueue_test(runtime: Runtime, now: datetime) -> list[str]:
    """Write a `test` notification for every receiver; their uids (the caller wakes the
    sender)."""
    alert = payloads.test_alert(now)
    with runtime.db.session() as session:
        return [outbox.enqueue(session, occurrence_id=None, event="test",
                               receiver=receiver.name, kind=receiver.kind,
                               target=receiver.target, alert=alert, now=now)
                for receiver in receivers_of(runtime.config)]
