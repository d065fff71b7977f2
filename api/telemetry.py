"""pipewatch counting itself: sockets, messages, computations, polls, reconnections,
notifications, delivery latency and what pages report.

Each app has its own Prometheus registry (many apps live in one test process), exposed at
`GET /metrics` (api/http/prometheus.py) in the Prometheus text format.

Under gunicorn (api/serving.py) prometheus-client runs in its multiprocess mode: every worker
writes its values to files in PROMETHEUS_MULTIPROC_DIR, and `/metrics`, whichever worker
answers, reads them all (`exposition_registry`), so one scrape sees the whole server. That mode
is chosen when prometheus_client is first imported, from the environment: the gunicorn master
sets the variable before it forks a worker. Each gauge says how its workers' values combine
(`multiprocess_mode`; "live" modes forget a worker once it has exited).
"""
from __future__ import annotations

import math
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client import multiprocess, values

# `*_created` timestamps double the page and tell an operator nothing they need.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

PAGE_MODES = ("socket", "polling")
"""How a page gets its status: its WebSocket, or HTTP polls (reconnecting, polling fallback)."""


def multiprocess_mode() -> bool:
    """True when prometheus-client writes values to PROMETHEUS_MULTIPROC_DIR (see module doc).

    Both must hold: the variable set, and set before prometheus_client was imported (its value
    class is chosen then); a variable set later would make `/metrics` read files nobody writes.
    """
    return bool(os.environ.get(MULTIPROC_ENV)) and values.ValueClass is not values.MutexValue


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ws_open = Gauge("pipewatch_ws_open", "WebSocket connections open now", registry=r,
                             multiprocess_mode="livesum")
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
        self.status_seq = Gauge("pipewatch_status_seq",
                                "seq of the last status broadcast (the highest of any worker)",
                                registry=r, multiprocess_mode="livemax")
        self.change_events = Counter(
            "pipewatch_change_events",
            "Changes heard from other processes by the change feed", ["source"], registry=r)
        self.changefeed_connected = Gauge(
            "pipewatch_changefeed_connected",
            "1 while the change feed watches the database (LISTEN or data_version); with several "
            "workers, how many do (a worker starts its feed with its first socket)", registry=r,
            multiprocess_mode="livesum")
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
        self.delivery_seconds = Histogram(
            "pipewatch_delivery_seconds",
            "From a change being heard (the writer's commit, or the change feed's notification) "
            "to its status frame written to a socket, one observation per socket",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r)
        self.page_seconds = Counter(
            "pipewatch_page_seconds",
            "Page-seconds by how the page gets its status (socket, polling), from the pages' "
            "reports: rate() of it is the number of open pages in each mode", ["mode"],
            registry=r)
        self.page_data_age = Histogram(
            "pipewatch_page_data_age_seconds",
            "Age of the status a page shows when it reports (server time minus the document's "
            "timestamp), by mode", ["mode"],
            buckets=(0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60, 120, 300, 900, 3600), registry=r)
        self._exposition = None

    @property
    def exposition_registry(self) -> CollectorRegistry:
        """What `/metrics` shows: this app's registry, or every worker's files (module doc)."""
        if not multiprocess_mode():
            return self.registry
        if self._exposition is None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            self._exposition = registry
        return self._exposition

    def page_report(self, mode: str, seconds: float, data_age: float | None) -> None:
        """A page's report: `seconds` spent in `mode` since its last one, and its data's age.

        `mode` is one of PAGE_MODES (chosen by the channel the report came on, never free text
        from the page); an age that is not a finite number >= 0 is not observed.
        """
        if mode not in PAGE_MODES:
            raise ValueError(f"unknown page mode {mode!r}")
        if seconds > 0:
            self.page_seconds.labels(mode).inc(seconds)
        if data_age is not None and math.isfinite(data_age) and data_age >= 0:
            self.page_data_age.labels(mode).observe(data_age)

