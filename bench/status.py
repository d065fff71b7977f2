"""Benchmark: pipeline_status on 1 M metric rows and 1 M conflicts, SQLite and PostgreSQL.

For each database it writes a year-like history (8 sources; per hour 9 `hourly` rows and 12
collector cycles of 9 `aggregate`/`source` rows; conflicts at the same rate; hourly scrape
runs), bulk-inserted (Core executemany on SQLite, COPY on PostgreSQL), then times
`pipeline_status` (p50/p95 over RUNS computations after WARMUP, each in a fresh session as the
app does) beside two baselines measured in the same run:
- the same status on a small database holding only the newest 9 days (all the status reads):
  the cost must not grow with history;
- a naive full-history query (newest `source` row per source by GROUP BY over all metric rows),
  what reading "the newest rows" costs without the indexes' help.
It also prints the plan of every statement the status runs (EXPLAIN QUERY PLAN / EXPLAIN) and
flags any full scan of a big table.

    PYTHONPATH=. .venv/bin/python bench/status.py            # 1 M rows
    PYTHONPATH=. .venv/bin/python bench/status.py --quick    # 100 k rows
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, insert, select, text

from api.storage import migrate

from api.status import quality
from api.settings import load_config
from api.storage.db import Database
from api.storage.models import Conflict, DataQualityMetric, Forecast, Location, ScrapeRun
from api.status.anomalies import AnomalyCache
from api.status.document import pipeline_status
from api.status.thresholds import quality_status, rate
from api.timeutil import UTC, floor_hour

SOURCES = ("punch", "vanguard", "premium_times", "guardian_ng", "daily_trust", "channels_tv",
           "thisday", "sahara_reporters")
RUNS = 30
WARMUP = 3
"""Untimed computations first: the timed ones are the steady state of a running app."""
CYCLES_PER_HOUR = 12
ROWS_PER_HOUR = 2 * (len(SOURCES) + 1) + CYCLES_PER_HOUR * (len(SOURCES) + 1) - (len(SOURCES) + 1)
SMALL = 9 * 24 * ROWS_PER_HOUR
"""The small baseline holds only the newest 9 days: everything the status reads, nothing more."""
METRIC_COLUMNS = ("timestamp", "window_seconds", "metric_type", "source", "geocoding_attempts",
                  "geocoding_successes", "validation_attempts", "validation_passes", "status",
                  "created_at")
CONFLICT_COLUMNS = ("source", "source_url", "title", "scraped_at", "geocoding_status",
                    "validation_status")
RUN_COLUMNS = ("source", "started_at", "finished_at", "status", "items_found", "items_new",
               "error")
CONFIG = load_config({}, environ={})


# region data
def history(metric_rows: int, now: datetime):
    """(metric rows, conflicts, scrape runs) as tuples, oldest first, ending at `now`."""
    hours = max(metric_rows // ROWS_PER_HOUR, 24 * 9)
    end = floor_hour(now)
    metrics, conflicts, runs = [], [], []
    conflicts_per_hour = max(metric_rows // hours, 1)
    url = 0
    for back in range(hours, 0, -1):
        hour_end = end - timedelta(hours=back - 1)
        for index, source in enumerate(SOURCES):
            n = 8 + (back + index) % 5
            ok = n - (1 if (back + index) % 3 == 0 else 0)
            if source == "vanguard" and back <= 4:
                ok = 2  # a geocoding collapse in the newest hours, to exercise the alerts
            metrics.append(_metric(hour_end, 3600, "hourly", source, n, ok, n, n))
            if not (source == "sahara_reporters" and back <= 8):
                started = hour_end - timedelta(minutes=50 - index)
                failed = (back + index) % 97 == 0
                runs.append((source, started, started + timedelta(seconds=70),
                             "failed" if failed else "success", 0 if failed else n,
                             0 if failed else n, "HTTPError 503" if failed else None))
        metrics.append(_metric(hour_end, 3600, "hourly", None, 80, 74, 80, 79))
        for cycle in range(CYCLES_PER_HOUR):
            stamp = hour_end - timedelta(hours=1) + timedelta(minutes=5 * (cycle + 1))
            metrics.append(_metric(stamp, 86400, "aggregate", None, 2000, 1860, 2000, 1950))
            for index, source in enumerate(SOURCES):
                ok = 150 if source == "vanguard" and back <= 3 else 230 + index
                metrics.append(_metric(stamp, 86400, "source", source, 250, ok, 250, 245))
        for k in range(conflicts_per_hour):
            url += 1
            source = SOURCES[k % len(SOURCES)]
            scraped = hour_end - timedelta(seconds=3600 * (k + 1) / (conflicts_per_hour + 1))
            conflicts.append((source, f"https://bench.test/{source}/{url}", "event", scraped,
                              "failed" if url % 13 == 0 else "success",
                              "failed" if url % 29 == 0 else "passed"))
    return metrics[-metric_rows:], conflicts[-metric_rows:], runs


def _metric(stamp, window, metric_type, source, geo_n, geo_ok, val_n, val_ok):
    status = quality_status(rate(geo_ok, geo_n), rate(val_ok, val_n), CONFIG)
    return (stamp, window, metric_type, source, geo_n, geo_ok, val_n, val_ok, status, stamp)


def load(db: Database, size: int, now: datetime) -> dict[str, int]:
    metrics, conflicts, runs = history(size, now)
    started = time.perf_counter()
    if db.dialect == "postgresql":
        _copy(db, "data_quality_metrics", METRIC_COLUMNS, metrics)
        _copy(db, "conflicts", CONFLICT_COLUMNS, conflicts)
        _copy(db, "scrape_runs", RUN_COLUMNS, runs)
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with db.engine.begin() as connection:
            for table, columns, rows in ((DataQualityMetric.__table__, METRIC_COLUMNS, metrics),
                                         (Conflict.__table__, CONFLICT_COLUMNS, conflicts),
                                         (ScrapeRun.__table__, RUN_COLUMNS, runs)):
                for chunk in range(0, len(rows), 50_000):
                    connection.execute(insert(table), [dict(zip(columns, row))
                                                       for row in rows[chunk:chunk + 50_000]])
    with db.session() as session:
        session.execute(insert(Location.__table__), [{"id": 1, "name": "Jos"}])
        session.execute(insert(Forecast.__table__), [{
            "location_id": 1, "forecast_date": now.date(), "risk_score": 0.5,
            "created_at": now - timedelta(hours=3)}])
    return {"metrics": len(metrics), "conflicts": len(conflicts), "scrape_runs": len(runs),
            "load_seconds": round(time.perf_counter() - started, 1)}


def _copy(db: Database, table: str, columns, rows) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
# endregion


# region measuring
def time_status(db: Database, now: datetime, runs: int = RUNS, config=None,
                cache=None) -> tuple[float, float, dict]:
    """(p50, p95) in ms over `runs` computations after WARMUP untimed ones, and the document.
    `cache`: the runtime's AnomalyCache, as the app computes it (seasonal models kept)."""
    samples, document = [], None
    config = config or CONFIG
    for _ in range(WARMUP):
        with db.session() as session:
            pipeline_status(session, now, config, cache)
    for _ in range(runs):
        started = time.perf_counter()
        with db.session() as session:
            document = pipeline_status(session, now, config, cache)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], document


