"""The page layout, built per request so a link's query string sets the chart controls.

`serve_layout` runs when a browser loads the page: it reads the selection from the URL, the
page's config (dashboard/pageconfig.py, from the settings) and, when the database answers, the
current status. The status goes into the status store's initial data, so assets/pipewatch.js
draws the numbers at load (the same `render` as for every later message), without waiting for
the socket or a poll; the layout itself only draws empty shells.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Mapping

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html
from dash_extensions import WebSocket
from flask import has_request_context, request
from urllib.parse import urlsplit

from dashboard import ids
from dashboard.acting import action_dialog, operator_access, read_only_notice
from dashboard.components import GRAPH_CONFIG, panel, pill, status_card
from dashboard.history import history_panel
from dashboard.notify_panel import notify_panel
from dashboard.pageconfig import CONNECTION_STATES, STATUS_ICONS, page_config
from dashboard.rules_panel import rules_panel
from dashboard.urlstate import BUCKET_CHOICES, RANGE_LABELS, Selection, from_query

log = logging.getLogger(__name__)

SOURCE_COLUMNS = [
    ("source", "Source"), ("status", "Status"), ("last_run_at", "Last run (UTC)"),
    ("last_success_at", "Last success (UTC)"), ("runs_24h", "Runs 24 h"),
    ("failures_24h", "Failures 24 h"), ("items_24h", "Items 24 h"), ("last_error", "Last error"),
]


def _sign_out(logout_path: str) -> html.Form:
    """Shown only when reads need a token: POST /logout clears the sign-in cookie."""
    return html.Form(dbc.Button([html.I(className="bi bi-box-arrow-right me-1"), "Sign out"],
                                id=ids.SIGN_OUT, type="submit", size="sm", color="light",
                                outline=True, title="Forget this browser's sign-in"),
                     action=logout_path, method="POST", className="m-0")


def _header(logout_path: str | None = None) -> dbc.Navbar:
    connecting = CONNECTION_STATES["connecting"]
    return dbc.Navbar(dbc.Container([
        html.Div([
            html.Span([html.I(className="bi bi-activity me-2"), "pipewatch"],
                      className="navbar-brand mb-0 h1"),
            html.Span("pipeline health · times in UTC", className="navbar-text small pw-sub"),
        ], className="d-flex align-items-center"),
        html.Div([
            pill(ids.OVERALL_PILL, "Pipeline", "pending", STATUS_ICONS["pending"]),
            pill(ids.CONN_PILL, connecting["label"], connecting["status"], connecting["icon"]),
            html.Span("waiting for data", id=ids.UPDATED, className="pw-updated small"),
            dbc.Button([html.I(className="bi bi-arrow-clockwise me-1"), "Refresh"],
                       id=ids.REFRESH, size="sm", color="light", outline=True,
                       title="Fetch the status now"),
            *([_sign_out(logout_path)] if logout_path else []),
        ], className="d-flex align-items-center gap-2 flex-wrap"),
    ], fluid=True), color="dark", dark=True, className="mb-3 pw-navbar")


def _cards() -> dbc.Row:
    specs = (("scraping", "Scraping", "bi-cloud-download"),
             ("geocoding", "Geocoding success", "bi-geo-alt"),
             ("validation", "Validation pass", "bi-patch-check"))
    return dbc.Row([dbc.Col(status_card(key, title, icon), md=4, className="mb-3")
                    for key, title, icon in specs])


def _sources_table() -> dash_table.DataTable:
    # Dash 4 warns on every DataTable that it will leave the builtins one day (for dash-ag-grid);
    # it is still shipped and maintained, and the warning would repeat on every page load.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*DataTable will be removed",
                                category=DeprecationWarning)
        return _build_sources_table()


def _build_sources_table() -> dash_table.DataTable:
    return dash_table.DataTable(
        id=ids.SOURCES_TABLE,
        columns=[{"name": name, "id": key} for key, name in SOURCE_COLUMNS],
        data=[], sort_action="native", sort_mode="single", page_action="none",
        style_as_list_view=True,
        style_table={"overflowX": "auto"},
        style_header={"fontWeight": "600", "backgroundColor": "#f8f9fa"},
        style_cell={"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "fontSize": "0.875rem", "padding": "6px 10px",
                    "textAlign": "left", "maxWidth": "320px", "overflow": "hidden",
                    "textOverflow": "ellipsis"},
        style_data_conditional=[
            {"if": {"filter_query": f'{{status}} = "{status}"', "column_id": "status"},
             "color": colour, "fontWeight": "600"}
            for status, colour in (("healthy", "#146c43"), ("warning", "#997404"),
                                   ("error", "#b02a37"), ("pending", "#6c757d"))
        ] + [{"if": {"filter_query": "{failures_24h} > 0", "column_id": "failures_24h"},
              "color": "#b02a37"}],
        tooltip_duration=None,
    )


def _controls(selection: Selection, source_options: list[str]) -> dbc.Row:
    def radio(component_id, options, value):
        return dbc.RadioItems(id=component_id, options=options, value=value,
                              className="btn-group btn-group-sm", inputClassName="btn-check",
                              labelClassName="btn btn-outline-primary",
                              labelCheckedClassName="active")

    custom = selection.range == "custom"
    return dbc.Row([
        dbc.Col([html.Label("Range", className="pw-label"),
                 radio(ids.RANGE, [{"label": label, "value": value}
                                   for value, label in RANGE_LABELS.items()], selection.range)],
                xs=12, lg="auto", className="mb-2"),
        dbc.Col(html.Div([html.Label("From / to (UTC days)", className="pw-label"),
                          html.Div([
                              dcc.Input(id=ids.CUSTOM_START, type="date", debounce=True,
                                        value=selection.start.isoformat() if selection.start else None,
                                        className="form-control form-control-sm"),
                              dcc.Input(id=ids.CUSTOM_END, type="date", debounce=True,
                                        value=selection.end.isoformat() if selection.end else None,
                                        className="form-control form-control-sm")],
                              className="d-flex gap-1")],
                         id=ids.CUSTOM_BOX, style={} if custom else {"display": "none"}),
                xs=12, lg="auto", className="mb-2"),
        dbc.Col([html.Label("Sources", className="pw-label"),
                 dcc.Dropdown(id=ids.SOURCES_PICK, multi=True, placeholder="All sources",
                              options=[{"label": s, "value": s} for s in source_options],
                              value=list(selection.sources))],
                xs=12, lg=True, className="mb-2 pw-sources-col"),
        dbc.Col([html.Label("Bucket", className="pw-label"),
                 radio(ids.BUCKET, [{"label": b.capitalize(), "value": b}
                                    for b in BUCKET_CHOICES], selection.bucket)],
                xs="auto", className="mb-2"),
        dbc.Col([html.Label("\u00a0", className="pw-label d-block"),
                 dbc.Button([html.I(className="bi bi-download me-1"), "Download CSV"],
                            id=ids.DOWNLOAD_BUTTON, size="sm", color="secondary", outline=True),
                 dcc.Download(id=ids.DOWNLOAD)],
                xs="auto", className="mb-2"),
    ], className="align-items-end g-3 pw-controls")


def _trends(selection: Selection, source_options: list[str]) -> dbc.Card:
    def graph(graph_id):
        return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, className="pw-trend",
                         figure={"data": [], "layout": {"height": 300}})

    return dbc.Card([
        dbc.CardHeader(html.Div([
            html.Span([html.I(className="bi bi-graph-up me-2"), "Trends"], className="fw-semibold"),
            html.Span(id=ids.TREND_NOTE, className="pw-asof ms-auto"),
        ], className="d-flex align-items-center")),
        dbc.CardBody([
            _controls(selection, source_options),
            dcc.Loading(dbc.Row([
                dbc.Col(graph(ids.TREND_GEO), lg=6),
                dbc.Col(graph(ids.TREND_VAL), lg=6),
                dbc.Col(graph(ids.TREND_VOL), lg=12),
            ]), type="dot", delay_show=400),
            html.Div(id=ids.TREND_SHADED, className="pw-shaded small"),
        ]),
    ], className="shadow-sm mb-4")


def _source_names(status: Mapping[str, Any] | None) -> list[str]:
    if not status:
        return []
    names = {row.get("source") for row in status.get("scraping_health", {}).get("sources", [])}
    names |= {row.get("source") for row in status.get("data_quality", {}).get("by_source", [])}
    return sorted(name for name in names if name)


def data_version(status: Mapping[str, Any] | None) -> str | None:
    """Changes when a new clock hour of metrics exists (the charts and sparklines refetch then,
    and only then: they draw hourly rows, while the collector writes every few minutes).
    assets/pipewatch.js computes the same from each status message."""
    latest = ((status or {}).get("freshness") or {}).get("latest_metric_at")
    return latest[:13] if latest else None


def build_layout(selection: Selection, config: Mapping[str, Any], status: Mapping[str, Any] | None,
                 client: Mapping[str, Any]) -> html.Div:
    """The whole page for a selection, the settings, the page's config and (maybe) a first
    status document."""
    options = sorted(set(_source_names(status)) | set(selection.sources))
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        WebSocket(id=ids.WS),
        dcc.Interval(id=ids.POLL, interval=client["poll_ms"], disabled=True),
        dcc.Interval(id=ids.TICK, interval=1000),
        dcc.Store(id=ids.STATUS, data={"doc": status, "received_at": None, "via": "page"}
                  if status else None),
        dcc.Store(id=ids.CONN, data={}),
        dcc.Store(id=ids.POLL_KICK, data=0),
        dcc.Store(id=ids.POLL_RESULT),
        dcc.Store(id=ids.CONFIG, data=dict(client)),
        dcc.Store(id=ids.DATA_VERSION, data=data_version(status)),
        dcc.Store(id=ids.TREND_DATA),
        dcc.Store(id=ids.SHADING),
        dcc.Store(id=ids.ACT_TARGET),
        dcc.Store(id=ids.HISTORY_PAGE, data=0),
        dcc.Store(id=ids.ALERTS_VERSION),
        action_dialog(),
        _header(client["logout_path"] if config["PIPEWATCH_READ_TOKEN"] else None),
        dbc.Container([
            html.Div(id=ids.BANNER, className="pw-banner"),
            _cards(),
            dbc.Row([
                dbc.Col(panel(ids.HEALTH, "System health", "bi-heart-pulse", [],
                              body_id=ids.HEALTH_BODY), lg=4, className="mb-3"),
                dbc.Col(panel(ids.ISSUES, "Anomalies and alerts", "bi-exclamation-diamond", [
                    read_only_notice(client["acting"]),
                    html.Div(id=ids.ACT_FEEDBACK, role="status"),
                    html.Div(id=ids.ISSUES_BODY)]), lg=8, className="mb-3"),
            ]),
            dbc.Row(dbc.Col(panel(ids.SOURCES, "Scraping health per source", "bi-table",
                                  _sources_table()), className="mb-3")),
            rules_panel(client, options),
            _trends(selection, options),
            history_panel(),
            # Last: it fills in after the page is up, and would move everything below it.
            notify_panel(client),
            html.Footer("pipewatch · REST: /api/v1/monitoring/pipeline-status · "
                        "metrics: /metrics", className="pw-footer"),
        ], fluid=True, className="pb-4"),
    ])


def _page_query() -> str:
    """The page's own query string. Dash fetches the layout from `_dash-layout` by XHR, which
    carries no query of its own, but its Referer is the page URL (same origin)."""
    if not has_request_context():
        return ""
    if request.query_string:
        return request.query_string.decode("latin-1")
    return urlsplit(request.headers.get("Referer", "")).query


def serve_layout(app) -> html.Div:
    """The layout for the current request (Dash calls this once per page load)."""
    from api.runtime import get_runtime

    selection = from_query(_page_query())
    status = None
    runtime = get_runtime(app.server)
    config = runtime.config
    if has_request_context():
        try:
            from api.status.document import current_status

            status = current_status(runtime, caller="page")
        except Exception as exc:  # noqa: BLE001 - the page still loads; the socket/poll retry
            log.warning("first status for the page failed: %s", type(exc).__name__)
    client = page_config(config, app.config.requests_pathname_prefix,
                         app.config.routes_pathname_prefix, operator_access())
    return build_layout(selection, config, status, client)
