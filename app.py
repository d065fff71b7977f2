"""pipewatch: the live pipeline-health and data-quality monitor, in one Dash process.

`create_app(config)` builds everything: settings, database, REST and WebSocket routes on the
Flask server, the Dash page, and the background workers. `gunicorn app:server` serves the
module-level app; `python app.py --help` is the command line.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Mapping

import dash
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import auth, errors
from api.http.routes import register_routes
from api.live import wiring
from api.runtime import Runtime
from api.settings import load_config
from api.storage import migrate
from api.storage.db import Database, Waits

log = logging.getLogger("pipewatch")


def create_app(config: Mapping[str, Any] | None = None) -> dash.Dash:
    """The Dash app (its Flask server is `app.server`): defaults, then environment, then `config`."""
    settings = load_config(config)
    logging.basicConfig(level=settings["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Flask(__name__)
    server.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]
    if settings["TRUSTED_PROXIES"]:  # the client's address and scheme, as the proxies saw them
        hops = settings["TRUSTED_PROXIES"]
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops)
    runtime = Runtime(settings, Database(settings["DATABASE_URL"], Waits.from_config(settings)))
    server.extensions["pipewatch"] = runtime
    if settings["AUTO_MIGRATE"]:
        _migrate_on_start(runtime)

    errors.init_app(server)  # one error shape under /api/
    server.before_request(auth.guard)  # PIPEWATCH_READ_TOKEN, before any view runs
    register_routes(server)  # every URL: api/http/routes.py
    wiring.init_app(server)  # the live path: hub and change feed

    app = dash.Dash(__name__, server=server, title="pipewatch", update_title=None)
    import dashboard

    dashboard.init_app(app)
    _start_background(runtime)
    return app


def _migrate_on_start(runtime: Runtime) -> None:
    """Bring the schema to head; a database that is down now is retried by /readyz's callers."""
    try:
        migrate.upgrade(runtime.db.engine)
    except Exception as exc:  # noqa: BLE001 - the app still serves and reports 503 until fixed
        log.error("could not migrate %s: %s", runtime.db.safe_url, type(exc).__name__)


def _start_background(runtime: Runtime) -> None:
    """Start the in-process workers the settings ask for."""
    from api import collector

    if runtime.config["COLLECTOR_INTERVAL_SECONDS"] > 0:
        collector.start_schedule(runtime)
    if runtime.config["SIMULATE"]:
        from api.demo import simulator

        simulator.start(runtime)


_default_app: dash.Dash | None = None


def __getattr__(name: str):
    """`app` and `server` (for `gunicorn app:server`), built on first access, not at import.

    Importing this module (tests, the command line) must not open the default database or
    start workers; asking for `app.app` or `app.server` does, once.
    """
    global _default_app
    if name in ("app", "server"):
        if _default_app is None:
            _default_app = create_app()
        return _default_app if name == "app" else _default_app.server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    from api.cli import main

    sys.exit(main(sys.argv[1:]))
