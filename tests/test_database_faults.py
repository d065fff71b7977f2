"""Honest readiness and named causes: a database that cannot be written to (read-only, disk
full) makes /readyz 503 with the cause; a write that fails says why in its 503 `details` and in
the log (read_only, disk_full, locked), never with a path or a secret; Retry-After only when
waiting helps. Both backends where the fault exists on both."""
from __future__ import annotations

import logging
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from api.storage import migrate
from api.storage.db import Database
from tests.conftest import BASE_OVERRIDES
from tests.live_fixtures import scrape_run_body
from tests.pgserver import start_standby

TOKEN = "faults-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build_app(url: str, **overrides):
    from app import create_app

    return create_app({**BASE_OVERRIDES, "DATABASE_URL": url, "PIPEWATCH_INGEST_TOKEN": TOKEN,
                       **overrides})


@pytest.fixture
def apps() -> Iterator:
    built = []

    def build(url: str, **overrides):
        built.append(build_app(url, **overrides))
        return built[-1].server.test_client()

    yield build
    for app in built:
        app.server.extensions["pipewatch"].close()


def migrated_sqlite_file(folder: Path) -> Path:
    path = folder / "pipewatch.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


def assert_fault(response, cause: str, secret_free_of: str = "") -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["details"]["cause"] == cause
    if secret_free_of:
        assert secret_free_of not in response.get_data(as_text=True)


# region: read-only


def test_a_read_only_sqlite_file_is_not_ready_and_writes_name_the_cause(tmp_path, apps, caplog):
    path = migrated_sqlite_file(tmp_path)
    client = apps(f"sqlite:///file:{path}?mode=ro&uri=true")
    ready = client.get("/readyz")
    assert_fault(ready, "read_only", str(tmp_path))
    assert ready.get_json()["error"]["code"] == "not_ready"
    assert client.get("/api/v1/monitoring/pipeline-status").status_code == 200  # reads work

    with caplog.at_level(logging.WARNING, logger="api.errors"):
        write = client.post("/api/v1/scrape-runs", json=scrape_run_body(), headers=AUTH)
    assert_fault(write, "read_only", str(tmp_path))
    assert write.get_json()["error"]["code"] == "database_unavailable"
    assert "Retry-After" not in write.headers  # waiting does not help: an operator must act
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "read_only" in logged and "SQLITE_READONLY" in logged
    assert str(tmp_path) not in logged


@pytest.mark.postgres
def test_a_postgresql_standby_is_not_ready_and_writes_name_the_cause(pg_server, apps):
    url = pg_server.create_database()
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    standby = start_standby(pg_server)
    try:
        client = apps(standby.url(url.rsplit("/", 1)[1]), AUTO_MIGRATE=False)
        assert client.get("/api/v1/monitoring/pipeline-status").status_code == 200
        assert_fault(client.get("/readyz"), "read_only")
        write = client.post("/api/v1/scrape-runs", json=scrape_run_body(), headers=AUTH)
        assert_fault(write, "read_only")
        assert "Retry-After" not in write.headers
    finally:
        standby.stop()
        pg_server.drop_database(url.rsplit("/", 1)[1])

# endregion
# region: locked


def test_readyz_does_not_wait_for_a_held_sqlite_lock(tmp_path, apps):
    path = migrated_sqlite_file(tmp_path)
    client = apps(f"sqlite:///{path}", SQLITE_LOCK_WAIT_SECONDS=0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert client.get("/readyz").status_code == 200  # writable: writes wait for the lock
        assert time.monotonic() - started < 0.25
        write = client.post("/api/v1/scrape-runs", json=scrape_run_body(), headers=AUTH)
        assert_fault(write, "locked")
        assert write.headers["Retry-After"] == "1"
    finally:
        holder.rollback()
        holder.close()
    assert client.post("/api/v1/scrape-runs", json=scrape_run_body(), headers=AUTH).status_code == 201


@pytest.mark.postgres
def test_a_postgresql_lock_held_too_long_is_503_locked(pg_server, apps):
    url = pg_server.create_database()
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    try:
        client = apps(url, PG_LOCK_TIMEOUT_SECONDS=0.3)
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo) as holder:
            holder.execute("LOCK TABLE scrape_runs IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            write = client.post("/api/v1/scrape-runs", json=scrape_run_body(), headers=AUTH)
            assert time.monotonic() - started < 3
            assert_fault(write, "locked")
            assert write.headers["Retry-After"] == "1"
            holder.rollback()
        assert client.post("/api/v1/scrape-runs", json=scrape_run_body(),
                           headers=AUTH).status_code == 201
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.mark.postgres
def test_postgresql_sessions_carry_the_timeouts(pg_server):
    url = pg_server.create_database()
    from api.storage.db import Waits

    db = Database(url, Waits(pg_statement=1.5, pg_lock=0.25, pg_connect=3))
    try:
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "1500ms"
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "250ms"
        assert db.engine.pool.timeout() == Waits().pg_pool
    finally:
        db.dispose()
        pg_server.drop_database(url.rsplit("/", 1)[1])

# endregion
# region: disk full (a real, tiny tmpfs)


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for this test; skipped where mounting is not allowed."""
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): "
                    f"{mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros beside the database until the disk refuses more."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_not_ready_and_writes_name_the_cause(tiny_disk, apps, caplog):
    path = migrated_sqlite_file(tiny_disk)
    client = apps(f"sqlite:///{path}")
    assert client.get("/readyz").status_code == 200
    filler = fill(tiny_disk)
    assert_fault(client.get("/readyz"), "disk_full", str(tiny_disk))
    rows = [scrape_run_body(f"full-disk-{i}") for i in range(2000)]  # more than the WAL holds
    with caplog.at_level(logging.WARNING, logger="api.errors"):
        write = client.post("/api/v1/scrape-runs", json=rows, headers=AUTH)
    assert_fault(write, "disk_full", str(tiny_disk))
    assert "disk_full" in "\n".join(record.getMessage() for record in caplog.records)

    filler.unlink()  # the operator frees space: both recover by themselves
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/v1/scrape-runs", json=rows[:10], headers=AUTH).status_code == 201

# endregion
