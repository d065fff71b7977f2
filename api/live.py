"""Wiring of the live path: hub + change feed + WebSocket route + `GET /metrics`.

`create_app` calls `init_app(server)` once. The hub computes the status only through
`api.status.current_status(runtime, caller="hub")`, listens to in-process writers through
`runtime.change_listeners`, and starts its broadcaster and the change feed with the first socket.
"""
from __future__ import annotations

from flask import Flask

from api import changefeed, telemetry, ws
from api.hub import Hub
from api.runtime import get_runtime


def init_app(server: Flask) -> Hub:
    runtime = get_runtime(server)
    config = runtime.config

    def compute() -> dict:
        from api.status import current_status

        return current_status(runtime, caller="hub")

    hub = Hub(compute, telemetry=runtime.telemetry,
              heartbeat_seconds=config["WS_HEARTBEAT_SECONDS"],
              coalesce_seconds=config["WS_COALESCE_SECONDS"],
              start_worker=runtime.start_worker, stopping=runtime.stopping,
              on_start=lambda notify: changefeed.start(runtime, notify))
    server.extensions["pipewatch.hub"] = hub
    runtime.change_listeners.append(hub.notify)
    runtime.on_close(hub.stop)
    ws.init_app(server)
    telemetry.init_app(server)
    return hub
