"""Client fleet: N live viewers (100 / 1,000 / 10,000) against the README's multi-worker server.

The server is started as README "Production" says: `gunicorn app:server -w W -c
python:api.serving --worker-connections C` on PostgreSQL (a server started by tests/pgserver.py,
or `--database-url`), with WS_MAX_CONNECTIONS per worker. The baseline, in the same run and
with the same fleet, is `python app.py serve` (one gevent worker) on a SQLite file.

The clients are not in the server's processes nor in this one: `--client-processes` processes
(multiprocessing), each holding its share of the N sockets on one `selectors` loop with a
minimal RFC 6455 client (handshake, frames, pong). Each reports the CPU time it used.

For each change (a metric POSTed at random gaps, one at a time): this process tells every client
process to note its sockets' current `seq` ("arm", acknowledged before anything is timed), sends
the POST, and each client process answers when every one of its sockets holds a newer `seq`,
with the time the last one got it. Figures per N:
- commit -> last client: from the row's `created_at` (stamped just before its INSERT commits)
  to the last of the N sockets having the change; p50 / p99;
- POST sent -> last client, p50 / p99 (the commit's own cost included);
- server CPU (utime + stime of gunicorn's master and workers, /proc) and client CPU (all client
  processes) over the measured changes, per change;
- server RSS (sum over master and workers) idle and with the N sockets open, and the RSS
  delta per 1,000 idle sockets per worker;
- how the sockets spread over the workers.
`seq` is per worker process until one computation per cluster lands (issue 13 part 1): a client
compares only with its own socket's earlier `seq`, so this works either way.
"""
from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import random
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from api.timeutil import isoformat, parse_iso, utcnow  # noqa: E402
from tests.live_fixtures import INGEST_TOKEN, WS_PATH, ProductionServer, free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SEQ = re.compile(rb'"seq":(\d+)')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def raise_own_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# region: one client process


class Client:
    """One socket of the fleet: the bytes not yet parsed and the newest `seq` it holds."""

    __slots__ = ("sock", "buffer", "seq")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.seq = -1


