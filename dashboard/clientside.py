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
"""
from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State

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
        _fn("customBox"),
        Output(ids.CUSTOM_BOX, "style"),
        Input(ids.RANGE, "value"),
    )
