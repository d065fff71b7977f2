"""The Dash page: layout, components, figure builders and callbacks (no SQL here)."""
from __future__ import annotations

import dash
from dash import html


def init_app(app: dash.Dash) -> None:
    """Attach the page's layout and callbacks to `app`."""
    app.layout = html.Main([html.H1("pipewatch"),
                            html.P("Pipeline status: /api/v1/monitoring/pipeline-status")])
