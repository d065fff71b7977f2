"""The "Alert rules" panel: the shell the layout places, the editor's config, its one callback.

An operator sees the environment's defaults and the stored rules per source and kind, edits
them (add, change, remove rows), and saves them with `PUT /api/v1/rules`; the panel also lists
the recent changes (`GET /api/v1/rules/changes`). assets/rules.js draws and runs the editor
inside RULES_ROOT: it holds unsaved edits of its own (rows added or removed, half-typed
numbers, the server's problems beside the fields they name) that a status push must never
redraw, so no Dash callback renders into it. Dash only hands it its config, once, through the
`mount` clientside callback registered here.

The browser talks to the REST routes with its own credentials, like any client: the server
validates the whole set (api/schemas/rules.py), refuses a stale `If-Match` with 412 and
decides who may change them (OPERATE). This module decides what the editor shows: the columns,
their words and units, which kinds each setting judges (a hint, not a check), the routes' paths
and where "your name" is remembered. rules.js formats and sends; it decides nothing.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, dcc, html

from api.schemas.rules import MAX_RULES_BY_LENGTH, MAX_RULES_COMMENT_LENGTH
from api.status.alerts import KINDS
from api.status.rules import SETTINGS
from dashboard import ids

NAMESPACE = "pipewatch_rules"
RULES_PATH = "api/v1/rules"
CHANGES_PATH = "api/v1/rules/changes"
CHANGES_PER_PAGE = 5
"""Changes listed at first; "Older changes" follows the route's `next_url` for more."""
OPERATOR_KEY = "pipewatch.operator"
"""localStorage key of the operator's name, shared with the page's other operator forms."""

COLUMNS: dict[str, tuple[str, str, str]] = {
    "healthy_rate": ("Healthy rate", "0–1; below: warning", "any"),
    "warning_rate": ("Warning rate", "0–1; below: error", "any"),
    "stale_warning_seconds": ("Stale warning", "seconds without a success", "1"),
    "stale_error_seconds": ("Stale error", "seconds without a success", "1"),
    "anomaly_threshold": ("Anomaly threshold", "robust z-score; higher: fewer", "any"),
    "for_seconds": ("For", "seconds before firing", "1"),
    "keep_firing_for_seconds": ("Keep firing for", "seconds clear before resolving", "1"),
}
"""Each rule setting as the table heads it: label, unit (in the API's own units, so the
server's problems read the same as the field), and the number input's `step` (seconds are
whole: the browser's spinner moves by one; the server still judges what is typed)."""

KIND_WORDS = {"quality": "quality", "source_stale": "source stale",
              "scraper_failing": "scraper failing", "anomaly": "anomaly",
              "metrics_stale": "metrics stale"}
ANY_SOURCE, ANY_KIND = "any source", "any kind"


def _kinds_judged(setting: str) -> list[str]:
    kinds = SETTINGS[setting][1]
    return list(kinds) if kinds is not None else []


def editor_config(site_root: str, sources: Iterable[str]) -> dict[str, Any]:
    """What assets/rules.js needs to draw and send, for one page load (no secrets)."""
    if set(COLUMNS) != set(SETTINGS):
        raise RuntimeError("dashboard/rules_panel.COLUMNS must name every rule setting of "
                           "api/status/rules.SETTINGS")
    return {
        "root": ids.RULES_ROOT,
        "rules_path": site_root + RULES_PATH,
        "changes_path": site_root + CHANGES_PATH,
        "changes_limit": CHANGES_PER_PAGE,
        "operator_key": OPERATOR_KEY,
        "settings": [{"name": name, "label": label, "unit": unit, "step": step,
                      "seconds": name.endswith("_seconds"),
                      "kinds": [KIND_WORDS[kind] for kind in _kinds_judged(name)]}
                     for name, (label, unit, step) in ((n, COLUMNS[n]) for n in SETTINGS)],
        "kinds": [{"value": kind, "label": KIND_WORDS[kind]} for kind in KINDS],
        "sources": sorted(set(sources)),
        "any_source": ANY_SOURCE,
        "any_kind": ANY_KIND,
        "by_max": MAX_RULES_BY_LENGTH,
        "comment_max": MAX_RULES_COMMENT_LENGTH,
    }


def rules_panel(client: Mapping[str, Any], sources: Iterable[str]) -> dbc.Row:
    """The panel's shell: a titled card around the editor's root, and the editor's config."""
    return dbc.Row(dbc.Col(html.Div(id=ids.RULES, children=dbc.Card([
        dbc.CardHeader(html.Span([html.I(className="bi bi-sliders me-2"), "Alert rules"],
                                 className="fw-semibold")),
        dbc.CardBody([
            dcc.Store(id=ids.RULES_CONFIG, data=editor_config(client["site_root"], sources)),
            html.Div(id=ids.RULES_ROOT, className="pw-rules"),
        ]),
    ], className="shadow-sm")), className="mb-3"))


def register(app: dash.Dash) -> None:
    """Hand the editor its config once the page is up (rules.js `mount`)."""
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="mount"),
        Output(ids.RULES_ROOT, "className"),
        Input(ids.RULES_CONFIG, "data"),
    )