def open_socket(port: int) -> Client:
    """A blocking RFC 6455 handshake, then non-blocking (the frames follow on the loop)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    status_line = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status_line:
        raise ConnectionError(f"handshake refused: {status_line!r}")
    client = Client(sock)
    client.buffer += head.split(b"\r\n\r\n", 1)[1]
    sock.setblocking(False)
    return client


def masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body


def parse_frames(client: Client) -> bool:
    """Consume whole frames from the buffer; True when a newer `seq` arrived."""
    buffer, newer = client.buffer, False
    while len(buffer) >= 2:
        opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, start = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + size:
            break
        payload = bytes(buffer[start:start + size])
        del buffer[:start + size]
        if opcode == 0x1:
            at = payload.rfind(b'"seq":')  # stamped last: the document's own `seq`
            found = SEQ.match(payload, at) if at >= 0 else None
            if found and int(found.group(1)) > client.seq:
                client.seq, newer = int(found.group(1)), True
        elif opcode == 0x9:
            client.sock.sendall(masked_frame(0xA, payload))
        elif opcode == 0x8:
            raise ConnectionError(f"server closed the socket: {payload[2:]!r}")
    return newer


def read(client: Client) -> float:
    """Read what the socket has; the time it arrived if it brought a newer `seq`, else 0."""
    try:
        data = client.sock.recv(262144)
    except BlockingIOError:
        return 0.0
    if not data:
        raise ConnectionError("the server closed a socket")
    received = time.time()
    client.buffer += data
    return received if parse_frames(client) else 0.0


def client_process(port: int, count: int, control) -> None:
    """Open `count` sockets, then serve `arm` orders from `control` until `stop`."""
    raise_own_fd_limit()
    started_cpu = sum(os.times()[:2])
    clients: list[Client] = []
    selector = selectors.DefaultSelector()
    for opened in range(count):
        client = open_socket(port)
        clients.append(client)
        selector.register(client.sock, selectors.EVENT_READ, client)
        if opened % 50 == 49:  # read what came meanwhile: opening thousands outlasts a ping
            for key, _ in selector.select(timeout=0):
                read(key.data)
    selector.register(control, selectors.EVENT_READ, None)
    # An armed change: (id, the seq each socket held when armed, sockets not there yet, last t)
    armed: Optional[tuple[int, list[int], set[int], float]] = None
    index = {id(client): i for i, client in enumerate(clients)}
    control.send(("open", count))
    cpu_mark = sum(os.times()[:2])
    while True:
        for key, _ in selector.select(timeout=1.0):
            if key.data is None:
                order = control.recv()
                if order[0] == "stop":
                    control.send(("cpu", sum(os.times()[:2]) - started_cpu))
                    for client in clients:
                        client.sock.close()
                    return
                if order[0] == "cpu":  # CPU since the last `cpu` order
                    now_cpu = sum(os.times()[:2])
                    control.send(("cpu", now_cpu - cpu_mark))
                    cpu_mark = now_cpu
                    continue
                if order[0] == "seqs":  # every socket has a status: the lowest seq held
                    control.send(("seqs", min(client.seq for client in clients)))
                    continue
                baseline = [client.seq for client in clients]  # order == ("arm", change id)
                armed = (order[1], baseline, set(range(count)), 0.0)
                control.send(("armed", order[1]))
                continue
            client = key.data
            received = read(client)
            if received and armed is not None:
                change, baseline, waiting, last = armed
                i = index[id(client)]
                if i in waiting and client.seq > baseline[i]:
                    waiting.discard(i)
                    armed = (change, baseline, waiting, received)
                    if not waiting:
                        control.send(("reached", change, received))
                        armed = None


# endregion
# region: the server under test


def tree_pids(root: int) -> list[int]:
    """`root` and its children (gunicorn's master and workers)."""
    children = subprocess.run(["pgrep", "-P", str(root)], capture_output=True,
                              text=True).stdout.split()
    return [root] + [int(pid) for pid in children]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Gunicorn:
    """README's multi-worker command on a free port: `.port`, `.pid`, `.stop()`."""

    def __init__(self, database_url: str, workers: int, ws_max_per_worker: int) -> None:
        self.port = free_port()
        connections = ws_max_per_worker + 200
        command = [sys.executable, "-m", "gunicorn", "app:server", "-w", str(workers),
                   "--worker-connections", str(connections), "-c", "python:api.serving",
                   "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "1",
                   "--no-control-socket", "--log-level", "warning"]
        env = {**os.environ, "DATABASE_URL": database_url, "COLLECTOR_INTERVAL_SECONDS": "0",
               "SIMULATE": "0", "LOG_LEVEL": "WARNING", "PIPEWATCH_INGEST_TOKEN": INGEST_TOKEN,
               "WS_MAX_CONNECTIONS": str(ws_max_per_worker)}
        self.log_path = f"/tmp/pipewatch-fleet-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(Path(self.log_path).read_text()[-2000:])
            time.sleep(0.1)
        while len(tree_pids(self.pid)) < workers + 1:  # every worker booted
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
        self._log.close()


# endregion
# region: one measured scale


def metric_body(i: int) -> dict[str, Any]:
    return {"timestamp": isoformat(utcnow()), "window_seconds": 86400,
            "metric_type": "aggregate", "source": None, "geocoding_attempts": 1000 + i,
            "geocoding_successes": 930 + i % 50, "validation_attempts": 1000,
            "validation_passes": 970}


def ask_all(pipes: list, order: tuple, expect: str, timeout: float = 120) -> list[tuple]:
    for pipe in pipes:
        pipe.send(order)
    answers = []
    for pipe in pipes:
        if not pipe.poll(timeout):
            raise TimeoutError(f"a client process did not answer {order[0]!r}")
        answer = pipe.recv()
        assert answer[0] == expect, answer
        answers.append(answer)
    return answers


def measure(port: int, pid: int, n: int, processes: int, changes: int) -> dict[str, Any]:
    """Open the fleet on the server at `port` (process tree `pid`) and time `changes` changes."""
    pids = tree_pids(pid)
    rss_idle = sum(rss_mb(p) for p in pids)
    shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    context = multiprocessing.get_context("fork")
    pipes, workers = [], []
    for share in shares:
        here, there = context.Pipe()
        worker = context.Process(target=client_process, args=(port, share, there), daemon=True)
        worker.start()
        pipes.append(here)
        workers.append(worker)
    try:
        started = time.perf_counter()
        for pipe in pipes:
            if not pipe.poll(300):
                raise TimeoutError("client processes did not open their sockets")
            assert pipe.recv()[0] == "open"
        connect_seconds = time.perf_counter() - started
        while min(answer[1] for answer in ask_all(pipes, ("seqs",), "seqs")) < 0:
            time.sleep(0.2)  # every socket has its first status
        time.sleep(1.0)
        rss_open = sum(rss_mb(p) for p in pids)
        per_worker = {p: open_fds(p) for p in pids[1:]}
        session = requests.Session()
        auth = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        url = f"http://127.0.0.1:{port}/api/v1/metrics"
        from_commit, from_sent = [], []
        warmup = 3
        server_cpu = client_cpu = 0.0
        for i in range(changes + warmup):
            if i == warmup:
                ask_all(pipes, ("cpu",), "cpu")
                server_cpu = cpu_seconds(pids)
            ask_all(pipes, ("arm", i), "armed")
            sent = time.time()
            response = session.post(url, json=metric_body(i), headers=auth, timeout=120)
            assert response.status_code == 201, response.text
            committed = parse_iso(response.json()["items"][0]["created_at"]).timestamp()
            last = 0.0
            for pipe in pipes:
                if not pipe.poll(60):
                    raise TimeoutError(f"change {i} did not reach every socket in 60 s")
                answer = pipe.recv()
                assert answer[:2] == ("reached", i), answer
                last = max(last, answer[2])
            if i >= warmup:
                from_commit.append(last - committed)
                from_sent.append(last - sent)
            time.sleep(random.uniform(0.15, 0.45))
        server_cpu = cpu_seconds(pids) - server_cpu
        client_cpu = sum(answer[1] for answer in ask_all(pipes, ("cpu",), "cpu"))
        session.close()
    finally:
        for pipe in pipes:
            try:
                pipe.send(("stop",))
            except OSError:
                pass
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    workers_count = max(1, len(pids) - 1)
    return {"n": n, "from_commit": from_commit, "from_sent": from_sent,
            "server_cpu_ms": 1000 * server_cpu / changes,
            "client_cpu_ms": 1000 * client_cpu / changes,
            "rss_idle": rss_idle, "rss_open": rss_open,
            "per_1000": (rss_open - rss_idle) / (n / 1000),
            "workers": workers_count, "fds": sorted(per_worker.values()),
            "connect_seconds": connect_seconds}


# endregion


def seed(database_url: str, days: int) -> None:
    subprocess.run([sys.executable, "app.py", "seed", "--days", str(days)], check=True,
                   cwd=REPO_ROOT, capture_output=True,
                   env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})


