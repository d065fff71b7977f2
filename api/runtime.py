"""The per-app runtime: settings, database, and the background workers of one app instance.

It lives at `server.extensions["pipewatch"]`, so routes, callbacks and tests reach the same
objects without module-level globals (many apps can live in one test process).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app

from api.status.anomalies import AnomalyCache
from api.storage.db import Database
from api.status.sequence import Sequencer
from api.storage.readiness import BoundedCheck, Readiness, check as check_readiness
from api.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: dict[str, Any]
    db: Database
    sequencer: Sequencer = field(default_factory=Sequencer)
    telemetry: Telemetry = field(default_factory=Telemetry)
    # The newest hour's anomalies, recomputed only when the hourly rows or settings change.
    anomaly_cache: AnomalyCache = field(default_factory=AnomalyCache)
    # Called after every in-process commit that changes what the status shows; the hub
    # (api/live/hub.py) registers itself here. Kept as a list so writers need not know the hub.
    change_listeners: list[Callable[[], None]] = field(default_factory=list)
    # Stopped by close(); each worker polls it (or waits on it) to end promptly.
    stopping: threading.Event = field(default_factory=threading.Event)
    # /readyz's database check: bounded in time, one in flight (api/storage/readiness.py).
    readiness: BoundedCheck[Readiness] = field(init=False)
    _workers: list[threading.Thread] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.readiness = BoundedCheck(lambda: check_readiness(self.db))

    def notify_change(self) -> None:
        """Tell whoever listens that committed data changed (call after commit, never before)."""
        for listener in list(self.change_listeners):
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - a listener's fault must not fail the write
                report_thread_error(exc)

    def start_worker(self, name: str, target: Callable[[], None]) -> None:
        """Run `target` in a daemon thread that close() waits for."""
        thread = threading.Thread(target=target, name=f"pipewatch-{name}", daemon=True)
        self._workers.append(thread)
        thread.start()

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers and release the database (tests call this; so does shutdown)."""
        self.stopping.set()
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - the other closers and workers still stop
                report_thread_error(exc)
        for thread in self._workers:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, timeout)
        self.db.dispose()


def report_thread_error(exc: Exception) -> None:
    """Hand an exception a thread survived to `threading.excepthook`, as if it had ended it.

    Workers outlive any one failure (their next cycle may succeed), and a writer must not fail
    for a listener's fault, so a bug there never reaches Python's hook by itself and would pass
    unseen. Passed on, it takes the road every thread error takes: its traceback on stderr in
    production, and under pytest a failure of the test that caused it (pytest.ini makes
    PytestUnhandledThreadExceptionWarning an error)."""
    threading.excepthook(threading.ExceptHookArgs(
        (type(exc), exc, exc.__traceback__, threading.current_thread())))


def get_runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["pipewatch"]
