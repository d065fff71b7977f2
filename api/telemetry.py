"""pipewatch counting itself: sockets, messages, computations, polls, reconnections,
notifications.

Each app has its own Prometheus registry (many apps live in one test process), exposed at
`GET /metrics` (api/http/prometheus.py) in the Prometheus text format. Counters are per process:
with several gunicorn workers, scrape each worker (one port each) or sum what you get over time.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# `*_created` timestamps double the page and tell an operator nothing they need.
disable_created_metrics()


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ws_open = Gauge("pipewatch_ws_open", "WebSocket connections open now", registry=r)
        self.ws_opened = Counter("pipewatch_ws_opened", "WebSocket connections ever accepted",
                                 registry=r)
        self.ws_refused = Counter("pipewatch_ws_refused", "WebSocket handshakes refused",
                                  ["reason"], registry=r)
        self.ws_messages = Counter("pipewatch_ws_messages_sent", "Status messages sent on sockets",
                                   registry=r)
        self.ws_reconnects = Counter("pipewatch_ws_reconnects",
                                     "Sockets opened by a browser's reconnect attempt (?attempt=N>0)",
                                     registry=r)
        self.status_computations = Counter("pipewatch_status_computations",
                                           "Times pipeline_status was computed", ["caller"],
                                           registry=r)
        self.broadcast_seconds = Histogram(
            "pipewatch_broadcast_seconds", "Time to compute, serialise and hand out one broadcast",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r)
        self.polls = Counter("pipewatch_polls", "Status polls served to pages in polling mode",
                             registry=r)
        self.broadcasts = Counter(
            "pipewatch_broadcasts",
            "Hub recomputations by outcome: change (sent), heartbeat (sent unchanged), "
            "unchanged (not sent)", ["reason"], registry=r)
        self.broadcast_failures = Counter(
            "pipewatch_broadcast_failures",
            "Hub recomputations that failed (sockets were closed with 1011)", registry=r)
        self.mailbox_overwrites = Counter(
            "pipewatch_ws_mailbox_overwrites",
            "Messages replaced in a socket's mailbox before it was sent (slow readers)",
            registry=r)
        self.status_seq = Gauge("pipewatch_status_seq", "seq of the last status broadcast",
                                registry=r)
        self.change_events = Counter(
            "pipewatch_change_events",
            "Changes heard from other processes by the change feed", ["source"], registry=r)
        self.changefeed_connected = Gauge(
            "pipewatch_changefeed_connected",
            "1 while the change feed watches the database (LISTEN or data_version)", registry=r)
        self.auth_failures = Counter(
            "pipewatch_auth_failures",
            "Wrong tokens presented, by kind: read (bearer), write (bearer), operator (bearer), "
            "sign_in (/login)",
            ["kind"], registry=r)
        self.auth_throttled = Counter(
            "pipewatch_auth_throttled",
            "Attempts refused with 429 because their address failed too often, by kind",
            ["kind"], registry=r)
        self.notifications_sent = Counter(
            "pipewatch_notifications_sent", "Notifications a receiver accepted, by receiver kind",
            ["kind"], registry=r)
        self.notifications_failed = Counter(
            "pipewatch_notifications_failed",
            "Notifications given up on (a 4xx, or NOTIFY_MAX_ATTEMPTS used), by receiver kind",
            ["kind"], registry=r)
        self.notifications_retried = Counter(
            "pipewatch_notifications_retried",
            "Failed attempts that will be retried (5xx, timeouts, refused), by receiver kind",
            ["kind"], registry=r)
        self.notification_latency = Histogram(
            "pipewatch_notification_latency_seconds",
            "From the transition (the outbox row's writing) to the receiver accepting it",
            ["kind"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r)
        self.alertmanager_resends = Counter(
            "pipewatch_alertmanager_resends",
            "Posts of every firing alert to an Alertmanager (ALERTMANAGER_RESEND_SECONDS), by "
            "outcome", ["outcome"], registry=r)
        self.changefeed_reconnects = Counter(
            "pipewatch_changefeed_reconnects", "Times the change feed lost its database",
            registry=r)

