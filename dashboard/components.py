"""Static building blocks of the page: pills, status cards and panels, ids wired in.

They render empty shells: what goes inside comes from the status store, filled in the browser
by the clientside callbacks in assets/pipewatch.js, the one definition of how a status looks:
the first paint too is drawn there, from the document the layout puts in the store.
"""
from __future__ import annotations


import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.pageconfig import STATUS_ICONS

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["lasso2d", "select2d"],
                "toImageButtonOptions": {"format": "png", "scale": 2}}


def stale_mark() -> html.Span:
    """Shown only while the panel around it is stale (CSS: .pw-stale .pw-stale-mark)."""
    return html.Span([html.I(className="bi bi-clock-history me-1"), "stale"],
                     className="badge text-bg-secondary pw-stale-mark ms-2",
                     title="This panel's data is older than its expected cadence")


def pill(pill_id: str, text: str, status: str, icon: str) -> html.Span:
    """A rounded status pill: icon plus words, coloured by status (never colour alone)."""
    return html.Span([html.I(className=f"bi {icon} me-1"), text], id=pill_id,
                     className=f"badge rounded-pill pw-pill pw-status-{status}")


def status_card(key: str, title: str, icon: str) -> html.Div:
    """A card: title, big value, status badge, the time its data is from, a 24 h sparkline."""
    return html.Div(id=ids.card(key, "panel"), className="pw-panel h-100", children=dbc.Card(
        dbc.CardBody([
            html.Div([html.Span([html.I(className=f"bi {icon} me-2"), title],
                                className="pw-card-title"),
                      stale_mark()], className="d-flex align-items-center"),
            html.Div([html.Span("—", id=ids.card(key, "value"), className="pw-card-value"),
                      html.Span(id=ids.card(key, "status"), className="ms-2")],
                     className="d-flex align-items-baseline mt-1"),
            html.Div(id=ids.card(key, "detail"), className="pw-card-detail text-body-secondary"),
            dcc.Graph(id=ids.card(key, "spark"), config={"displayModeBar": False,
                                                           "staticPlot": False},
                      className="pw-spark", figure={"data": [], "layout": {"height": 48}}),
            html.Div(id=ids.card(key, "asof"), className="pw-asof"),
        ]), className="h-100 shadow-sm"))


def panel(panel_id: str, title: str, icon: str, body, body_id: str | None = None) -> html.Div:
    """A titled card whose wrapper greys out (class pw-stale) when its data is old."""
    return html.Div(id=panel_id, className="pw-panel h-100", children=dbc.Card([
        dbc.CardHeader(html.Div([
            html.Span([html.I(className=f"bi {icon} me-2"), title], className="fw-semibold"),
            stale_mark(),
            html.Span(id=ids.asof(panel_id), className="pw-asof ms-auto"),
        ], className="d-flex align-items-center")),
        dbc.CardBody(body, id=body_id) if body_id else dbc.CardBody(body),
    ], className="h-100 shadow-sm"))


def period_span(start: str, end: str) -> str:
    """`2026-11-21 00:24 – 06:00 UTC`, with the end's date when it falls on another day."""
    end_shown = end[11:16] if end[:10] == start[:10] else end[:16].replace("T", " ")
    return f"{start[:16].replace('T', ' ')} – {end_shown} UTC"


def shading_legend(periods) -> list:
    """What the shaded bands on the charts are, newest first: severity, what, from, to."""
    if not periods:
        return []
    items = [html.Span("Shaded:", className="fw-semibold me-2")]
    for period in sorted(periods, key=lambda p: p["start"], reverse=True)[:8]:
        severity = period.get("severity", "warning")
        span = period_span(period["start"], period["end"])
        items.append(html.Span([
            html.I(className=f"bi {STATUS_ICONS.get(severity, STATUS_ICONS['warning'])} me-1 "
                             f"pw-text-{severity}"),
            f"{period.get('label') or period.get('kind')} · {span}"], className="me-3 d-inline-block"))
    if len(periods) > 8:
        items.append(html.Span(f"and {len(periods) - 8} earlier", className="text-body-secondary"))
    return items
