"""Static building blocks of the page: pills, status cards and panels, ids wired in.

They render empty shells: what goes inside comes from the status store, filled in the browser
by the clientside callbacks in assets/pipewatch.js (one implementation, no server round trip
per message).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids

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


def status_card(key: str, title: str, icon: str, value: str = "—",
                badge: Any = None) -> html.Div:
    """A card: title, big value, status badge, the time its data is from, a 24 h sparkline."""
    return html.Div(id=ids.card(key, "panel"), className="pw-panel h-100", children=dbc.Card(
        dbc.CardBody([
            html.Div([html.Span([html.I(className=f"bi {icon} me-2"), title],
                                className="pw-card-title"),
                      stale_mark()], className="d-flex align-items-center"),
            html.Div([html.Span(value, id=ids.card(key, "value"), className="pw-card-value"),
                      html.Span(badge, id=ids.card(key, "status"), className="ms-2")],
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


# region first paint
# The page's first paint carries the numbers of the status it was built with, so an operator
# sees them as soon as the layout arrives, before Dash has loaded every component bundle and
# run its first callbacks (plotly.js alone takes over a second to load on a slow machine).
# From then on assets/pipewatch.js `render` draws them; these mirror its formatting.
STATUS_ICONS = {"healthy": "bi-check-circle-fill", "warning": "bi-exclamation-triangle-fill",
                "error": "bi-x-octagon-fill", "pending": "bi-hourglass-split"}


def pct(rate: float | None) -> str:
    """0.9343 -> "93.4%" (half up, as the browser rounds); None -> an em dash."""
    if rate is None:
        return "—"
    return f"{math.floor(rate * 1000 + 0.5) / 10:.1f}%"


def status_badge(status: str | None) -> html.Span:
    status = status or "pending"
    return html.Span([html.I(className=f"bi {STATUS_ICONS.get(status, STATUS_ICONS['pending'])} me-1"),
                      status.capitalize()], className=f"badge rounded-pill pw-pill pw-status-{status}")


def _rate_status(rate: float | None, config: Mapping[str, Any]) -> str:
    from api.status.thresholds import rate_status

    return rate_status(rate, {"HEALTHY_RATE": config.get("HEALTHY_RATE", 0.9),
                              "WARNING_RATE": config.get("WARNING_RATE", 0.75)})


def first_paint(status: Mapping[str, Any] | None,
                config: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """{card key: (value text, status badge)} and the overall pill, from a status document."""
    if not status:
        return {}
    sources = (status.get("scraping_health") or {}).get("sources") or []
    runs = sum(s.get("runs_24h") or 0 for s in sources)
    failures = sum(s.get("failures_24h") or 0 for s in sources)
    quality = status.get("data_quality") or {}
    geocoding = quality.get("geocoding_success_rate")
    validation = quality.get("validation_pass_rate")
    overall = status.get("overall_status") or "pending"
    return {
        "scraping": (pct((runs - failures) / runs if runs else None),
                     status_badge((status.get("scraping_health") or {}).get("status"))),
        "geocoding": (pct(geocoding), status_badge(_rate_status(geocoding, config))),
        "validation": (pct(validation), status_badge(_rate_status(validation, config))),
        "overall": (f"Pipeline {overall.capitalize()}", overall),
    }
# endregion
