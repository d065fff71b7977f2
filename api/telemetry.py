"""pipewatch counting itself: sockets, messages, computations, polls, reconnections.

Each app has its own Prometheus registry (many apps live in one test process), exposed at
`GET /metrics` in the Prometheus text format.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
