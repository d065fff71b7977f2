"""The "Notifications" panel: where alerts go (the receivers), what was sent and how its
delivery went (GET /api/v1/notifications), and "Send test notification" for operators
(POST /api/v1/notifications/test).

Like the rules panel (dashboard/rules_panel.py), assets/notifications.js draws and runs it
inside NOTIFY_ROOT and talks to the REST routes with the browser's own credentials: receivers
are shown as the API gives them (kind and redacted target, never a URL), every refusal as the
API words it (409 "no receiver configured: set WEBHOOK_URLS ...", 401 with the way to sign
in, 403). Whether the button is drawn is the alert buttons' decision (dashboard/acting.py's
access, made per page load by the API's own rule); the server still judges each click.

It reloads when the status shows a change a notification may announce (an alert appears,
goes, changes state or severity, or is acknowledged: NOTIFY_VERSION), every REFRESH_MS
otherwise (deliveries change state without the status changing: retries, a receiver
answering), and every PENDING_REFRESH_MS while a listed delivery is still pending; never per
heartbeat. This module decides those numbers, the words and the paths; the script formats.
"""
from __future__ import annotations

from typing import Any, Mapping

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboard import ids

NAMESPACE = "pipewatch_notify"
LIST_PATH = "api/v1/notifications"
TEST_PATH = "api/v1/notifications/test"
LIMIT = 20
"""Deliveries listed (newest first); the API serves more with ?limit=."""
REFRESH_MS = 30_000
PENDING_REFRESH_MS = 2_000
EVENT_WORDS = {"firing": "firing", "resolved": "resolved", "acknowledged": "acknowledged",
               "test": "test"}
STATE_CLASSES = {"pending": "text-bg-secondary", "delivered": "text-bg-success",
                 "failed": "text-bg-danger"}
"""How each delivery state reads: a badge with the word (never colour alone)."""


def panel_config(site_root: str, acting: Mapping[str, Any]) -> dict[str, Any]:
    """What assets/notifications.js needs for one page load (no secrets). `acting` is the page
    config's part (dashboard/acting.py): the test button follows the alert buttons."""
    allowed = bool(acting.get("allowed"))
    return {
        "root": ids.NOTIFY_ROOT,
        "list_path": site_root + LIST_PATH,
        "test_path": site_root + TEST_PATH,
        "limit": LIMIT,
        "refresh_ms": REFRESH_MS,
        "pending_refresh_ms": PENDING_REFRESH_MS,
        "may_test": allowed,
        "reason": None if allowed else acting.get("reason"),
        "sign_in": None if allowed else acting.get("sign_in"),
        "events": dict(EVENT_WORDS),
        "state_classes": dict(STATE_CLASSES),
    }


def notify_panel(client: Mapping[str, Any]) -> dbc.Row:
    """The panel's shell: a titled card around the script's root, and its config."""
    return dbc.Row(dbc.Col(html.Div(id=ids.NOTIFY, children=dbc.Card([
        dbc.CardHeader(html.Span([html.I(className="bi bi-send me-2"), "Notifications"],
                                 className="fw-semibold")),
        dbc.CardBody([
            dcc.Store(id=ids.NOTIFY_CONFIG,
                      data=panel_config(client["site_root"], client["acting"])),
            dcc.Store(id=ids.NOTIFY_VERSION),
            html.Div(id=ids.NOTIFY_ROOT, className="pw-notify"),
        ]),
    ], className="shadow-sm")), className="mb-3"))


def register(app: dash.Dash) -> None:
    """Mount the panel once (notifications.js `mount`), and reload it when the status shows a
    change worth a notification (`changed`)."""
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="mount"),
        Output(ids.NOTIFY_ROOT, "className"),
        Input(ids.NOTIFY_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="changed"),
        Output(ids.NOTIFY_VERSION, "data"),
        Input(ids.STATUS, "data"),
        [State(ids.NOTIFY_VERSION, "data"), State(ids.NOTIFY_CONFIG, "data")],
    )
