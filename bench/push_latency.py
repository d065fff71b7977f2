"""Push latency and cost: the app under its production server (gunicorn, one gevent worker).

For N WebSocket clients (100 and 1,000; `--quick`: 50) this measures, in one run:

1. Latency: a metric is ingested (POST /api/v1/metrics) at least 50 times, at random gaps;
   for each, the time from just before the POST is sent (so the commit is inside the figure)
   until the LAST of the N clients holds a status with the new `seq`. p50/p95/p99/max.
   Baseline, from the same change times: the 5-second broadcast loop this design replaces
   would deliver each change at the loop's next tick (ticks at a random phase), plus the same
   fan-out time; its p50 is ~2.5 s whatever the server does.
2. Cost: server CPU seconds (utime+stime of the gunicorn worker, /proc/<pid>/stat) per
   client-minute, over equal windows with a metric ingested every second:
   - push: N sockets open, every change and heartbeat pushed;
   - Dash polling at the same 1 s freshness: N clients POST the page's poll callback
     (`/_dash-update-component`, dcc.Interval at 1 s) every second, on keep-alive connections;
   - idle: no clients (the ingest alone), subtracted from both.
   When polling saturates the worker, its figure is CPU per poll served x 60.

Clients run in this process (asyncio, `websockets`), on the same 2 cores as the server: at
1,000 clients the last client's timestamp includes the client side reading 999 others.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from websockets.asyncio.client import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.timeutil import isoformat, parse_iso, utcnow  # noqa: E402
from dashboard import ids  # noqa: E402
from tests.live_fixtures import INGEST_TOKEN, ProductionServer  # noqa: E402

SEQ = re.compile(rb'"seq":(\d+)')
LOOP_SECONDS = 5.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# region minimal keep-alive HTTP client (the pollers must not cost the bench more than the server)


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: str = "") -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                return await self._once(method, path, body, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _once(self, method, path, body, headers) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                           f"{headers}\r\n").encode() + body)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        length = int(re.search(r"content-length: *(\d+)", head).group(1))
        payload = await self.reader.readexactly(length)
        if "connection: close" in head:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def metric_body(i: int) -> bytes:
    return json.dumps({
        "timestamp": isoformat(utcnow()), "window_seconds": 86400, "metric_type": "aggregate",
        "source": None, "geocoding_attempts": 1000 + i, "geocoding_successes": 930 + i % 50,
        "validation_attempts": 1000, "validation_passes": 970}).encode()


POLL_BODY = json.dumps({
    "output": f"{ids.POLL_RESULT}.data",
    "outputs": {"id": ids.POLL_RESULT, "property": "data"},
    "inputs": [{"id": ids.POLL, "property": "n_intervals", "value": 1},
               {"id": ids.POLL_KICK, "property": "data", "value": 0},
               {"id": ids.REFRESH, "property": "n_clicks", "value": None}],
    "changedPropIds": [f"{ids.POLL}.n_intervals"], "state": []}).encode()

# endregion
# region clients


class Fleet:
    """N sockets; for each seq, how many clients have reached it and when the last one did."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sockets: list = []
        self.reached: dict[int, list] = {}
        self.tasks: list[asyncio.Task] = []
        self.changed = asyncio.Event()

    async def open(self, url: str) -> None:
        for start in range(0, self.n, 100):
            batch = await asyncio.gather(*(ws_connect(url, compression=None, ping_interval=None,
                                                      max_size=None, open_timeout=60)
                                           for _ in range(min(100, self.n - start))))
            self.sockets.extend(batch)
        self.tasks = [asyncio.create_task(self._read(ws)) for ws in self.sockets]

    async def _read(self, ws) -> None:
        mine = 0
        async for message in ws:
            now = time.time()
            found = SEQ.search(message.encode() if isinstance(message, str) else message)
            seq = int(found.group(1)) if found else 0
            for reached_seq in range(mine + 1, seq + 1):
                entry = self.reached.setdefault(reached_seq, [0, now, now])
                entry[0] += 1
                entry[2] = now
            if seq > mine:
                mine = seq
                self.changed.set()

    def all_at(self, seq: int) -> Optional[float]:
        entry = self.reached.get(seq)
        return entry[2] if entry and entry[0] >= self.n else None

    def top(self) -> int:
        return max((seq for seq, entry in self.reached.items() if entry[0] >= self.n), default=0)

    async def wait_all(self, seq: int, timeout: float = 30) -> float:
        deadline = time.time() + timeout
        while (done := self.all_at(seq)) is None:
            self.changed.clear()
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError(f"not every client reached seq {seq}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return done

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


# endregion
# region phases


async def measure_latency(server: ProductionServer, fleet: Fleet, changes: int) -> dict[str, Any]:
    """Ingest `changes` metrics one at a time; for each, when did the last client have it?

    t0 is the row's `created_at` (stamped by the server just before its INSERT commits), so
    the figure is commit -> last client; `sent` is from just before the POST left this process.
    """
    ingest = Http(server.port)
    auth = f"Authorization: Bearer {INGEST_TOKEN}\r\n"
    latencies, from_sent, posts, firsts, commits = [], [], [], [], []
    before = server.metrics()
    client_cpu = sum(os.times()[:2])
    for i in range(changes + 3):
        target = fleet.top() + 1
        sent = time.time()
        status, body = await ingest.request("POST", "/api/v1/metrics", metric_body(i), auth)
        posted = time.time()
        assert status == 201, status
        committed = parse_iso(json.loads(body)["items"][0]["created_at"]).timestamp()
        last = await fleet.wait_all(target)
        if i >= 3:  # the first few warm caches up
            latencies.append(last - committed)
            commits.append(committed)
            from_sent.append(last - sent)
            posts.append(posted - sent)
            firsts.append(fleet.reached[target][1] - committed)
        await asyncio.sleep(random.uniform(0.15, 0.45))
    await ingest.close()
    client_cpu = sum(os.times()[:2]) - client_cpu
    after = server.metrics()
    broadcasts = (after["pipewatch_broadcast_seconds_count"]
                  - before["pipewatch_broadcast_seconds_count"])
    broadcast_ms = 1000 * (after["pipewatch_broadcast_seconds_sum"]
                           - before["pipewatch_broadcast_seconds_sum"]) / max(1, broadcasts)
    # The loop this replaces: each change waits for the next tick of a 5 s loop (random phase,
    # the same change times), then the same delivery.
    phase = random.uniform(0, LOOP_SECONDS)
    baseline = [LOOP_SECONDS - (commit - phase) % LOOP_SECONDS + latency
                for commit, latency in zip(commits, latencies)]
    return {"push": latencies, "loop": baseline, "sent": from_sent, "post": posts,
            "first": firsts, "broadcast_ms": broadcast_ms, "broadcasts": broadcasts,
            "client_cpu_ms": 1000 * client_cpu / (changes + 3)}


async def ingest_every_second(port: int, stop_at: float) -> None:
    ingest = Http(port)
    auth = f"Authorization: Bearer {INGEST_TOKEN}\r\n"
    i = 0
    while time.perf_counter() < stop_at:
        await ingest.request("POST", "/api/v1/metrics", metric_body(10_000 + i), auth)
        i += 1
        await asyncio.sleep(1.0)
    await ingest.close()


async def cpu_window(server: ProductionServer, seconds: float, pollers: int = 0) -> dict:
    """Worker CPU with a metric ingested every second for `seconds` (and `pollers` polling).

    Pollers stop asking at the end of the window but finish the request they are waiting for;
    the CPU is read once every poll has been answered, and every answered poll is counted, so
    CPU / polls is the cost of one poll even when the worker cannot keep up.
    """
    pid = server.worker_pid()
    served = [0]
    start_cpu, started = cpu_seconds(pid), time.perf_counter()
    stop_at = started + seconds

    async def poll_loop() -> None:
        http = Http(server.port)
        next_at = time.perf_counter() + random.uniform(0, 1)
        while True:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            if time.perf_counter() >= stop_at:
                break
            status, _ = await http.request("POST", "/_dash-update-component", POLL_BODY)
            served[0] += status == 200
            next_at += 1.0
        await http.close()

    await asyncio.gather(ingest_every_second(server.port, stop_at),
                         *(poll_loop() for _ in range(pollers)))
    elapsed = time.perf_counter() - started
    return {"cpu": cpu_seconds(pid) - start_cpu, "seconds": elapsed, "polls": served[0]}


# endregion


def seed_database(days: int, postgres) -> str:
    """A fresh demo database: a SQLite file, or a database on the given PostgreSQL server."""
    if postgres is not None:
        url = postgres.create_database()
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='pipewatch-bench-')) / 'bench.db'}"
    subprocess.run([sys.executable, "app.py", "seed", "--days", str(days)], check=True,
                   cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                   env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    return url


async def run_scale(database_url: str, n: int, changes: int, window: float) -> dict[str, Any]:
    server = ProductionServer(database_url, WS_MAX_CONNECTIONS=n + 50)
    try:
        idle = await cpu_window(server, window)
        fleet = Fleet(n)
        await fleet.open(server.ws_url)
        await fleet.wait_all(fleet.top() or 1)
        latency = await measure_latency(server, fleet, changes)
        push = await cpu_window(server, window)
        await fleet.close()
        await asyncio.sleep(1)
        poll = await cpu_window(server, window, pollers=n)
    finally:
        server.stop()
    idle_rate = idle["cpu"] / idle["seconds"]
    push_net = max(0.0, push["cpu"] - idle_rate * push["seconds"])
    poll_net = max(0.0, poll["cpu"] - idle_rate * poll["seconds"])
    return {
        "n": n, "latency": latency,
        "push_cpu_per_client_minute": push_net / (n * push["seconds"] / 60),
        "poll_cpu_per_client_minute": (poll_net / poll["polls"] * 60) if poll["polls"] else None,
        "polls_served_per_second": poll["polls"] / poll["seconds"],
        "window": window,
        "raw": {"idle": idle, "push": push, "poll": poll},
    }


def report(result: dict[str, Any]) -> None:
    push, loop = result["latency"]["push"], result["latency"]["loop"]
    ms = lambda values, q: percentile(values, q) * 1000  # noqa: E731
    print(f"\nN = {result['n']} clients, {len(push)} changes")
    print(f"  push  commit->last client: p50 {ms(push, 50):7.1f} ms  p95 {ms(push, 95):7.1f} ms"
          f"  p99 {ms(push, 99):7.1f} ms  max {max(push) * 1000:7.1f} ms")
    print(f"  5 s loop (same changes):   p50 {ms(loop, 50):7.1f} ms  p95 {ms(loop, 95):7.1f} ms"
          f"  p99 {ms(loop, 99):7.1f} ms  mean {statistics.mean(loop) * 1000:7.1f} ms")
    post, first, sent = (result["latency"][key] for key in ("post", "first", "sent"))
    print(f"  from POST sent (upper bound): p50 {ms(sent, 50):.1f} ms, p99 {ms(sent, 99):.1f} ms;"
          f" POST round trip p50 {ms(post, 50):.1f} ms")
    print(f"  commit->first client p50 {ms(first, 50):.1f} ms, p99 {ms(first, 99):.1f} ms; "
          f"server broadcast (compute + serialise + hand out) mean "
          f"{result['latency']['broadcast_ms']:.1f} ms over {result['latency']['broadcasts']:.0f}; "
          f"this process (the clients) used {result['latency']['client_cpu_ms']:.0f} ms CPU "
          f"per change")
    print("  slowest: " + ", ".join(f"{value * 1000:.0f}" for value in sorted(push)[-5:]) + " ms")
    push_cost, poll_cost = result["push_cpu_per_client_minute"], result["poll_cpu_per_client_minute"]
    print(f"  server CPU s per client-minute: push {push_cost:.4f}, Dash polling at 1 s "
          f"{poll_cost:.4f} ({poll_cost / push_cost if push_cost else float('inf'):.0f}x); "
          f"polls answered {result['polls_served_per_second']:.0f}/s of {result['n']}/s asked")
    raw = result["raw"]
    print("  raw: " + ", ".join(f"{name} {value['cpu']:.2f} CPU s in {value['seconds']:.1f} s"
                                for name, value in raw.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 clients, short windows")
    parser.add_argument("--clients", type=int, nargs="*", help="client counts (default 100 1000)")
    parser.add_argument("--changes", type=int, default=60, help="changes measured per N (>= 50)")
    parser.add_argument("--window", type=float, help="seconds per CPU window (default 30; quick 5)")
    parser.add_argument("--postgres", action="store_true",
                        help="a PostgreSQL server started by the bench instead of a SQLite file")
    args = parser.parse_args()
    scales = args.clients or ([50] if args.quick else [100, 1000])
    window = args.window or (5.0 if args.quick else 30.0)
    changes = 50 if args.quick else max(50, args.changes)
    postgres = None
    if args.postgres:
        from tests.pgserver import start_server

        postgres = start_server()
    try:
        database_url = seed_database(3 if args.quick else 30, postgres)
        print(f"pipewatch push benchmark: {', '.join(map(str, scales))} clients, gunicorn + "
              f"gevent (1 worker), {'PostgreSQL 15' if postgres else 'SQLite'} demo database "
              f"({3 if args.quick else 30} days), {os.cpu_count()} cores")
        for n in scales:
            report(asyncio.run(run_scale(database_url, n, changes, window)))
    finally:
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
