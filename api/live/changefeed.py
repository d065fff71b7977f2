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

Both feeds would also hear this process's own commits, a moment after the writer's own
notification, and make the hub compute the same status twice. `local_change()` (what
`runtime.notify_change()` reaches) prevents that:
- SQLite: it re-reads data_version *before* waking the hub. The hub's next computation starts
  after that read, so it sees every commit up to it (ours and anyone's); commits after it
  change data_version again and are heard as usual. Nothing is missed.
- PostgreSQL: while the listener is connected and the triggers exist, our own commit's NOTIFY
  wakes the hub (a fraction of a millisecond later), so the local call does nothing; otherwise
  it wakes the hub itself.
"""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from typing import Callable, Optional

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "pipewatch_changes"
TRIGGER_FUNCTION = "pipewatch_notify_change"
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 15.0
KEEPALIVE_SECONDS = 10.0  # a quiet LISTEN connection is probed this often, to notice it died


def start(runtime, notify: Callable[[], None]) -> Optional["Feed"]:
    """Start the feed that suits the runtime's database; None for an in-memory SQLite."""
    url = make_url(runtime.db.url)
    backend = url.get_backend_name()
    feed: Optional[Feed] = None
    if backend == "sqlite":
        path = url.database
        if not path or path == ":memory:" or "mode=memory" in str(url):
            return None  # only this process can see it: its own notifications are all there is
        feed = SqliteWatcher(path, notify, runtime.stopping, runtime.telemetry,
                             runtime.config["SQLITE_WATCH_SECONDS"])
    elif backend == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        feed = PostgresListener(conninfo, notify, runtime.stopping, runtime.telemetry)
    else:
        log.warning("no change feed for %s: only this process's writes are pushed", backend)
        return None
    runtime.start_worker("changefeed", feed.run)
    return feed


def _backoff(previous: float) -> float:
    """The next wait: doubled, capped, with up to 25% jitter so instances do not stampede."""
    base = min(BACKOFF_MAX, previous * 2) if previous else BACKOFF_FIRST
    return base * random.uniform(0.75, 1.0)


class Feed:
    def __init__(self, notify: Callable[[], None], stopping: threading.Event, telemetry) -> None:
        self.notify = notify
        self.stopping = stopping
        self.telemetry = telemetry

    def run(self) -> None:  # pragma: no cover - each feed has its own
        raise NotImplementedError

    def local_change(self) -> None:
        """This process committed something: wake the hub (exactly once)."""
        self.notify()

    def _lost(self, delay: float, kind: str) -> float:
        self.telemetry.changefeed_connected.set(0)
        self.telemetry.changefeed_reconnects.inc()
        delay = _backoff(delay)
        # The exception's text can name the host; only its kind is logged, never the URL.
        log.warning("change feed lost the database (%s); retrying in %.1f s", kind, delay)
        return delay


class SqliteWatcher(Feed):
    """Polls `PRAGMA data_version` until `stopping`; notifies when another connection committed."""

    def __init__(self, path: str, notify, stopping, telemetry, interval: float) -> None:
        super().__init__(notify, stopping, telemetry)
        self.path = path
        self.interval = interval
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None
        self._version: Optional[int] = None

    def _read(self) -> bool:
        """Read data_version; True when it moved since the last read. Call with the lock held."""
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
            self._version = self._connection.execute("PRAGMA data_version").fetchone()[0]
            return False
        current = self._connection.execute("PRAGMA data_version").fetchone()[0]
        moved, self._version = current != self._version, current
        return moved

    def local_change(self) -> None:
        try:
            with self._lock:
                if self._connection is not None:
                    self._read()  # absorb our own commit (see the module doc)
        except sqlite3.Error:
            pass  # the watcher thread notices and reconnects
        self.notify()

    def run(self) -> None:
        delay = 0.0
        while not self.stopping.is_set():
            try:
                with self._lock:
                    fresh = self._connection is None
                    moved = self._read()
                if fresh:
                    self.telemetry.changefeed_connected.set(1)
                    if delay:  # reopened after a failure: whatever changed meanwhile is news
                        self.notify()
                    delay = 0.0
                if moved:
                    self.telemetry.change_events.labels("sqlite").inc()
                    self.notify()
            except sqlite3.Error as exc:
                self._close()
                delay = self._lost(delay, type(exc).__name__)
                self.stopping.wait(delay)
                continue
            self.stopping.wait(self.interval)
        self._close()
        self.telemetry.changefeed_connected.set(0)

    def _close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class PostgresListener(Feed):
    """LISTEN until `stopping`, reconnecting with backoff; notify per NOTIFY and per reconnect."""

    def __init__(self, conninfo: str, notify, stopping, telemetry,
                 poll_seconds: float = 0.5) -> None:
        super().__init__(notify, stopping, telemetry)
        self.conninfo = conninfo
        self.poll_seconds = poll_seconds
        self.hears_own_writes = False  # connected, and the triggers exist

    def local_change(self) -> None:
        if not self.hears_own_writes:
            self.notify()

    def run(self) -> None:
        import psycopg

        delay = 0.0
        heard_before = False
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True,
                                     connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    triggers = connection.execute(
                        "SELECT count(*) FROM pg_proc WHERE proname = %s",
                        (TRIGGER_FUNCTION,)).fetchone()[0]
                    if not triggers:
                        log.warning("no NOTIFY triggers in this database (migrate it): only "
                                    "this process's own writes are pushed")
                    self.hears_own_writes = bool(triggers)
                    self.telemetry.changefeed_connected.set(1)
                    if heard_before:
                        log.info("change feed listening again")
                        self.notify()
                    heard_before = True
                    delay = 0.0
                    self._pump(connection)
            except (psycopg.Error, OSError) as exc:
                self.hears_own_writes = False
                delay = self._lost(delay, type(exc).__name__)
                self.stopping.wait(delay)
        self.hears_own_writes = False
        self.telemetry.changefeed_connected.set(0)

    def _pump(self, connection) -> None:
        """Deliver notifications until `stopping`; raise when the connection dies."""
        quiet_since = time.monotonic()
        while not self.stopping.is_set():
            heard = 0
            for _ in connection.notifies(timeout=self.poll_seconds):
                heard += 1
                self.notify()
            if heard:
                self.telemetry.change_events.labels("postgresql").inc(heard)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                connection.execute("SELECT 1")
                quiet_since = time.monotonic()
