"""How long the demo seed and one collector cycle take, on SQLite and PostgreSQL.

For each backend: seed `--days` of demo history (default 30), then time a collector cycle that
must backfill 48 hourly slots, and a steady-state cycle (nothing to backfill). The baseline,
measured in the same run on the same data, is the naive way to compute the same aggregate and
per-source counts: load the 24 h window's conflicts into Python and count them there.

    PYTHONPATH=. .venv/bin/python bench/seed_collect.py [--quick] [--days N] [--only sqlite]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from api import collector

from api.storage import migrate
from api.settings import load_config
from api.storage.db import Database
from api.storage.models import Conflict, DataQualityMetric as M, Forecast, ScrapeRun
from api.demo.seed import seed_demo
from api.timeutil import utcnow


def naive_counts(db: Database, now, config) -> Counter:
    """The baseline: every conflict of the window loaded into Python and counted there."""
    start = now - timedelta(seconds=config["QUALITY_WINDOW_SECONDS"])
    counts: Counter = Counter()
    with db.session() as session:
        for row in session.scalars(select(Conflict).where(Conflict.scraped_at >= start,
                                                          Conflict.scraped_at < now)):
            for key in (row.source, None):
                if row.geocoding_status in ("success", "failed"):
                    counts[(key, "geo_attempts")] += 1
                counts[(key, "geo_successes")] += row.geocoding_status == "success"
                if row.validation_status in ("passed", "failed"):
                    counts[(key, "val_attempts")] += 1
                counts[(key, "val_passes")] += row.validation_status == "passed"
    return counts


def timed(fn, repeat: int = 1) -> float:
    """Median wall time in ms of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(name: str, url: str, days: int, repeat: int) -> None:
    config = load_config({"DATABASE_URL": url})
    db = Database(url)
    migrate.upgrade(db.engine)
    now = utcnow()
    started = time.perf_counter()
    summary = seed_demo(db, config, days=days, seed=7, now=now, progress=False)
    seed_seconds = time.perf_counter() - started
    with db.session() as session:
        counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                  for model in (Conflict, ScrapeRun, Forecast, M)}
    print(f"[{name}] seed {days} days: {seed_seconds:.2f} s   rows: {counts}")

    def cycle():
        with db.session() as session:
            collector.collect(session, now, config)

    def cycle_with_backfill():
        with db.session() as session:
            session.execute(delete(M).where(M.metric_type == "hourly",
                                            M.timestamp > now - timedelta(hours=48)))
        cycle()

    backfill_ms = timed(cycle_with_backfill, repeat)
    steady_ms = timed(cycle, repeat)
    naive_ms = timed(lambda: naive_counts(db, now, config), repeat)
    print(f"[{name}] collector cycle, 48 h backfill: {backfill_ms:8.1f} ms")
    print(f"[{name}] collector cycle, steady state:  {steady_ms:8.1f} ms")
    print(f"[{name}] baseline: window counted in Python: {naive_ms:8.1f} ms "
          f"({naive_ms / steady_ms:.1f}x the steady cycle)")
    db.dispose()
    del summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 days, one repetition")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    days, repeat = (3, 1) if args.quick else (args.days, 5)
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", days, repeat)
    if args.only != "sqlite":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.pgserver import start_server

        server = start_server()
        try:
            measure("postgresql", server.create_database(), days, repeat)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
