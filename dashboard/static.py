"""Bootstrap CSS and Bootstrap Icons, served by the app itself from bootstrap-flask's files.

dash-bootstrap-components' theme constants are CDN URLs: on a closed network (or this
sandbox) the page would render unstyled. bootstrap-flask ships the same files inside its
Python package, so the app serves them under its own path prefix and the page never asks
another host for anything.
"""
from __future__ import annotations

from pathlib import Path

import dash
import flask_bootstrap
from flask import Blueprint

from api import auth

STATIC_ROOT = Path(flask_bootstrap.__file__).resolve().parent / "static" / "bootstrap5"
ROUTE = "_pipewatch/vendor"
STYLESHEETS = ("css/bootstrap.min.css", "css/font/bootstrap-icons.min.css")


def init_app(app: dash.Dash) -> list[str]:
    """Serve the vendored files and link the stylesheets from the page; returns their URLs."""
    for relative in STYLESHEETS:
        if not (STATIC_ROOT / relative).is_file():
            raise RuntimeError(f"bootstrap-flask is missing {relative}; "
                               "reinstall it: pip install -r requirements.txt")
    prefix = app.config.routes_pathname_prefix
    blueprint = Blueprint("pipewatch_vendor", __name__, static_folder=str(STATIC_ROOT),
                          static_url_path=f"{prefix}{ROUTE}")
    app.server.register_blueprint(blueprint)
    auth.set_access(app.server, f"{blueprint.name}.static", auth.OPEN)  # the sign-in page's CSS
    urls = [f"{app.config.requests_pathname_prefix}{ROUTE}/{relative}" for relative in STYLESHEETS]
    for url in urls:
        if url not in app.config.external_stylesheets:
            app.config.external_stylesheets.append(url)
    return urls
