"""The page's config: every decision the browser's live code needs, made once, here.

assets/pipewatch.js formats and draws; it holds no defaults, thresholds or component ids of its
own. What it needs to decide nothing arrives in the config store (ids.CONFIG), built per page
load by `page_config` from the settings:

- the live path's timing: how long a silent socket is still trusted (it follows
  WS_HEARTBEAT_SECONDS, so a slow heartbeat never gets a healthy socket dropped), the poll
  interval, the reconnect backoff, when a page with neither socket nor poll is disconnected;
- which panel goes stale on which cadence, and after how long;
- the words and icons of statuses and connection states, and how each anomaly kind reads;
- the component ids and the props whose changes drive the state machine;
- where `render` draws (RENDER_OUTPUTS), so the page can draw the first paint into the layout
  as it arrives, before Dash runs any callback;
- whether this page may act on alerts (decided per request by the API's own rule,
  dashboard/acting.py), where the action routes are, and the silence lengths it offers.

The layout draws its shells with the same icons and connection words (STATUS_ICONS,
CONNECTION_STATES), so nothing the page shows is defined twice. docs/architecture.md
("The live path in the browser") describes the state machine these numbers drive.
"""
from __future__ import annotations

from typing import Any, Mapping

from api.http.routes import WEBSOCKET_PATH
from api.status.alerts import KIND_NAMES
from api.status.anomalies import KINDS, RATE_KINDS
from dashboard import ids
from dashboard.acting import acting_config

POLL_MS = 5000
"""Poll interval while the socket is not trusted (README: "Polling Mode every 5 s")."""
CONNECT_TIMEOUT_MS = 10000
"""A socket that has not opened after this long counts as lost."""
DISCONNECT_MS = 12000
"""Without a trusted socket and without a good poll for this long the page says Disconnected."""
BACKOFF_S = (1, 2, 4, 8, 16)
BACKOFF_CAP_S = 30
"""Reconnect delays: attempt n waits BACKOFF_S[n-1] (then the cap), +-20 % jitter."""
SILENCE_HEARTBEATS = 2
SILENCE_MARGIN_S = 5
"""A socket is trusted while its last message is at most SILENCE_HEARTBEATS heartbeats plus
SILENCE_MARGIN_S old: one late heartbeat is tolerated, two missed are not."""
REPORT_S = 30
"""A page with a socket reports its mode and the age of what it shows this often, in one small
text frame (api/live/websocket.py `PageReports`); a polling page reports on each poll."""
POLL_STALE_POLLS = 3
"""Without a trusted socket, live numbers older than this many poll intervals are stale."""
DEFAULT_METRICS_CADENCE_S = 300
"""Without an in-process collector (cron runs `collect`), metrics are expected this often."""

STATUS_ICONS = {"healthy": "bi-check-circle-fill", "warning": "bi-exclamation-triangle-fill",
                "error": "bi-x-octagon-fill", "pending": "bi-hourglass-split"}
CONNECTION_STATES = {
    "connecting": {"label": "Connecting…", "icon": "bi-arrow-repeat", "status": "pending",
                   "method": "opening WebSocket"},
    "connected": {"label": "Real-time Updates", "icon": "bi-broadcast", "status": "healthy",
                  "method": "WebSocket (push)"},
    "reconnecting": {"label": "Reconnecting…", "icon": "bi-arrow-repeat", "status": "warning",
                     "method": "none working"},
    "polling-fallback": {"label": "Polling Mode", "icon": "bi-arrow-clockwise",
                         "status": "warning",
                         "method": f"HTTP polling every {POLL_MS // 1000} s"},
    "disconnected": {"label": "Disconnected", "icon": "bi-wifi-off", "status": "error",
                     "method": "none working"},
}
"""The state machine's states as the page shows them (pill words, icon, colour, and how it
gets its data); the keys are the states assets/pipewatch.js moves between."""

