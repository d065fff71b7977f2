"""Wiring of the live path for one app: the hub, the change feed, and the socket options.

`create_app` calls `init_app(server)` once; the WebSocket route itself is listed with every
other route in api/http/routes.py. The hub computes the status only through
`api.status.document.current_status(runtime, caller="hub")`, hears in-process writers through
`runtime.change_listeners`, and starts its broadcaster and the change feed with the first socket.
The alert evaluator (api/live/evaluator.py) hears the same changes, but once the hub runs it
hears them from the hub, after the hub has computed and pushed them (`after_change`): both are
CPU work in one process (one event loop under gevent), and an evaluation started first would
delay every push by its length. An evaluation that writes a transition notifies as any writer
does, so the transition is pushed right after. Before the first socket starts the hub, the
evaluator hears commits directly; its timer covers the rest.
The notification sender (api/notify/sender.py) hears in-process commits directly (waking it
only sets a flag; its workers send off the request path) and polls for the rest.
"""
from __future__ import annotations

from flask import Flask

from api.live import changefeed, websocket
from api.live.evaluator import Evaluator
from api.live.hub import Hub
from api.notify.sender import Sender
from api.runtime import Runtime, get_runtime


class LocalChanges:
    """`runtime.notify_change()` lands here: through the change feed once it runs, so that the
    feed does not hear the same commit again and make the hub compute twice
    (api/live/changefeed.py)."""

    def __init__(self) -> None:
        self.hub: Hub | None = None
        self.feed: changefeed.Feed | None = None

    def start_feed(self, runtime: Runtime, notify) -> None:
        self.feed = changefeed.start(runtime, notify)

    def __call__(self) -> None:
        if self.feed is not None:
            self.feed.local_change()
        elif self.hub is not None:
            self.hub.notify()


def init_app(server: Flask) -> None:
    runtime = get_runtime(server)
    config = runtime.config

    def compute() -> dict:
        from api.status.document import current_status

        return current_status(runtime, caller="hub")

    evaluator = Evaluator(runtime)
    # Notifications: written with the transitions, delivered here, off the request path.
    # Built first: a receiver setting it cannot use stops the app before any worker runs.
    sender = Sender(runtime)

    def changed_elsewhere(notify):
        local.start_feed(runtime, notify)  # the hub hands each change on to the evaluator

    def evaluate_soon() -> None:
        if not hub.started:
            evaluator.notify()

    local = LocalChanges()
    hub = Hub(compute, telemetry=runtime.telemetry,
              heartbeat_seconds=config["WS_HEARTBEAT_SECONDS"],
              coalesce_seconds=config["WS_COALESCE_SECONDS"],
              start_worker=runtime.start_worker, stopping=runtime.stopping,
              on_start=changed_elsewhere, after_change=evaluator.notify)
    local.hub = hub
    server.extensions["pipewatch.hub"] = hub
    runtime.change_listeners.append(local)
    runtime.change_listeners.append(evaluate_soon)
    server.extensions["pipewatch.evaluator"] = evaluator
    evaluator.start()
    runtime.change_listeners.append(sender.notify)
    server.extensions["pipewatch.sender"] = sender
    sender.start()
    runtime.on_close(hub.stop)
    server.config["SOCK_SERVER_OPTIONS"] = websocket.socket_options(config)
