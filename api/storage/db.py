"""Engine and sessions. Functions elsewhere take a session; their callers own its life.

`Database` bundles one engine with its session factory. SQLite files get WAL journaling so the
dashboard's reads never block the collector's writes (and vice versa).

Every wait on the database is bounded (`Waits`, from the settings): SQLite's write lock is
waited for in cooperative steps (api/storage/sqlite_locks.py), PostgreSQL gets connect,
statement, lock and pool timeouts. docs/architecture.md "Faults" says why.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Iterator, Mapping

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from api.settings import SETTINGS_BY_NAME, redact_url
from api.storage.sqlite_locks import PatientConnection


def _default(name: str) -> Any:
    return SETTINGS_BY_NAME[name].default


@dataclass(frozen=True)
class Waits:
    """How long the app waits on the database, per cause; 0 means no limit where allowed."""

    sqlite_lock: float = _default("SQLITE_LOCK_WAIT_SECONDS")
    pg_connect: int = _default("PG_CONNECT_TIMEOUT_SECONDS")
    pg_statement: float = _default("PG_STATEMENT_TIMEOUT_SECONDS")
    pg_lock: float = _default("PG_LOCK_TIMEOUT_SECONDS")
    pg_pool: float = _default("PG_POOL_TIMEOUT_SECONDS")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Waits":
        return cls(sqlite_lock=config["SQLITE_LOCK_WAIT_SECONDS"],
                   pg_connect=config["PG_CONNECT_TIMEOUT_SECONDS"],
                   pg_statement=config["PG_STATEMENT_TIMEOUT_SECONDS"],
                   pg_lock=config["PG_LOCK_TIMEOUT_SECONDS"],
                   pg_pool=config["PG_POOL_TIMEOUT_SECONDS"])


def make_engine(url: str, waits: Waits = Waits(), **kwargs) -> Engine:
    """An engine for `url`, tuned per dialect, with every wait bounded by `waits`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # isolation_level IMMEDIATE: pysqlite's implicit BEGIN before a write takes the lock.
        kwargs["connect_args"] = {"check_same_thread": False, "factory": PatientConnection,
                                  "isolation_level": "IMMEDIATE", "timeout": 0,
                                  **kwargs.get("connect_args", {})}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_setup, lock_wait=waits.sqlite_lock))
        return engine
    kwargs["connect_args"] = {**_postgres_connect_args(parsed.query.get("options"), waits),
                              **kwargs.get("connect_args", {})}
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", waits.pg_pool)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _postgres_server_default_access)
    return engine


def _postgres_server_default_access(dbapi_connection, _record) -> None:
    """Leave READ ONLY / READ WRITE to the server again once a connection is back in the pool.

    SQLAlchemy undoes a `postgresql_readonly` option (the status snapshot uses it) by setting
    psycopg's `read_only` to False, so every later transaction on that connection began with
    BEGIN READ WRITE; a standby refuses that even for reads ("cannot set transaction read-write
    mode during recovery"). None lets plain BEGINs through, and writes on a standby fail as
    writes, with cause read_only."""
    if dbapi_connection is not None and getattr(dbapi_connection, "read_only", None) is False:
        dbapi_connection.read_only = None


def _postgres_connect_args(url_options: Any, waits: Waits) -> dict[str, Any]:
    """libpq's connect_timeout, and the server-side timeouts as `-c` options of every session
    (after any `options` the URL carries, so the settings win)."""
    options = [url_options] if isinstance(url_options, str) and url_options else []
    for name, seconds in (("statement_timeout", waits.pg_statement),
                          ("lock_timeout", waits.pg_lock)):
        if seconds > 0:
            options.append(f"-c {name}={max(1, round(seconds * 1000))}")
    args: dict[str, Any] = {"options": " ".join(options)} if options else {}
    if waits.pg_connect > 0:
        args["connect_timeout"] = waits.pg_connect
    return args


def _sqlite_setup(dbapi_connection, _record, lock_wait: float) -> None:
    """WAL, and no busy wait inside SQLite: the lock is waited for in sqlite_locks instead."""
    dbapi_connection.lock_wait_seconds = lock_wait
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    in_memory = cursor.execute("PRAGMA database_list").fetchone()[2] == ""
    if not in_memory:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One engine and its session factory; `app.server.extensions['pipewatch'].db`."""

    def __init__(self, url: str, waits: Waits = Waits(), **engine_kwargs) -> None:
        self.url = url
        self.waits = waits
        self.engine = make_engine(url, waits, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
