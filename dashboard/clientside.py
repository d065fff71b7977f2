"""Clientside callbacks: wiring only. Their code is assets/pipewatch.js
(`window.dash_clientside.pipewatch`), served by Dash from the assets folder.

- `machine`: the connection state machine. It owns the socket's `url`, the poll timer and
  the one status store; every socket message, poll answer and one-second tick goes through it.
- `render`: status store -> pills, cards, per-source table, anomalies and alerts. The same
  function draws the first paint into the layout as it arrives (pipewatch.js `paintLayout`),
  from the status the layout put in the store: Dash runs no callback before the page's lazy
  components (plotly.js) have loaded, about a second after the layout is on screen.
- `freshness`: tick -> connection pill, "updated N s ago", ages, stale marks, banner; its
  panels are dashboard/pageconfig.py's PANELS, in that order (the config store lists them too).
- `dataVersion`: status store -> a value that changes only when a new hour of metrics exists.
- `act`: a card's button, or the dialog's Send/Cancel -> the dialog, and the REST call that
  acts on the alert (dashboard/acting.py), whose refusal is shown as the API said it.
- `untilBox`: the silence's time field shows only when "until…" is chosen.
- `report`: tick -> every `report_s` seconds while the socket is open, a small text frame
  on it saying the timestamp of the status shown (the server counts page-seconds by mode and
  the data's age; a polling page's report rides on its poll, dashboard/callbacks.py).
- `alertsVersion`: status store -> a value that changes when an open alert appears, goes, or
  changes state or severity (the history panel reloads then).
"""
from __future__ import annotations

import dash
from dash import ALL, ClientsideFunction, Input, Output, State

from dashboard import ids
from dashboard.pageconfig import PANELS, RENDER_OUTPUTS

NAMESPACE = "pipewatch"


def _fn(name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace=NAMESPACE, function_name=name)


def register(app: dash.Dash) -> None:
    app.clientside_callback(
        _fn("machine"),
        [Output(ids.WS, "url"), Output(ids.POLL, "disabled"), Output(ids.POLL_KICK, "data"),
         Output(ids.CONN, "data"), Output(ids.STATUS, "data")],
        [Input(ids.WS, "state"), Input(ids.WS, "message"), Input(ids.WS, "error"),
         Input(ids.TICK, "n_intervals"), Input(ids.POLL_RESULT, "data")],
        [State(ids.CONN, "data"), State(ids.STATUS, "data"), State(ids.CONFIG, "data"),
         State(ids.POLL_KICK, "data")],
    )
    app.clientside_callback(
        _fn("render"),
        [Output(component, prop) for component, prop in RENDER_OUTPUTS],
        Input(ids.STATUS, "data"),
        State(ids.CONFIG, "data"),
    )
    app.clientside_callback(
        _fn("freshness"),
        [Output(ids.CONN_PILL, "children"), Output(ids.CONN_PILL, "className"),
         Output(ids.UPDATED, "children"), Output(ids.HEALTH_BODY, "children"),
         Output(ids.BANNER, "children")]
        + [Output(panel, "className") for panel, _asof, _cadence in PANELS]
        + [Output(asof, "children") for _panel, asof, _cadence in PANELS],
        [Input(ids.TICK, "n_intervals"), Input(ids.CONN, "data"), Input(ids.STATUS, "data")],
        State(ids.CONFIG, "data"),
    )
    app.clientside_callback(
        _fn("dataVersion"),
        Output(ids.DATA_VERSION, "data"),
        Input(ids.STATUS, "data"),
        State(ids.DATA_VERSION, "data"),
    )
    app.clientside_callback(
        _fn("act"),
        [Output(ids.ACT_DIALOG, "is_open"), Output(ids.ACT_TARGET, "data"),
         Output(ids.ACT_TITLE, "children"), Output(ids.ACT_ACK_FORM, "style"),
         Output(ids.ACT_SILENCE_FORM, "style"), Output(ids.ACT_ERROR, "children"),
         Output(ids.ACT_FEEDBACK, "children"), Output(ids.ACT_SUBMIT, "children"),
         Output(ids.ACT_NOTE, "value"), Output(ids.ACT_COMMENT, "value"),
         Output(ids.ACT_ACTOR, "value")],
        [Input({"type": ids.ALERT_BUTTON, "action": ALL, "alert": ALL}, "n_clicks"),
         Input(ids.ACT_SUBMIT, "n_clicks"), Input(ids.ACT_CANCEL, "n_clicks")],
        [State(ids.ACT_TARGET, "data"), State(ids.ACT_ACTOR, "value"),
         State(ids.ACT_NOTE, "value"), State(ids.ACT_FOR, "value"),
         State(ids.ACT_UNTIL, "value"), State(ids.ACT_COMMENT, "value"),
         State(ids.STATUS, "data"), State(ids.CONFIG, "data")],
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _fn("untilBox"),
        Output(ids.ACT_UNTIL, "style"),
        Input(ids.ACT_FOR, "value"),
        State(ids.CONFIG, "data"),
    )
    app.clientside_callback(
        _fn("alertsVersion"),
        Output(ids.ALERTS_VERSION, "data"),
        Input(ids.STATUS, "data"),
        State(ids.ALERTS_VERSION, "data"),
    )
    app.clientside_callback(
        _fn("report"),
        Output(ids.WS, "send"),
        Input(ids.TICK, "n_intervals"),
        [State(ids.CONN, "data"), State(ids.STATUS, "data"), State(ids.CONFIG, "data"),
         State(ids.WS, "state")],
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _fn("customBox"),
        Output(ids.CUSTOM_BOX, "style"),
        Input(ids.RANGE, "value"),
    )