LIVE, METRICS = "live", "metrics"
PANELS = (
    (ids.card("scraping", "panel"), ids.card("scraping", "asof"), LIVE),
    (ids.card("geocoding", "panel"), ids.card("geocoding", "asof"), METRICS),
    (ids.card("validation", "panel"), ids.card("validation", "asof"), METRICS),
    (ids.HEALTH, ids.asof(ids.HEALTH), LIVE),
    (ids.ISSUES, ids.asof(ids.ISSUES), LIVE),
    (ids.SOURCES, ids.asof(ids.SOURCES), LIVE),
)
"""(panel id, its "as of" text id, cadence): live panels follow the status document, metrics
panels the collector's rows. dashboard/clientside.py wires the outputs in this order."""


RENDER_OUTPUTS = (
    (ids.OVERALL_PILL, "children"), (ids.OVERALL_PILL, "className"),
    *((ids.card(key, part), "children") for key in ids.CARD_KEYS
      for part in ("value", "status", "detail")),
    (ids.SOURCES_TABLE, "data"), (ids.ISSUES_BODY, "children"),
)
"""(component id, prop) that assets/pipewatch.js `render` returns, in its order: the
clientside callback's outputs (dashboard/clientside.py), and where the first paint goes."""


def silence_ms(heartbeat_seconds: float) -> int:
    """How long a socket may stay silent and still be trusted (see SILENCE_HEARTBEATS)."""
    return round((SILENCE_HEARTBEATS * heartbeat_seconds + SILENCE_MARGIN_S) * 1000)


def metrics_stale_s(collector_seconds: int) -> int:
    """Metric rows come every collector cycle; one missed cycle (and a minute) is tolerated."""
    cadence = collector_seconds or DEFAULT_METRICS_CADENCE_S
    return 2 * cadence + 60


def site_root(requests_prefix: str, routes_prefix: str) -> str:
    """The app's root URL path as the browser sees it (Dash may be mounted under a prefix)."""
    if routes_prefix != "/" and requests_prefix.endswith(routes_prefix):
        return requests_prefix[: -len(routes_prefix)] + "/"
    return requests_prefix


def anomaly_kinds() -> dict[str, dict[str, Any]]:
    """How each anomaly kind reads: its name, and whether its values are rates (shown in %)."""
    return {kind: {"label": KIND_NAMES[kind], "percent": kind in RATE_KINDS} for kind in KINDS}


def page_config(config: Mapping[str, Any], requests_prefix: str, routes_prefix: str,
                access: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config store's data for one page load (no secrets: the browser sees all of it).
    `access` is dashboard.acting.operator_access() for this page's request (none: it may not
    act)."""
    root = site_root(requests_prefix, routes_prefix)
    return {
        "ws_path": root + WEBSOCKET_PATH.lstrip("/"),
        "logout_path": root + "logout",
        "site_root": root,
        "poll_ms": POLL_MS,
        "report_s": REPORT_S,
        "silence_ms": silence_ms(config["WS_HEARTBEAT_SECONDS"]),
        "poll_stale_ms": POLL_STALE_POLLS * POLL_MS,
        "metrics_stale_ms": metrics_stale_s(config["COLLECTOR_INTERVAL_SECONDS"]) * 1000,
        "connect_timeout_ms": CONNECT_TIMEOUT_MS,
        "disconnect_ms": DISCONNECT_MS,
        "backoff_s": list(BACKOFF_S),
        "backoff_cap_s": BACKOFF_CAP_S,
        "panels": [{"panel": panel, "asof": asof, "cadence": cadence}
                   for panel, asof, cadence in PANELS],
        "status_icons": dict(STATUS_ICONS),
        "connection_states": {state: dict(spec) for state, spec in CONNECTION_STATES.items()},
        "anomaly_kinds": anomaly_kinds(),
        "triggers": {"socket_state": f"{ids.WS}.state", "socket_message": f"{ids.WS}.message",
                     "poll_result": f"{ids.POLL_RESULT}.data", "tick": f"{ids.TICK}.n_intervals"},
        "first_paint": {"status_store": ids.STATUS,
                        "outputs": [list(output) for output in RENDER_OUTPUTS]},
        "acting": acting_config(dict(access or {"allowed": False}), root),
    }