def row(label: str, result: dict[str, Any], base: Optional[dict[str, Any]]) -> str:
    ms = lambda key, q: percentile(result[key], q) * 1000  # noqa: E731
    cells = [label, f"{result['n']:,}", f"{ms('from_commit', 50):.1f}",
             f"{ms('from_commit', 99):.1f}", f"{ms('from_sent', 50):.1f}",
             f"{ms('from_sent', 99):.1f}", f"{result['server_cpu_ms']:.0f}",
             f"{result['rss_idle']:.0f} -> {result['rss_open']:.0f}",
             f"{result['per_1000']:.1f}", f"{result['client_cpu_ms']:.0f}"]
    if base is not None:
        ratio = lambda key: (percentile(result[key], 99)  # noqa: E731
                             / max(1e-9, percentile(base[key], 99)))
        cells.append(f"p99 x{ratio('from_commit'):.2f}, CPU "
                     f"x{result['server_cpu_ms'] / max(1e-9, base['server_cpu_ms']):.2f}")
    else:
        cells.append("baseline")
    return "| " + " | ".join(cells) + " |"


HEADER = ("| server | N | commit->last p50 ms | p99 ms | POST sent->last p50 ms | p99 ms | "
          "server CPU ms/change | server RSS MB idle -> open | RSS MB per 1,000 sockets | "
          "client CPU ms/change | vs baseline |\n| --- | --- | --- | --- | --- | --- | --- | "
          "--- | --- | --- | --- |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="100 and 500 sockets, 2 workers, 20 changes (for make bench)")
    parser.add_argument("--clients", type=int, nargs="*", help="N (default 100 1000 10000)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default 4; quick 2)")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--changes", type=int, help="changes timed per N (default 60; quick 20)")
    parser.add_argument("--database-url", help="a migrated PostgreSQL database instead of a "
                                               "server started by the bench")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the single-worker SQLite baseline")
    args = parser.parse_args()
    scales = args.clients or ([100, 500] if args.quick else [100, 1000, 10000])
    workers = args.workers or (2 if args.quick else 4)
    changes = args.changes or (20 if args.quick else 60)
    raise_own_fd_limit()
    postgres = None
    if args.database_url:
        pg_url = args.database_url
    else:
        from tests.pgserver import start_server

        postgres = start_server()
        pg_url = postgres.create_database()
        seed(pg_url, 3)
    sqlite_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='pipewatch-fleet-')) / 'fleet.db'}"
    seed(sqlite_url, 3)
    print(f"pipewatch client fleet: N = {', '.join(map(str, scales))}; {workers} gevent workers "
          f"on PostgreSQL vs 1 worker on SQLite; {args.client_processes} client processes; "
          f"{changes} changes per N; {os.cpu_count()} cores", flush=True)
    lines = []
    try:
        for n in scales:
            base = None
            if not args.no_baseline:
                single = ProductionServer(sqlite_url, WS_MAX_CONNECTIONS=n + 50)
                try:
                    base = measure(single.port, single.process.pid, n,
                                   args.client_processes, changes)
                except (TimeoutError, requests.RequestException, ConnectionError) as exc:
                    lines.append(f"| 1 worker, SQLite | {n:,} | failed: {exc!r} |")
                finally:
                    single.stop()
                if base is not None:
                    lines.append(row("1 worker, SQLite (`app.py serve`)", base, None))
                print(lines[-1], flush=True)
            # Per worker: the whole fleet could land on one worker (the kernel hands each
            # connection to whichever worker accepts first), so no socket is refused here.
            server = Gunicorn(pg_url, workers, ws_max_per_worker=n + 50)
            try:
                result = measure(server.port, server.pid, n, args.client_processes, changes)
            except (TimeoutError, requests.RequestException, ConnectionError) as exc:
                lines.append(f"| {workers} workers, PostgreSQL | {n:,} | failed: {exc!r} |")
                print(lines[-1], flush=True)
                continue
            finally:
                server.stop()
            lines.append(row(f"{workers} workers, PostgreSQL (README command)", result, base))
            print(lines[-1] + f"  sockets per worker (open fds): {result['fds']}; "
                              f"connect {result['connect_seconds']:.1f} s", flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    print("\n" + HEADER + "\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
