"""Can this database take traffic: does it answer, is its schema current, can it be written to?

`/readyz` (api/http/probes.py) asks `check(db)` through `BoundedCheck`, so a hung database
answers "not ready" within READY_TIMEOUT_SECONDS instead of holding the probe.

Writable is tested without writing anything: SQLite runs a write statement that matches no
row inside a transaction it rolls back (a read-only file, a `mode=ro` URI or
`PRAGMA query_only` refuse it with SQLITE_READONLY) and looks at the free space beside the
file; PostgreSQL says whether it is a standby (in recovery) or read-only by default.
A write lock held by someone else right now is not a fault here: writes wait for it
(SQLITE_LOCK_WAIT_SECONDS), and the check never waits.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

from sqlalchemy import text

from api.errors import database_fault
from api.storage import migrate
from api.storage.db import Database

# Below this much free space beside a SQLite file, the next write may fail (SQLite appends
# whole pages to its WAL and grows the file by pages): report the disk as full before it does.
MIN_FREE_BYTES = 1 << 20


@dataclass(frozen=True)
class Readiness:
    revision: str | None
    head: str
    fault: str | None  # a key of api.errors.DATABASE_FAULTS when writes cannot succeed


def check(db: Database) -> Readiness:
    """Blocking: the schema's revision, and why writes would fail (None: they would not).

    Raises the driver's error when the database cannot be reached at all."""
    revision = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    fault = None
    if revision == head:
        fault = _sqlite_write_fault(db) if db.dialect == "sqlite" else _postgres_write_fault(db)
    return Readiness(revision, head, fault)


def _sqlite_write_fault(db: Database) -> str | None:
    raw = db.engine.raw_connection()
    try:
        # A plain cursor: a held lock must answer at once, not be waited for.
        cursor = raw.driver_connection.cursor(sqlite3.Cursor)
        try:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("UPDATE alembic_version SET version_num = version_num WHERE 0")
        except sqlite3.OperationalError as exc:
            fault = database_fault(exc)
            if fault != "locked":  # locked: the file is writable, someone is writing
                return fault
        finally:
            raw.driver_connection.rollback()
            cursor.close()
    finally:
        raw.close()
    return _sqlite_disk_fault(db)


def _sqlite_disk_fault(db: Database) -> str | None:
    directory = sqlite_directory(db)
    if directory is None:
        return None
    usage = os.statvfs(directory)
    free = usage.f_bfree if os.geteuid() == 0 else usage.f_bavail  # root may use the reserve
    return "disk_full" if free * usage.f_frsize < MIN_FREE_BYTES else None


def sqlite_directory(db: Database) -> Path | None:
    """The folder holding the database file (plain path or `file:` URI), None in memory."""
    name = db.engine.url.database or ""
    if name.startswith("file:"):
        name = name[len("file:"):].split("?", 1)[0]
    if name in ("", ":memory:"):
        return None
    return Path(name).resolve().parent


def _postgres_write_fault(db: Database) -> str | None:
    with db.engine.connect() as connection:
        read_only = connection.execute(text(
            "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on'"
        )).scalar()
    return "read_only" if read_only else None


# region: a check that never holds its caller longer than a timeout

T = TypeVar("T")


class CheckTimedOut(Exception):
    """The check did not finish in time; `waited` is how long the one in flight has run."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"no answer after {waited:.1f} s")
        self.waited = waited


class BoundedCheck(Generic[T]):
    """Runs a blocking check in a thread (a greenlet under gevent) and waits at most `timeout`.

    A database that hangs (processes stopped, network black-holed) holds the check's
    connection until it answers; no client-side timeout frees it. So at most ONE check runs at
    a time: while it hangs, later callers are told at once how long it has waited, instead of
    each leaving another stuck connection behind. When it finishes, the next call starts anew.
    """

    def __init__(self, run: Callable[[], T]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._in_flight: _Attempt[T] | None = None

    def __call__(self, timeout: float) -> T:
        with self._lock:
            attempt = self._in_flight
            if attempt is None or attempt.finished.is_set():
                attempt = self._in_flight = _Attempt(self._run)
        if not attempt.finished.wait(timeout):
            raise CheckTimedOut(time.monotonic() - attempt.started)
        return attempt.outcome()


class _Attempt(Generic[T]):
    def __init__(self, run: Callable[[], T]) -> None:
        self.started = time.monotonic()
        self.finished = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        self._run = run
        threading.Thread(target=self._target, name="pipewatch-readiness", daemon=True).start()

    def _target(self) -> None:
        try:
            self._result = self._run()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by outcome()
            self._error = exc
        finally:
            self.finished.set()

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

# endregion