def time_naive(db: Database, runs: int = 5) -> float:
    """Newest `source` row per source the naive way: GROUP BY over the whole table."""
    metrics = DataQualityMetric.__table__
    query = (select(metrics.c.source, func.max(metrics.c.timestamp),
                    func.count()).group_by(metrics.c.source))
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.engine.connect() as connection:
            connection.execute(query).all()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def time_fallback(db: Database, now: datetime, runs: int = 10) -> float:
    """The `basis: conflicts` path (no metric rows yet): the trailing window of conflicts."""
    window = timedelta(seconds=CONFIG["QUALITY_WINDOW_SECONDS"])
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.session() as session:
            quality.conflict_counts(session, now - window, now)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def plans(db: Database, now: datetime, show: bool = False) -> list[str]:
    """The plan of every statement pipeline_status runs; lines that scan a whole big table."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session() as session:
            pipeline_status(session, now, CONFIG)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    flagged = []
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        statements = [(statement, parameters) for statement, parameters in statements
                      if statement.lstrip().upper().startswith(("SELECT", "WITH"))]
        for statement, parameters in statements:
            cursor.execute(prefix + statement, parameters)
            lines = [" ".join(str(part) for part in row) for row in cursor.fetchall()]
            if show:
                print("  " + " ".join(statement.split())[:160])
                print("\n".join("      " + line for line in lines))
            for line in lines:
                scans = (db.dialect == "sqlite" and " SCAN " in f" {line} "
                         and "USING" not in line and "sources" not in line
                         and "CONSTANT" not in line) or "Seq Scan on" in line
                big = any(name in line for name in ("data_quality_metrics", "conflicts",
                                                    "scrape_runs"))
                if scans and big:
                    flagged.append(f"{line}   <- {statement.split()[0]} "
                                   f"{' '.join(statement.split())[:90]}")
    finally:
        raw.close()
    return [f"{len(statements)} statements", *flagged]
# endregion


def bench(name: str, url: str, size: int, now: datetime, small_url: str,
          show_plans: bool = False) -> dict:
    print(f"\n[{name}] loading {size:,} metric rows and {size:,} conflicts ...", flush=True)
    db = Database(url)
    migrate.upgrade(db.engine)
    counts = load(db, size, now)
    print(f"[{name}] loaded {counts}", flush=True)
    small = Database(small_url)
    migrate.upgrade(small.engine)
    load(small, SMALL, now)
    p50, p95, document = time_status(db, now)
    small_p50, small_p95, _ = time_status(small, now)
    cached_p50, cached_p95, _ = time_status(db, now, cache=AnomalyCache())
    flat_p50, flat_p95, _ = time_status(db, now, config={**CONFIG, "ANOMALY_SEASONALITY": "none"})
    naive = time_naive(db)
    fallback = time_fallback(db, now)
    plan = plans(db, now, show_plans)
    print(f"[{name}] pipeline_status at {counts['metrics']:,} rows: p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms  | same at {SMALL:,} rows (9 days): p50 {small_p50:.1f} ms, "
          f"p95 {small_p95:.1f} ms  | naive newest-per-source GROUP BY: {naive:.0f} ms")
    print(f"[{name}] anomalies: seasonal (default, above); with the runtime's AnomalyCache: "
          f"p50 {cached_p50:.1f} ms, p95 {cached_p95:.1f} ms; flat (ANOMALY_SEASONALITY=none): "
          f"p50 {flat_p50:.1f} ms, p95 {flat_p95:.1f} ms")
    print(f"[{name}] basis=conflicts fallback (24 h of conflicts counted): p50 {fallback:.1f} ms")
    print(f"[{name}] overall {document['overall_status']}, {len(document['alerts'])} alerts, "
          f"{len(document['anomalies'])} anomalies; plans: {plan[0]}, "
          f"{len(plan) - 1} full scans of big tables")
    for line in plan[1:]:
        print(f"    {line}")
    db.dispose()
    small.dispose()
    return {"p50": p50, "p95": p95, "small_p50": small_p50, "naive": naive}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 k rows instead of 1 M")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument("--plans", action="store_true", help="print every statement's plan")
    args = parser.parse_args()
    size = 100_000 if args.quick else 1_000_000
    now = datetime.now(UTC).replace(microsecond=0)
    results = {}
    with tempfile.TemporaryDirectory(prefix="pipewatch-bench-") as tmp:
        if args.only != "postgresql":
            results["sqlite"] = bench("sqlite", f"sqlite:///{Path(tmp) / 'big.db'}", size, now,
                                      f"sqlite:///{Path(tmp) / 'small.db'}", args.plans)
        if args.only != "sqlite":
            from tests.pgserver import start_server

            server = start_server()
            try:
                results["postgresql"] = bench("postgresql", server.create_database(), size,
                                              now, server.create_database(), args.plans)
            finally:
                server.stop()
    print("\nsummary (target: p95 < 200 ms at 1 M rows)")
    for name, figures in results.items():
        print(f"  {name:10s} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms   "
              f"small db p50 {figures['small_p50']:6.1f} ms   "
              f"naive scan {figures['naive']:7.0f} ms")
    return 0 if all(figures["p95"] < 200 for figures in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
