"""The demo simulator: each step writes runs and articles, resolves pending ones, and the
worker commits, notifies, collects, and outlives a database that is down."""
from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.demo import seed, simulator
from api.settings import load_config
from api.storage.db import Database
from api.storage.models import Conflict, DataQualityMetric as M, ScrapeRun
from api.runtime import Runtime
from api.timeutil import UTC, utcnow

NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
CONFIG = load_config({}, environ={})


def count(db: Database, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def seeded(database: Database) -> Database:
    seed.seed_demo(database, CONFIG, days=1, seed=5, now=NOW, progress=False)
    return database


def test_step_writes_runs_and_conflicts(seeded):
    runs, conflicts = count(seeded, ScrapeRun), count(seeded, Conflict)
    rng = random.Random(2)
    written = {"scrape_runs": 0, "conflicts": 0}
    seen_sources = set()
    for step in range(15):
        with seeded.session() as session:
            # Ten-minute steps: every run carries several articles (3 s steps carry ~0.05).
            result = simulator.simulate_step(session, NOW + timedelta(seconds=3 * step), rng,
                                             step_seconds=600)
        written["scrape_runs"] += result["scrape_runs"]
        written["conflicts"] += result["conflicts"]
        seen_sources.update(result["sources"])
        assert 1 <= result["scrape_runs"] <= simulator.MAX_SOURCES_PER_STEP
    assert count(seeded, ScrapeRun) == runs + written["scrape_runs"]
    assert count(seeded, Conflict) == conflicts + written["conflicts"] > conflicts
    assert simulator.SILENT not in seen_sources and len(seen_sources) >= 4
    with seeded.session() as session:
        newest = session.scalar(select(func.max(ScrapeRun.finished_at)))
    assert newest == NOW + timedelta(seconds=42)


def test_live_volume_stays_near_the_history(seeded):
    """An hour of 3 s steps writes about an hour of normal volume, not sixty."""
    rng = random.Random(9)
    start = NOW + timedelta(minutes=5)
    before = count(seeded, Conflict)
    with seeded.session() as session:
        for step in range(1200):
            simulator.simulate_step(session, start + timedelta(seconds=3 * step), rng)
    written = count(seeded, Conflict) - before
    normal = sum(source.items_per_hour for source in simulator.ACTIVE_SOURCES)
    assert 0.5 * normal < written < 2.5 * normal


def test_step_resolves_old_pending_articles(seeded):
    with seeded.session() as session:
        session.add(Conflict(source="punch", source_url="https://punchng.com/x/pending-1",
                             scraped_at=NOW - timedelta(minutes=1), location_text="Jos, Plateau"))
    assert count(seeded, Conflict, Conflict.geocoding_status == "pending",
                 Conflict.scraped_at < NOW) >= 1
    with seeded.session() as session:
        result = simulator.simulate_step(session, NOW, random.Random(4))
    assert result["resolved"] >= 1
    assert count(seeded, Conflict, Conflict.geocoding_status == "pending",
                 Conflict.scraped_at < NOW - timedelta(seconds=simulator.RESOLVE_AFTER_SECONDS)) == 0
    with seeded.session() as session:
        resolved = session.scalars(select(Conflict).where(
            Conflict.source_url == "https://punchng.com/x/pending-1")).one()
    assert resolved.validation_status in ("passed", "failed")
    assert (resolved.latitude is not None) == (resolved.geocoding_status == "success")


def test_worker_commits_notifies_and_collects(seeded):
    config = {**CONFIG, "SIMULATOR_INTERVAL_SECONDS": 0.05, "DEMO_COLLECT_SECONDS": 60}
    runtime = Runtime(config, Database(seeded.url))
    runs = count(seeded, ScrapeRun)
    aggregates = count(seeded, M, M.metric_type == "aggregate")
    notified = threading.Semaphore(0)
    runtime.change_listeners.append(notified.release)
    try:
        simulator.start(runtime)
        for _ in range(4):
            assert notified.acquire(timeout=20), "the simulator stopped notifying"
    finally:
        runtime.close()
    assert count(seeded, ScrapeRun) > runs
    # The demo collector wrote a cycle stamped now (the seed's was at NOW, long ago).
    assert count(seeded, M, M.metric_type == "aggregate") == aggregates + 1
    with seeded.session() as session:
        newest = session.scalar(select(func.max(M.timestamp)).where(M.metric_type == "aggregate"))
    assert utcnow() - newest < timedelta(minutes=1)


def test_worker_survives_a_database_that_is_down(caplog):
    url = "postgresql+psycopg://watcher:hunter2secret@127.0.0.1:1/pipewatch"
    config = {**CONFIG, "SIMULATOR_INTERVAL_SECONDS": 0.05, "DEMO_COLLECT_SECONDS": 0}
    runtime = Runtime(config, Database(url, connect_args={"connect_timeout": 2}))
    with caplog.at_level(logging.INFO, logger="api.demo.simulator"):
        simulator.start(runtime)
        worker = runtime._workers[0]
        assert not runtime.stopping.wait(0.6)
        assert worker.is_alive()
        runtime.close()
    assert not worker.is_alive()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1 and "step failed" in lines[0]
    assert "hunter2secret" not in lines[0]
