"""The pieces behind bounded database waits, without a server: the cooperative SQLite lock wait,
the causes named for callers, and the readiness check that never holds its caller."""
from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from api.errors import database_fault
from api.storage.readiness import BoundedCheck, CheckTimedOut
from api.storage.sqlite_locks import PatientConnection


@pytest.fixture
def path(tmp_path) -> str:
    path = str(tmp_path / "locks.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.close()
    return path


def patient(path: str, wait: float) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=0, factory=PatientConnection,
                                 isolation_level="IMMEDIATE", check_same_thread=False)
    connection.lock_wait_seconds = wait
    return connection


@pytest.fixture
def holder(path):
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    if connection.in_transaction:
        connection.rollback()
    connection.close()


def test_a_write_waits_for_the_lock_and_then_succeeds(path, holder):
    writer = patient(path, wait=3)
    threading.Timer(0.3, holder.rollback).start()
    started = time.monotonic()
    writer.cursor().executemany("INSERT INTO t VALUES (?)", iter([(1,), (2,)]))
    writer.commit()
    assert 0.25 < time.monotonic() - started < 1.5
    assert writer.cursor().execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_a_write_gives_up_after_its_wait_with_sqlite_busy(path, holder):
    writer = patient(path, wait=0.3)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError) as raised:
        writer.cursor().execute("INSERT INTO t VALUES (1)")
    assert 0.25 < time.monotonic() - started < 1.0
    assert database_fault(raised.value) == "locked"
    assert not writer.in_transaction


def test_reads_do_not_wait_for_a_writer(path, holder):
    reader = patient(path, wait=5)
    started = time.monotonic()
    assert reader.cursor().execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert time.monotonic() - started < 0.1


def test_a_statement_inside_a_transaction_is_never_run_again(path, holder):
    """An open transaction may have read a snapshot; re-running a statement in it could act on
    a stale view, so the error goes straight to the caller."""
    writer = patient(path, wait=5)
    cursor = writer.cursor()
    sqlite3.Cursor.execute(cursor, "BEGIN")  # deferred: a read transaction first
    cursor.execute("SELECT count(*) FROM t").fetchone()
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError):
        cursor.execute("INSERT INTO t VALUES (1)")
    assert time.monotonic() - started < 0.5


def sqlite_error(code: int) -> sqlite3.OperationalError:
    """What the sqlite3 module raises for result `code` (it sets the same attribute)."""
    error = sqlite3.OperationalError("a message naming /some/path, which must not matter")
    error.sqlite_errorcode = code
    return error


def postgres_error(sqlstate: str) -> Exception:
    return psycopg.errors.lookup(sqlstate)("a message naming a host, which must not matter")


@pytest.mark.parametrize("error, cause", [
    (sqlite_error(5), "locked"),
    (sqlite_error(517), "locked"),  # SQLITE_BUSY_SNAPSHOT
    (sqlite_error(8), "read_only"),
    (sqlite_error(1032), "read_only"),  # SQLITE_READONLY_DBMOVED
    (sqlite_error(13), "disk_full"),
    (sqlite_error(10), "unavailable"),  # SQLITE_IOERR
    (postgres_error("25006"), "read_only"),
    (postgres_error("53100"), "disk_full"),
    (postgres_error("55P03"), "locked"),
    (postgres_error("57014"), "unavailable"),  # statement_timeout
    (postgres_error("23505"), None),  # a unique violation is not the database's fault
])
def test_driver_codes_name_the_cause(error, cause):
    assert database_fault(error) == cause


def test_a_bounded_check_answers_in_time_and_keeps_one_in_flight():
    release = threading.Event()
    runs = []

    def hung_then_fine() -> str:
        runs.append(1)
        release.wait(10)
        return "answered"

    check = BoundedCheck(hung_then_fine)
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(CheckTimedOut):
            check(0.1)
        assert time.monotonic() - started < 0.5
    assert len(runs) == 1  # later callers waited on the same attempt
    release.set()
    time.sleep(0.05)
    assert check(1.0) == "answered"
