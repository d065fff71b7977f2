"""The alert history panel: every stored lifecycle transition (the rows of
GET /api/v1/alerts/events) for the charts' range and sources, newest first, a page at a time.

It follows the view in the URL (dashboard/urlstate.py: `?range=7d&sources=punch`), so a link
reopens the same history beside the same charts, and it reloads when an open alert changes
state or severity (ids.ALERTS_VERSION, from the status the page already receives). Transitions
are the server's record; this module only lays them out.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Mapping, Sequence

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, html, no_update

from api import queries
from api.timeutil import utcnow
from dashboard import ids
from dashboard.pageconfig import STATUS_ICONS
from dashboard.urlstate import Selection, selection_from_controls, window

log = logging.getLogger(__name__)

PAGE_SIZE = 25
STATE_CLASSES = {"pending": "text-bg-secondary", "firing": "text-bg-danger",
                 "resolved": "text-bg-success"}
"""How each lifecycle state reads in the table: a badge with the word (never colour alone)."""


def history_panel() -> dbc.Card:
    """The panel's shell, a card like the trends' (it follows their selection): a note, the
    table, and newer/older buttons."""
    pager = html.Div([
        dbc.Button([html.I(className="bi bi-chevron-left me-1"), "Newer"], id=ids.HISTORY_NEWER,
                   size="sm", color="secondary", outline=True, disabled=True),
        dbc.Button(["Older", html.I(className="bi bi-chevron-right ms-1")], id=ids.HISTORY_OLDER,
                   size="sm", color="secondary", outline=True, disabled=True),
    ], className="d-flex gap-2 justify-content-end mt-2")
    return dbc.Card([
        dbc.CardHeader(html.Div([
            html.Span([html.I(className="bi bi-clock-history me-2"), "Alert history"],
                      className="fw-semibold"),
            html.Span(id=ids.HISTORY_NOTE, className="pw-asof ms-auto"),
        ], className="d-flex align-items-center")),
        dbc.CardBody([html.Div(id=ids.HISTORY_BODY, className="pw-history-body"), pager]),
    ], id=ids.HISTORY, className="shadow-sm mb-4")

def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def history_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """One line per transition: time, state, severity, source, message (and the alert's id)."""
    if not rows:
        return html.P([html.I(className="bi bi-check2-circle me-1"),
                       "No alert transitions in this range."],
                      className="text-body-secondary mb-0 pw-empty")
    head = html.Thead(html.Tr([html.Th(name) for name in
                               ("Time (UTC)", "State", "Severity", "Source", "Alert", "Message")]))
    body = html.Tbody([html.Tr([
        html.Td(_when(row["at"]), className="text-nowrap"),
        html.Td(html.Span(row["state"], className="badge " + STATE_CLASSES.get(
            row["state"], "text-bg-light"))),
        html.Td(html.Span([html.I(className=f"bi {STATUS_ICONS.get(row['severity'], '')} me-1"),
                           row["severity"]],
                          className=f"badge rounded-pill pw-pill pw-status-{row['severity']}")),
        html.Td(row["source"] or "all sources"),
        html.Td(f"#{row['alert_id']}", title=row["key"], className="text-nowrap"),
        html.Td(row["message"], className="small"),
    ], className=f"pw-history-row pw-history-{row['state']}") for row in rows])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True,
                     className="mb-0 pw-history-table")


def history_body(runtime, selection: Selection, page: int,
                 now: datetime | None = None) -> dict[str, Any]:
    """Page `page` (0: the newest) of the selection's transitions: {table, note, page, pages}."""
    start, end, _bucket = window(selection, now or utcnow())
    if selection.range != "custom":
        end = None  # up to now: `window` ends at a whole second, before a transition stored
        # this very second (the one whose push made the panel reload)

    def read(wanted: int):
        return queries.newest_alert_events(runtime, start, end, selection.sources,
                                           wanted * PAGE_SIZE, PAGE_SIZE)

    rows, total = read(page)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages - 1:  # the range shrank under an older page: show its last page
        page = pages - 1
        rows, total = read(page)
    first = page * PAGE_SIZE + 1 if rows else 0
    scope = ", ".join(selection.sources) if selection.sources else "all sources"
    note = (f"{total} transitions · {scope} · newest first · "
            f"{first}–{page * PAGE_SIZE + len(rows)} shown" if total else f"none · {scope}")
    return {"table": history_table(rows), "note": note, "page": page, "pages": pages}


def register(app: dash.Dash) -> None:
    """The panel's one callback: the selection, a changed alert, or newer/older -> a page."""
    from api.runtime import get_runtime

    @app.callback([Output(ids.HISTORY_BODY, "children"), Output(ids.HISTORY_NOTE, "children"),
                   Output(ids.HISTORY_PAGE, "data"), Output(ids.HISTORY_NEWER, "disabled"),
                   Output(ids.HISTORY_OLDER, "disabled")],
                  [Input(ids.RANGE, "value"), Input(ids.CUSTOM_START, "value"),
                   Input(ids.CUSTOM_END, "value"), Input(ids.SOURCES_PICK, "value"),
                   Input(ids.ALERTS_VERSION, "data"), Input(ids.HISTORY_NEWER, "n_clicks"),
                   Input(ids.HISTORY_OLDER, "n_clicks")],
                  State(ids.HISTORY_PAGE, "data"))
    def _history(range_value, start, end, sources, _version, _newer, _older, page):
        page = page or 0
        trigger = ctx.triggered_id
        if trigger == ids.ALERTS_VERSION and page:
            return (no_update,) * 5  # someone reading older history keeps their page
        if trigger == ids.HISTORY_NEWER:
            page = max(0, page - 1)
        elif trigger == ids.HISTORY_OLDER:
            page += 1
        elif trigger != ids.ALERTS_VERSION:
            page = 0  # a new selection starts from its newest transitions
        selection = selection_from_controls(range_value, start, end, sources, None)
        try:
            shown = history_body(get_runtime(), selection, page)
        except Exception as exc:  # noqa: BLE001 - keep the last table, say why
            log.warning("alert history failed: %s", type(exc).__name__)
            return (no_update, "Alert history unavailable: the database did not answer.",
                    no_update, no_update, no_update)
        return (shown["table"], shown["note"], shown["page"], shown["page"] == 0,
                shown["page"] >= shown["pages"] - 1)
