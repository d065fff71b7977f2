"""Export throughput and memory over HTTP, and the series query's latency, at 100 k to 10 M rows.

For each size: a SQLite file is built by bulk insert (a realistic mix: per hour 9 `hourly` rows,
8 sources + all, and 12 collector cycles of 1 `aggregate` + 8 `source` rows), the app is served
by its production server (gunicorn, one gevent worker) in a separate process, and the whole
table is downloaded as CSV and as NDJSON with a streaming HTTP client. Reported: rows/s and the
server worker's peak RSS (VmHWM from /proc, a fresh server per size, so 100 k and 1 M compare).
Baselines in the same run: the naive export (`pandas.read_sql` of the table, then `to_csv`) in
its own process, with its peak RSS; and walking the JSON pages (limit=1000) over HTTP.
On PostgreSQL, CSV is streamed by COPY; the generic row path (server-side cursor + Python
formatting, what SQLite and NDJSON use) is measured too, in a second server started with
EXPORT_CSV_VIA_COPY=0 (a setting), and both CSVs must be byte for byte the same.

Series: `fetch_series` for 30 days x 8 sources, hour buckets, random windows, p50/p95 over
`--repeat` queries, beside the naive way (load the window's hourly rows with pandas and
aggregate there).

    PYTHONPATH=. .venv/bin/python bench/export.py [--quick] [--sizes 100000,1000000]
        [--series-sizes 1000000,10000000]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

from api.storage import migrate
from api.settings import load_config
from api.storage.db import Database
from api.serving import gunicorn_command, settings_env
from api.timeutil import UTC

SOURCES = ["punch", "vanguard", "premium_times", "channels", "guardian", "daily_trust",
           "sahara", "thisday"]
ROWS_PER_HOUR = 9 + 12 * 9
END = datetime(2026, 11, 1, tzinfo=UTC)
INSERT = ("INSERT INTO data_quality_metrics (timestamp, window_seconds, metric_type, source, "
          "geocoding_attempts, geocoding_successes, validation_attempts, validation_passes, "
          "status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)")


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.000000")


def rows(count: int, seed: int = 7):
    """`count` metric rows ending at END, oldest first."""
    rng = random.Random(seed)
    hours = -(-count // ROWS_PER_HOUR)
    made = 0
    for h in range(hours, 0, -1):
        hour_end = END - timedelta(hours=h - 1)
        for cycle in range(12):
            stamp = _text(hour_end - timedelta(minutes=55 - 5 * cycle))
            for source in [None] + SOURCES:
                if made == count:
                    return
                attempts = rng.randint(200, 400) * (8 if source is None else 1)
                yield (stamp, 86400, "aggregate" if source is None else "source", source,
                       attempts, int(attempts * 0.93), attempts, int(attempts * 0.97),
                       "healthy", stamp)
                made += 1
        stamp = _text(hour_end)
        for source in [None] + SOURCES:
            if made == count:
                return
            attempts = rng.randint(5, 40) * (8 if source is None else 1)
            ok = int(attempts * rng.uniform(0.7, 1.0))
            yield (stamp, 3600, "hourly", source, attempts, ok, attempts, attempts - 1,
                   "healthy" if ok >= 0.9 * attempts else "warning", stamp)
            made += 1


def build_sqlite(path: Path, count: int) -> float:
    """A migrated SQLite file holding `count` rows; seconds taken. Indexes built after load."""
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND "
        "tbl_name='data_quality_metrics' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        connection.execute(f"DROP INDEX {name}")
    batch = []
    for row in rows(count):
        batch.append(row)
        if len(batch) == 100_000:
            connection.executemany(INSERT, batch)
            batch.clear()
    connection.executemany(INSERT, batch)
    for _, sql in indexes:
        connection.execute(sql)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    return time.perf_counter() - started


COPY_COLUMNS = ("timestamp", "window_seconds", "metric_type", "source", "geocoding_attempts",
                "geocoding_successes", "validation_attempts", "validation_passes", "status",
                "created_at")


def build_postgres(url: str, count: int) -> float:
    """A migrated PostgreSQL database holding `count` rows, loaded by COPY; seconds taken."""
    db = Database(url)
    migrate.upgrade(db.engine)
    started = time.perf_counter()
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        indexes = cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
            "'data_quality_metrics' AND indexname <> 'pk_data_quality_metrics'").fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with cursor.copy(f"COPY data_quality_metrics ({', '.join(COPY_COLUMNS)}) "
                         "FROM STDIN") as copy:
            for row in rows(count):
                copy.write_row((row[0] + "+00", *row[1:9], row[9] + "+00"))
        for _, definition in indexes:
            cursor.execute(definition)
        connection.commit()
        cursor.execute("ANALYZE data_quality_metrics")
        connection.commit()
    finally:
        connection.close()
        db.dispose()
    return time.perf_counter() - started


# region The server process

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """The app under gunicorn (one gevent worker), as `python app.py serve` runs it."""

    def __init__(self, url: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        config = load_config({"DATABASE_URL": url, "PORT": self.port, "AUTO_MIGRATE": False,
                              "COLLECTOR_INTERVAL_SECONDS": 0, "SIMULATE": False,
                              "LOG_LEVEL": "WARNING"})
        env = {**os.environ, **settings_env(config), "PYTHONPATH": str(Path.cwd()),
               **(extra_env or {})}
        self.process = subprocess.Popen(gunicorn_command(config), env=env)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.base + "/healthz", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start")

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])

    def memory_mb(self, field: str) -> float:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

# endregion


def download(url: str, params: dict) -> tuple[int, float, int, str]:
    """(lines, seconds, bytes, sha256) of a streamed download."""
    started = time.perf_counter()
    lines = size = 0
    digest = hashlib.sha256()
    with requests.get(url, params=params, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
            digest.update(chunk)
    return lines, time.perf_counter() - started, size, digest.hexdigest()


def walk_pages(base: str, max_rows: int) -> tuple[int, float]:
    """The JSON-pages baseline: follow next_url until `max_rows` rows or the end."""
    started = time.perf_counter()
    url, seen = f"{base}/api/v1/metrics?limit=1000", 0
    while url and seen < max_rows:
        body = requests.get(url, timeout=60).json()
        seen += len(body["items"])
        url = base + body["next_url"] if body["next_url"] else None
    return seen, time.perf_counter() - started


PANDAS_BASELINE = """
import sys, time, pandas, sqlalchemy
engine = sqlalchemy.create_engine(sys.argv[1])
started = time.perf_counter()
frame = pandas.read_sql("SELECT * FROM data_quality_metrics ORDER BY timestamp, id", engine)
frame.to_csv(sys.argv[2], index=False)
elapsed = time.perf_counter() - started
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]
print(len(frame), elapsed, int(hwm) / 1024)
"""


def pandas_baseline(url: str) -> tuple[int, float, float]:
    with tempfile.NamedTemporaryFile(suffix=".csv") as out:
        result = subprocess.run([sys.executable, "-c", PANDAS_BASELINE, url, out.name],
                                capture_output=True, text=True, check=True)
    count, seconds, peak = result.stdout.split()
    return int(count), float(seconds), float(peak)


def export_figures(url: str, count: int, pages_rows: int) -> dict:
    server = Server(url)
    try:
        idle = server.memory_mb("VmRSS")
        figures = {"rows": count, "idle_rss_mb": idle}
        for fmt in ("csv", "ndjson"):
            lines, seconds, size, digest = download(server.base + "/api/v1/metrics",
                                                    {"format": fmt})
            data_rows = lines - (1 if fmt == "csv" else 0)
            assert data_rows == count, (fmt, data_rows, count)
            figures[fmt] = {"rows_per_s": count / seconds, "seconds": seconds,
                            "mb": size / 1e6, "sha256": digest}
        figures["peak_rss_mb"] = server.memory_mb("VmHWM")
        seen, seconds = walk_pages(server.base, pages_rows)
        figures["json_pages"] = {"rows": seen, "rows_per_s": seen / seconds}
    finally:
        server.stop()
    if url.startswith("postgresql"):
        figures["csv_row_path"] = row_path_csv(url, count, figures["csv"]["sha256"])
    count_b, seconds_b, peak_b = pandas_baseline(url)
    figures["pandas"] = {"rows_per_s": count_b / seconds_b, "peak_rss_mb": peak_b}
    return figures


def row_path_csv(url: str, count: int, copy_digest: str) -> dict:
    """Baseline on PostgreSQL: the same CSV through the generic row path (no COPY)."""
    server = Server(url, {"EXPORT_CSV_VIA_COPY": "0"})
    try:
        lines, seconds, size, digest = download(server.base + "/api/v1/metrics",
                                                {"format": "csv"})
        assert lines - 1 == count, (lines, count)
        assert digest == copy_digest, "COPY CSV differs from the row path's CSV"
        return {"rows_per_s": count / seconds, "seconds": seconds,
                "peak_rss_mb": server.memory_mb("VmHWM")}
    finally:
        server.stop()


def series_figures(url: str, repeat: int) -> dict:
    import pandas
    from sqlalchemy import func, select, text

    from api.storage.models import DataQualityMetric as M
    from api.status.series import fetch_series

    db = Database(url)
    with db.session() as session:
        first, last = session.execute(select(func.min(M.timestamp), func.max(M.timestamp))
                                      .where(M.metric_type == "hourly")).one()
    span = max((last - first) - timedelta(days=30), timedelta(0))
    rng = random.Random(1)
    ours, naive, points = [], [], 0
    for _ in range(repeat):
        start = first + span * rng.random()
        end = start + timedelta(days=30)
        started = time.perf_counter()
        with db.session() as session:
            result = fetch_series(session, metric="geocoding_success_rate", start=start,
                                  end=end, sources=SOURCES, bucket="hour")
        ours.append((time.perf_counter() - started) * 1000)
        points = len(result)
        started = time.perf_counter()
        frame = pandas.read_sql(text(
            "SELECT timestamp, source, geocoding_attempts, geocoding_successes "
            "FROM data_quality_metrics WHERE metric_type='hourly' AND timestamp > :s AND "
            "timestamp <= :e AND source IS NOT NULL"), db.engine,
            params=({"s": _text(start), "e": _text(end)} if db.dialect == "sqlite"
                    else {"s": start, "e": end}), parse_dates=["timestamp"])
        stamps = pandas.to_datetime(frame["timestamp"], utc=True)
        frame["bucket"] = (stamps - pandas.Timedelta(hours=1)).dt.floor("h")
        grouped = frame.groupby(["source", "bucket"])[
            ["geocoding_attempts", "geocoding_successes"]].sum()
        grouped["rate"] = grouped["geocoding_successes"] / grouped["geocoding_attempts"]
        naive.append((time.perf_counter() - started) * 1000)
    db.dispose()

    def pct(values, q):
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]

    return {"points": points, "p50_ms": statistics.median(ours), "p95_ms": pct(ours, 95),
            "naive_p50_ms": statistics.median(naive), "naive_p95_ms": pct(naive, 95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 k rows only")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--series-sizes", default="1000000,10000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=50, help="series queries per size")
    parser.add_argument("--workdir", default=None, help="where the SQLite files go")
    args = parser.parse_args()
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    series_sizes = [20_000] if args.quick else [int(s) for s in args.series_sizes.split(",") if s]
    repeat = 10 if args.quick else args.repeat
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pipewatch-bench-export-"))
    try:
        workdir.mkdir(parents=True, exist_ok=True)  # a new --workdir is made, not a traceback
    except OSError as exc:
        parser.error(f"--workdir {workdir}: {exc.strerror}")
    backends = [name for name in args.backends.split(",") if name]
    unknown = sorted(set(backends) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"--backends: unknown {', '.join(unknown)} (sqlite, postgresql)")
    print(f"machine: {os.cpu_count()} cores; {datetime.now(UTC):%Y-%m-%d}", flush=True)
    for backend in backends:
        pg = None
        if backend == "postgresql":
            from tests.pgserver import start_server

            pg = start_server()
        try:
            run_backend(backend, pg, workdir, sizes, series_sizes, repeat)
        finally:
            if pg is not None:
                pg.stop()
    return 0


def run_backend(backend: str, pg, workdir: Path, sizes: list[int], series_sizes: list[int],
                repeat: int) -> None:
    built: dict[int, str] = {}

    def database(count: int) -> str:
        if count not in built:
            if backend == "sqlite":
                path = workdir / f"metrics-{count}.db"
                seconds = build_sqlite(path, count)
                built[count] = f"sqlite:///{path}"
            else:
                built[count] = pg.create_database()
                seconds = build_postgres(built[count], count)
            print(f"[{backend}] built {count:,} rows in {seconds:.1f} s "
                  f"({count / seconds:,.0f} rows/s)", flush=True)
        return built[count]

    def drop(count: int) -> None:
        url = built.pop(count)
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        else:
            pg.drop_database(url.rsplit("/", 1)[1])

    for count in sizes:
        figures = export_figures(database(count), count, pages_rows=min(count, 100_000))
        print(f"\n[{backend}] export, {count:,} rows (gunicorn, one gevent worker):")
        for fmt in ("csv", "ndjson"):
            f = figures[fmt]
            print(f"  {fmt:6} {f['rows_per_s']:>10,.0f} rows/s  {f['seconds']:6.1f} s  "
                  f"{f['mb']:7.1f} MB")
        print(f"  server RSS idle {figures['idle_rss_mb']:.0f} MB, "
              f"peak {figures['peak_rss_mb']:.0f} MB")
        if "csv_row_path" in figures:
            f = figures["csv_row_path"]
            print(f"  baseline CSV by the row path (no COPY; same bytes): "
                  f"{f['rows_per_s']:,.0f} rows/s  {f['seconds']:.1f} s, "
                  f"peak RSS {f['peak_rss_mb']:.0f} MB")
        print(f"  baseline JSON pages (limit 1000): {figures['json_pages']['rows_per_s']:,.0f} "
              f"rows/s over {figures['json_pages']['rows']:,} rows")
        print(f"  baseline pandas read_sql + to_csv: {figures['pandas']['rows_per_s']:,.0f} "
              f"rows/s, peak RSS {figures['pandas']['peak_rss_mb']:.0f} MB", flush=True)
        if count not in series_sizes:
            drop(count)
    for count in series_sizes:
        figures = series_figures(database(count), repeat)
        print(f"\n[{backend}] series, {count:,} rows, 30 days x 8 sources, hour buckets "
              f"({figures['points']} points), {repeat} queries:")
        print(f"  fetch_series p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms")
        print(f"  baseline pandas p50 {figures['naive_p50_ms']:.1f} ms  "
              f"p95 {figures['naive_p95_ms']:.1f} ms", flush=True)
        drop(count)


if __name__ == "__main__":
    sys.exit(main())
