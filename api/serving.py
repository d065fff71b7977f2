"""`python app.py serve`: the app under gunicorn with one gevent worker.

Why gunicorn + gevent: every open WebSocket holds its handler for as long as it is open. A
gevent worker runs each one as a greenlet, so one process holds thousands of sockets while
still answering HTTP; Werkzeug's dev server cannot close a socket cleanly (clients see 1006),
and threaded workers need a thread per socket.

`serve(config)` replaces this process with gunicorn (signals then reach gunicorn directly).
Every setting travels in the environment, never on the command line where `ps` would show the
database password. gunicorn loads this module as its config (`-c python:api.serving`) for
the worker class and request limits below, and for one hook: when the worker is told to stop,
its sockets are closed at once with 1001 ("going away"), so clients reconnect elsewhere
instead of waiting out the graceful timeout.

Several workers or hosts: run gunicorn yourself, as README shows (`gunicorn_command` is that
command); with PostgreSQL they all hear every change through LISTEN/NOTIFY.

Metrics across workers: three more hooks put prometheus-client in its multiprocess mode
whenever gunicorn runs with this config (api/telemetry.py): the master points
PROMETHEUS_MULTIPROC_DIR at a fresh directory before forking any worker (or empties the one it
was given), marks each exited worker dead (its live gauges, such as open sockets, drop out),
and removes the directory it made when it exits.
"""
from __future__ import annotations

import glob
import logging
import os
import resource
import shutil
import sys
import tempfile
from typing import Any, Mapping

from api.settings import REPO_ROOT, SETTINGS, load_config

APP = "app:server"
# File descriptors a worker holds besides its sockets: the listening socket, log files, the
# database pool and LISTEN connection, the pipes of gevent's hub and thread pool.
FD_OVERHEAD = 100

log = logging.getLogger("gunicorn.error")

# region: gunicorn settings (gunicorn reads these names from this module, its config file)

# The gevent worker, writing gunicorn's own 414 and 431 in the API's JSON error shape.
worker_class = "api.gunicorn_worker.JsonErrorGeventWorker"
# gunicorn's largest bounded limits (its default request line is 4094 bytes). The API's
# biggest query (100 `source` names of up to 100 characters, a 512-character cursor, a range)
# can reach ~11 KB in plain ASCII and more percent-encoded, past any bounded value: README
# "Failure modes" says what fits. 0 would be unbounded, for every client.
REQUEST_LINE_LIMIT = 8190
HEADER_FIELD_LIMIT = 8190
limit_request_line = REQUEST_LINE_LIMIT
limit_request_field_size = HEADER_FIELD_LIMIT

# endregion


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def settings_env(config: Mapping[str, Any]) -> dict[str, str]:
    """The settings as environment variables (the app reads them back with load_config)."""
    return {setting.name: _env_value(config[setting.name])
            for setting in SETTINGS if setting.name in config}


def gunicorn_command(config: Mapping[str, Any], workers: int = 1) -> list[str]:
    """The gunicorn command line for these settings (no secrets in it)."""
    host = config["HOST"]
    bind = f"[{host}]:{config['PORT']}" if ":" in host else f"{host}:{config['PORT']}"
    # Each socket is a gevent "connection"; leave room for HTTP requests beside them.
    connections = max(1000, config["WS_MAX_CONNECTIONS"] + 200)
    return [sys.executable, "-m", "gunicorn", APP,
            "--workers", str(workers),  # worker class and limits: this module, above
            "--worker-connections", str(connections),
            "--bind", bind, "--chdir", str(REPO_ROOT),
            "--graceful-timeout", str(config["GRACEFUL_TIMEOUT_SECONDS"]),
            "--no-control-socket", "--config", "python:api.serving",
            "--log-level", str(config["LOG_LEVEL"]).lower()]


def serve(config: Mapping[str, Any]) -> int:
    """Replace this process with gunicorn serving the app; returns only if exec fails."""
    command = gunicorn_command(config)
    env = {**os.environ, **settings_env(config)}
    print(f"serving http://{config['HOST']}:{config['PORT']} (gunicorn, gevent worker)",
          flush=True)
    os.execve(command[0], command, env)
    return 1  # pragma: no cover - execve does not return


