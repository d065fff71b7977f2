"""Waiting for SQLite's write lock without holding the event loop.

The server runs one gevent worker: every request and socket is a greenlet on one thread. The
`sqlite3` module's calls are C calls that never yield, so SQLite's own busy handler (which
sleeps inside the C call until the lock frees or `busy_timeout` ends) froze the whole worker
while another process held the write lock: health checks stalled, socket heartbeats stopped,
and a lock held past gunicorn's worker timeout got the worker killed.

So SQLite's busy timeout is 0 (a locked database answers SQLITE_BUSY at once) and the wait
happens here, in Python, in short steps of `time.sleep`, which gevent makes cooperative: the
rest of the server runs between the steps. After `lock_wait_seconds` the SQLITE_BUSY error is
raised as it is, and the API answers 503 `locked` with Retry-After (api/errors.py).

A statement is run again only when it failed with SQLITE_BUSY while no transaction was open,
so nothing it did can be repeated. Writes begin with BEGIN IMMEDIATE (`isolation_level`
"IMMEDIATE": pysqlite puts it before the first INSERT/UPDATE/DELETE of a transaction), so the
write lock is taken, or waited for, at that BEGIN and never half-way through a transaction.
Reads need no lock in WAL mode and keep answering while another connection writes.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any, Callable

from api.settings import SETTINGS_BY_NAME

FIRST_STEP_SECONDS = 0.002
LONGEST_STEP_SECONDS = 0.05  # a lock freed is seen within this long


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY (another connection holds the lock) or SQLITE_LOCKED, extended codes too."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class PatientConnection(sqlite3.Connection):
    """A connection whose cursors wait for a held lock cooperatively (pass as `factory`)."""

    lock_wait_seconds: float = SETTINGS_BY_NAME["SQLITE_LOCK_WAIT_SECONDS"].default

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or PatientCursor)


class PatientCursor(sqlite3.Cursor):
    """`execute` and `executemany` retried in cooperative steps while the database is locked."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return _patiently(self.connection, lambda: sqlite3.Cursor.execute(self, sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        rows = list(seq_of_parameters)  # an iterator would be used up by the first attempt
        return _patiently(self.connection,
                          lambda: sqlite3.Cursor.executemany(self, sql, rows))


def _patiently(connection: sqlite3.Connection, run: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
    wait = getattr(connection, "lock_wait_seconds", PatientConnection.lock_wait_seconds)
    deadline = None
    step = FIRST_STEP_SECONDS
    while True:
        try:
            return run()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or connection.in_transaction:
                raise
            now = time.monotonic()
            deadline = now + wait if deadline is None else deadline
            if now >= deadline:
                raise
            time.sleep(min(step, deadline - now))  # gevent-patched: other greenlets run
            step = min(step * 2, LONGEST_STEP_SECONDS)
