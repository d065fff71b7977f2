"""Every URL pipewatch serves, in one list: method, path, the view that answers, who may call it.

Read this file to find the code behind a URL in one hop. Dash adds the page (`/`) and its own
`/_dash-*` endpoints, and dashboard/static.py the vendored stylesheets; everything else is here.
Access (api/auth.py): OPEN for anyone; READ needs PIPEWATCH_READ_TOKEN when one is set (the
guard checks it before any view runs); OPERATE needs the operator credential
(PIPEWATCH_OPERATOR_TOKEN, `auth.require_operator`), checked by the guard too; OWN views apply
their own rule (writes need PIPEWATCH_INGEST_TOKEN; the WebSocket checks Origin and the read
token before the upgrade).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask

from api import auth
from api.auth import OPEN, OPERATE, OWN, READ
from api.http import (alerts, anomalies, demo_webhooks, login, metrics, monitoring,
                      notifications, openapi, probes, prometheus, rules, scrape_runs, silences,
                      sources)
from api.runtime import get_runtime
from api.live import websocket

WEBSOCKET_PATH = "/api/v1/ws/monitoring/pipeline-status"


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str
    view: Callable
    access: str = READ

    @property
    def endpoint(self) -> str:
        return f"{self.view.__module__.rpartition('.')[2]}.{self.view.__name__}"


ROUTES: tuple[Route, ...] = (
    # Probes and the API's description: for orchestrators and tools, never behind a token.
    Route(("GET",), "/healthz", probes.healthz, OPEN),
    Route(("GET",), "/readyz", probes.readyz, OPEN),
    Route(("GET",), "/api/v1/openapi.json", openapi.openapi_document, OPEN),
    # The status, as the WebSocket below pushes it.
    Route(("GET",), "/api/v1/monitoring/pipeline-status", monitoring.pipeline_status),
    # Metric rows: the export (JSON pages, CSV, NDJSON), ingest, and the charts' series.
    Route(("GET",), "/api/v1/metrics", metrics.list_metrics),
    Route(("POST",), "/api/v1/metrics", metrics.post_metrics, OWN),
    Route(("GET",), "/api/v1/metrics/series", metrics.series),
    Route(("POST",), "/api/v1/scrape-runs", scrape_runs.post_scrape_runs, OWN),
    Route(("GET",), "/api/v1/sources", sources.list_sources),
    Route(("GET",), "/api/v1/alerts", alerts.list_alerts),
    Route(("GET",), "/api/v1/alerts/events", alerts.list_events),
    Route(("POST",), "/api/v1/alerts/<alert_id>/ack", alerts.acknowledge, OPERATE),
    Route(("DELETE",), "/api/v1/alerts/<alert_id>/ack", alerts.unacknowledge, OPERATE),
    Route(("GET",), "/api/v1/silences", silences.list_silences),
    Route(("POST",), "/api/v1/silences", silences.create_silence, OPERATE),
    Route(("DELETE",), "/api/v1/silences/<silence_id>", silences.expire_silence, OPERATE),
    Route(("GET",), "/api/v1/rules", rules.get_rules),
    Route(("PUT",), "/api/v1/rules", rules.put_rules, OPERATE),
    Route(("GET",), "/api/v1/rules/changes", rules.list_changes),
    Route(("GET",), "/api/v1/anomalies", anomalies.list_anomalies),
    # Notifications out: the delivery log, and a test through every receiver.
    Route(("GET",), "/api/v1/notifications", notifications.list_notifications),
    Route(("POST",), "/api/v1/notifications/test", notifications.send_test, OPERATE),
    # pipewatch's own counters, for Prometheus.
    Route(("GET",), "/metrics", prometheus.metrics),
    # Signing in with the read token, for browsers.
    Route(("GET", "POST"), auth.LOGIN_PATH, login.login, OPEN),
    Route(("POST",), "/logout", login.logout, OPEN),
)

DEMO_ROUTES: tuple[Route, ...] = (
    # The demo's built-in webhook receiver: only with DEMO_RECEIVER on (`python app.py demo`
    # with no receiver configured), never in `serve`. POST checks the webhook's signature.
    Route(("POST",), "/api/v1/demo/webhooks", demo_webhooks.receive_webhook, OWN),
    Route(("GET",), "/api/v1/demo/webhooks", demo_webhooks.list_webhooks),
)


def register_routes(server: Flask) -> None:
    """Add every route above, and the WebSocket, to `server`, each with its access rule; the
    demo's receiver only when DEMO_RECEIVER is on."""
    demo = get_runtime(server).config["DEMO_RECEIVER"]
    if demo:
        demo_webhooks.init_app(server)
    for route in ROUTES + (DEMO_ROUTES if demo else ()):
        server.add_url_rule(route.path, endpoint=route.endpoint, view_func=route.view,
                            methods=list(route.methods))
        auth.set_access(server, route.endpoint, route.access)
    socket = websocket.blueprint(WEBSOCKET_PATH)
    server.register_blueprint(socket)
    auth.set_access(server, f"{socket.name}.{websocket.pipeline_status_socket.__name__}", OWN)