def fds_needed(ws_max_connections: int, worker_connections: int) -> int:
    """Descriptors one worker may hold: its sockets (gunicorn's cap on connections, which counts
    WebSockets and HTTP requests alike, or WS_MAX_CONNECTIONS if larger) plus its own files.
    RLIMIT_NOFILE is per process, so this is per worker whatever the number of workers."""
    return max(ws_max_connections, worker_connections) + FD_OVERHEAD


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; returns (soft, hard) after.

    Why: the soft limit is often 1,024 (systemd, docker, login shells) while every open
    WebSocket is a descriptor, so a worker past ~1,000 viewers would fail `accept()` with
    EMFILE, refusing every new connection, HTTP included. Raising the soft limit up to the hard
    one needs no privilege; past the hard limit only the administrator can go, so say how.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # e.g. above the kernel's fs.nr_open
            log.warning("could not raise the open-file limit from %d to %d: %s",
                        soft, target, exc)
    log.info("open-file limit per process: %s (hard %s); each worker needs about %d",
             soft, hard, needed)
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "the open-file limit (%d) is below what WS_MAX_CONNECTIONS and "
            "--worker-connections need per worker (%d): sockets past it are refused. Raise the "
            "hard limit: `ulimit -Hn %d` before starting, LimitNOFILE=%d in the systemd unit, "
            "or `--ulimit nofile=%d:%d` for docker", soft, needed, needed, needed, needed, needed)
    return soft, hard


# region: gunicorn hooks (this module is gunicorn's config file; only hook names are read)

# prometheus-client's own variable (api.telemetry.MULTIPROC_ENV). Not imported from there: this
# module is loaded by the gunicorn master before `on_starting`, and importing prometheus_client
# before the variable is set would fix single-process mode in every worker forked later.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_made_metrics_dir: list[str] = []  # the directory `on_starting` created, for `on_exit`


def on_starting(server) -> None:
    """In the master, before any worker (they inherit both): the open-file limit raised
    (`raise_fd_limit`), and the directory every worker writes its metrics to.

    A directory given in PROMETHEUS_MULTIPROC_DIR is used, with the files of an earlier run
    removed (their counters would be added to this run's); otherwise a fresh one is made.
    """
    ws_max = load_config()["WS_MAX_CONNECTIONS"]
    raise_fd_limit(fds_needed(ws_max, server.cfg.worker_connections))
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        for stale in glob.glob(os.path.join(given, "*.db")):
            os.remove(stale)
        return
    made = tempfile.mkdtemp(prefix="pipewatch-metrics-")
    _made_metrics_dir.append(made)
    os.environ[MULTIPROC_ENV] = made


def child_exit(server, worker) -> None:
    """A worker has exited: its live gauges (open sockets, ...) leave the sums; counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """The master ends: remove the metrics directory it made (not one it was given)."""
    for made in _made_metrics_dir:
        shutil.rmtree(made, ignore_errors=True)



def post_worker_init(worker) -> None:
    """Freeze what loading the app allocated, and close its sockets (1001) when told to stop.

    Importing Dash, plotly and SQLAlchemy and building the app leaves ~140,000 objects that live
    as long as the process. Left to the collector, every full collection walks them all again:
    pauses of 80-170 ms were measured in the middle of pushes to 1,000 sockets (p99 740 ms).
    `gc.freeze()` moves them out of its sight once loaded; full collections then take ~4 ms
    (p99 ~150 ms at 1,000 sockets, bench/push_latency.py).
    """
    import gc

    gc.collect()
    gc.freeze()
    runtime = getattr(worker.wsgi, "extensions", {}).get("pipewatch")
    if runtime is None:
        return
    import threading  # patched by gevent in a gevent worker: this is a greenlet
    import time

    def watch() -> None:
        while worker.alive:
            time.sleep(0.2)
        runtime.close(timeout=1.0)

    threading.Thread(target=watch, name="pipewatch-shutdown", daemon=True).start()


# endregion
