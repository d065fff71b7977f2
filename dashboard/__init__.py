"""The Dash page: layout, components, figure builders and callbacks (no SQL here).

`init_app(app)` serves the vendored stylesheets, sets the per-request layout and attaches the
server-side callbacks (dashboard/callbacks.py, the alert history's in dashboard/history.py)
and the clientside ones, whose code lives in
assets/pipewatch.js under `window.dash_clientside.pipewatch`.
"""
from __future__ import annotations

import dash

from dashboard import callbacks, clientside, history, static
from dashboard.layout import serve_layout
from dashboard.notify_panel import register as register_notify
from dashboard.rules_panel import register as register_rules


def init_app(app: dash.Dash) -> None:
    """Attach the page's stylesheets, layout and callbacks to `app`."""
    static.init_app(app)
    app.layout = lambda: serve_layout(app)
    callbacks.register(app)
    history.register(app)
    clientside.register(app)
    register_rules(app)
    register_notify(app)
