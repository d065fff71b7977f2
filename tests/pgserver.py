"""A throwaway PostgreSQL server for tests and benchmarks, started from the machine's binaries.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` OS user on a
directory that user owns. The server listens on 127.0.0.1 on a free port with fsync off, and
is stopped (and its directory removed) by `stop()`.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install -y postgresql   (or: make test-deps, which does it when root)"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server would not start."""


def find_bin_dir() -> Path:
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise PostgresUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found. Fix: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    as_postgres_user: bool

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stderr.strip()[-800:]}")
        return result

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-instructions")
        options = (f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l",
                  str(self.data_dir / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except PostgresUnavailable:
            pass
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the same cluster (for tests of surviving a database restart)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        options = (f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l",
                  str(self.data_dir / "server.log"), "-w", "start")

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server() -> PostgresServer:
    """Start a new server in a temporary directory; the caller must `stop()` it."""
    bin_dir = find_bin_dir()
    as_root = os.geteuid() == 0
    parent = Path(tempfile.mkdtemp(prefix="pipewatch-pg-"))
    data_dir = parent / "data"
    data_dir.mkdir()
    if as_root:
        shutil.chown(parent, "postgres", "postgres")
        shutil.chown(data_dir, "postgres", "postgres")
        os.chmod(parent, 0o755)
    server = PostgresServer(bin_dir, data_dir, _free_port(), as_root)
    try:
        return server.start()
    except Exception:
        shutil.rmtree(parent, ignore_errors=True)
        raise


def start_standby(primary: PostgresServer) -> PostgresServer:
    """A hot standby of `primary` (pg_basebackup -R): a real read-only server, for tests of
    writes refused with `read_only_sql_transaction`. The caller must `stop()` it."""
    parent = Path(tempfile.mkdtemp(prefix="pipewatch-pg-standby-"))
    data_dir = parent / "data"
    if primary.as_postgres_user:
        shutil.chown(parent, "postgres", "postgres")
        os.chmod(parent, 0o755)
    standby = PostgresServer(primary.bin_dir, data_dir, _free_port(), primary.as_postgres_user)
    try:
        standby._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                     "postgres", "-D", str(data_dir), "-R", "-X", "stream", "-c", "fast")
        options = (f"-p {standby.port} -k {data_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c hot_standby=on -c max_connections=300")
        standby._run("pg_ctl", "-D", str(data_dir), "-o", options, "-l",
                     str(data_dir / "server.log"), "-w", "start")
    except Exception:
        shutil.rmtree(parent, ignore_errors=True)
        raise
    return standby
