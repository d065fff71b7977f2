"""The change feed: hear commits made by other processes, and wake the hub.

In-process writers call `runtime.notify_change()` themselves. Writers elsewhere (another
worker, another host, a script, psql) are heard here:

- SQLite: `PRAGMA data_version` on a connection of our own changes whenever any *other*
  connection commits to the file. Reading it is a few microseconds, so it is polled every
  SQLITE_WATCH_SECONDS.
- PostgreSQL: `LISTEN pipewatch_changes`. Migration 003 installs statement-level triggers on the
  watched tables that `NOTIFY pipewatch_changes` with the table name, so any writer anywhere
  wakes every instance within a millisecond or so. When the connection drops (the server
  restarts, the network fails) the listener reconnects with exponential backoff and jitter, and
  then notifies once: changes made while it was deaf must not stay unseen.
"""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
from typing import Callable

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "pipewatch_changes"
WATCHED_TABLES = ("data_quality_metrics", "scrape_runs", "conflicts", "forecast")
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 15.0
KEEPALIVE_SECONDS = 10.0  # a quiet LISTEN connection is probed this often, to notice it died


def start(runtime, notify: Callable[[], None]) -> None:
    """Start the feed that suits the runtime's database (none for an in-memory SQLite)."""
    url = make_url(runtime.db.url)
    backend = url.get_backend_name()
    telemetry = runtime.telemetry
    if backend == "sqlite":
        path = url.database
        if not path or path == ":memory:" or "mode=memory" in str(url):
            return  # only this process can see it: in-process notifications are all there is
        interval = runtime.config["SQLITE_WATCH_SECONDS"]
        runtime.start_worker("changefeed", lambda: watch_sqlite(
            path, notify, runtime.stopping, interval, telemetry))
    elif backend == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        runtime.start_worker("changefeed", lambda: listen_postgres(
            conninfo, notify, runtime.stopping, telemetry))
    else:
        log.warning("no change feed for %s: only this process's writes are pushed", backend)


def _backoff(previous: float) -> float:
    """The next wait: doubled, capped, with up to 25% jitter so instances do not stampede."""
    base = min(BACKOFF_MAX, previous * 2) if previous else BACKOFF_FIRST
    return base * random.uniform(0.75, 1.0)


def watch_sqlite(path: str, notify: Callable[[], None], stopping: threading.Event,
                 interval: float, telemetry) -> None:
    """Poll `PRAGMA data_version` until `stopping`; notify when another connection committed."""
    delay = 0.0
    connection = None
    version = None
    while not stopping.is_set():
        try:
            if connection is None:
                connection = sqlite3.connect(path, timeout=5, check_same_thread=False)
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                telemetry.changefeed_connected.set(1)
                if delay:  # reopened after a failure: whatever changed meanwhile is news
                    notify()
                delay = 0.0
            current = connection.execute("PRAGMA data_version").fetchone()[0]
            if current != version:
                version = current
                telemetry.change_events.labels("sqlite").inc()
                notify()
        except sqlite3.Error as exc:
            telemetry.changefeed_connected.set(0)
            telemetry.changefeed_reconnects.inc()
            log.warning("SQLite change watcher failed (%s); retrying", type(exc).__name__)
            if connection is not None:
                connection.close()
                connection = None
            delay = _backoff(delay)
            stopping.wait(delay)
            continue
        stopping.wait(interval)
    if connection is not None:
        connection.close()
    telemetry.changefeed_connected.set(0)


def listen_postgres(conninfo: str, notify: Callable[[], None], stopping: threading.Event,
                    telemetry, poll_seconds: float = 0.5) -> None:
    """LISTEN until `stopping`, reconnecting with backoff; notify per NOTIFY and per reconnect."""
    import psycopg

    delay = 0.0
    heard_before = False
    while not stopping.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                telemetry.changefeed_connected.set(1)
                if heard_before:
                    log.info("change feed listening again")
                    notify()
                heard_before = True
                delay = 0.0
                _pump(connection, notify, stopping, telemetry, poll_seconds)
        except (psycopg.Error, OSError) as exc:
            # The message can name the host but never the password; log only its kind.
            telemetry.changefeed_connected.set(0)
            telemetry.changefeed_reconnects.inc()
            delay = _backoff(delay)
            log.warning("change feed lost the database (%s); retrying in %.1f s",
                        type(exc).__name__, delay)
            stopping.wait(delay)
    telemetry.changefeed_connected.set(0)


def _pump(connection, notify: Callable[[], None], stopping: threading.Event, telemetry,
          poll_seconds: float) -> None:
    """Deliver notifications until `stopping`; raise when the connection dies."""
    import time

    quiet_since = time.monotonic()
    while not stopping.is_set():
        heard = 0
        for _ in connection.notifies(timeout=poll_seconds):
            heard += 1
            notify()
        if heard:
            telemetry.change_events.labels("postgresql").inc(heard)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            connection.execute("SELECT 1")
            quiet_since = time.monotonic()
