"""The demo's live tail: a simulated pipeline that keeps writing while `python app.py demo` runs.

Every SIMULATOR_INTERVAL_SECONDS one step writes a scrape run (and its new articles) for one to
three random sources, and finishes the geocoding and validation of articles left `pending` for
over RESOLVE_AFTER_SECONDS, so every number on the page moves. Every DEMO_COLLECT_SECONDS it runs
the collector, stamping its rows at that granularity, so the metric rows move too.

The seeded incidents carry on: the silent source stays silent (its staleness only grows) and the
collapsed source stays degraded, so the alerts an operator was shown do not vanish by themselves.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from api import collector
from api.errors import DATABASE_UNAVAILABLE

from api.demo import profiles
from api.storage.models import Conflict, Location, ScrapeRun
from api.demo.seed import INCIDENTS, PARTIAL_RATE, poisson
from api.runtime import report_thread_error
from api.timeutil import utcnow

log = logging.getLogger(__name__)

PENDING_SHARE = 0.5
"""Share of freshly scraped articles not yet geocoded or validated."""
RESOLVE_AFTER_SECONDS = 20
RESOLVE_BATCH = 200
MAX_SOURCES_PER_STEP = 3
VOLUME_FACTOR = 1.25
"""Live volume relative to the seeded history: a little busier, well inside normal variation."""

SILENT = INCIDENTS["silent_source"]["source"]
COLLAPSED = INCIDENTS["geocoding_collapse"]["source"]
ACTIVE_SOURCES = tuple(source for source in profiles.SOURCES if source.name != SILENT)


def simulate_step(session: Session, now: datetime, rng: random.Random, *,
                  step_seconds: float = 3.0) -> dict[str, Any]:
    """Write one step's scrape runs and conflicts and resolve old pending ones; caller commits.

    One to three sources run per step. Their articles and failures are drawn so that, per source
    and per hour, volume and failures stay near the seeded history's (times VOLUME_FACTOR):
    runs are far more frequent than the hourly history's, so each run carries less. A live
    demo that tripled every volume would raise volume anomalies on every source and drown the
    injected incidents.
    """
    places = session.execute(
        select(Location.id, Location.name, Location.state, Location.latitude, Location.longitude)
        .order_by(Location.id)).all()
    chosen = rng.sample(ACTIVE_SOURCES, rng.randint(1, MAX_SOURCES_PER_STEP))
    # Hours of one source's normal output that one simulated run stands for.
    share = step_seconds / 3600 * len(ACTIVE_SOURCES) / ((1 + MAX_SOURCES_PER_STEP) / 2)
    runs, conflicts = [], []
    for source in sorted(chosen, key=lambda s: s.name):
        runs.append(_run(source, now, rng, places, conflicts, share))
    session.execute(insert(ScrapeRun), runs)
    if conflicts:
        session.execute(insert(Conflict), conflicts)
    resolved = _resolve_pending(session, now, rng)
    return {"scrape_runs": len(runs), "conflicts": len(conflicts), "resolved": resolved,
            "sources": [run["source"] for run in runs]}


def _run(source: profiles.SourceProfile, now: datetime, rng: random.Random, places,
         conflicts: list[dict], share: float) -> dict[str, Any]:
    seconds = rng.randint(5, 40)
    started = now - timedelta(seconds=seconds)
    row = {"source": source.name, "started_at": started, "finished_at": now}
    if rng.random() < min(1.0, source.failure_rate * share):
        return {**row, "status": "failed", "items_found": 0, "items_new": 0,
                "error": rng.choice(profiles.SCRAPE_ERRORS)}
    volume = profiles.volume_factor(now)
    new = poisson(rng, source.items_per_hour * volume * VOLUME_FACTOR * share)
    found = new + rng.randint(0, 6)
    status, error = "success", None
    if new and rng.random() < PARTIAL_RATE:
        status, error = "partial", profiles.PARTIAL_ERROR.format(failed=1, total=found)
    for index in range(new):
        scraped = started + timedelta(seconds=seconds * (index + 1) / (new + 1))
        conflicts.append(_conflict(source, scraped, rng, places))
    return {**row, "status": status, "items_found": found, "items_new": new, "error": error}


def _conflict(source: profiles.SourceProfile, scraped: datetime, rng: random.Random,
              places) -> dict[str, Any]:
    name, state, lat, lon, _ = rng.choices(
        profiles.LOCATIONS, [weight for *_, weight in profiles.LOCATIONS])[0]
    event, mean_fatalities, verb = rng.choices(profiles.EVENT_TYPES, profiles.EVENT_WEIGHTS)[0]
    fatalities = max(0, round(rng.gauss(mean_fatalities, mean_fatalities / 2)))
    title = f"{verb} {name}, {state} State" + (f"; {fatalities} killed" if fatalities else "")
    row = {
        "source": source.name,
        "source_url": f"https://{source.domain}/live/{scraped:%Y%m%d%H%M%S}-{rng.getrandbits(64):016x}",
        "title": title, "event_date": scraped.date(), "scraped_at": scraped,
        "location_text": f"{name}, {state}", "location_id": None, "latitude": None,
        "longitude": None, "geocoding_status": "pending", "validation_status": "pending",
        "fatalities": fatalities, "event_type": event,
    }
    if rng.random() >= PENDING_SHARE:
        row.update(_outcome(source.name, row["location_text"], rng, places))
    return row


def _outcome(source: str, location_text: str, rng: random.Random, places) -> dict[str, Any]:
    """Final geocoding and validation of one article, drawn from its source's rates."""
    profile = profiles.SOURCES_BY_NAME.get(source)
    geo_rate = profile.geocoding_rate if profile else 0.9
    if source == COLLAPSED:
        geo_rate = INCIDENTS["geocoding_collapse"]["geocoding_rate"]
    val_rate = profile.validation_rate if profile else 0.9
    place = next((p for p in places if f"{p.name}, {p.state}" == location_text), None)
    geocoded = rng.random() < geo_rate and place is not None
    values = {"geocoding_status": "success" if geocoded else "failed",
              "validation_status": "passed" if rng.random() < val_rate else "failed",
              "location_id": None, "latitude": None, "longitude": None}
    if geocoded:
        values.update(location_id=place.id,
                      latitude=round(place.latitude + rng.uniform(-0.05, 0.05), 5),
                      longitude=round(place.longitude + rng.uniform(-0.05, 0.05), 5))
    return values


def _resolve_pending(session: Session, now: datetime, rng: random.Random) -> int:
    """Finish the oldest pending articles, as the tracker's geocoder and validator would."""
    pending = session.execute(
        select(Conflict.id, Conflict.source, Conflict.location_text)
        .where(Conflict.geocoding_status == "pending",
               Conflict.scraped_at < now - timedelta(seconds=RESOLVE_AFTER_SECONDS))
        .order_by(Conflict.scraped_at).limit(RESOLVE_BATCH)).all()
    if not pending:
        return 0
    places = session.execute(
        select(Location.id, Location.name, Location.state, Location.latitude,
               Location.longitude)).all()
    updates = [{"conflict_id": row.id,
                **{f"new_{key}": value for key, value in
                   _outcome(row.source, row.location_text or "", rng, places).items()}}
               for row in pending]
    table = Conflict.__table__
    columns = ("geocoding_status", "validation_status", "location_id", "latitude", "longitude")
    session.connection().execute(
        update(table).where(table.c.id == bindparam("conflict_id"))
        .values({name: bindparam(f"new_{name}") for name in columns}),
        updates)
    return len(updates)


def start(runtime) -> None:
    """Simulate every SIMULATOR_INTERVAL_SECONDS and collect every DEMO_COLLECT_SECONDS."""
    config = runtime.config
    step_every = config["SIMULATOR_INTERVAL_SECONDS"]
    collect_every = config["DEMO_COLLECT_SECONDS"]
    collect_config = {**config, "COLLECTOR_INTERVAL_SECONDS": collect_every}
    rng = random.Random()

    def loop() -> None:
        last_collect = float("-inf")
        failing = False
        while not runtime.stopping.is_set():
            try:
                with runtime.db.session() as session:
                    simulate_step(session, utcnow(), rng, step_seconds=step_every)
                runtime.notify_change()
                if failing:
                    log.info("simulator: database reachable again")
                failing = False
            except DATABASE_UNAVAILABLE as exc:  # keep simulating once the database is back
                if not failing:
                    log.warning("simulator: step failed on %s (%s); retrying every %ss",
                                runtime.db.safe_url, type(exc).__name__, step_every)
                failing = True
            except Exception as exc:  # noqa: BLE001 - a bug: reported, and the demo goes on
                report_thread_error(exc)
            if collect_every > 0 and time.monotonic() - last_collect >= collect_every:
                collector.run_safely(runtime, "demo collector", collect_config)
                last_collect = time.monotonic()
            if runtime.stopping.wait(step_every):
                return

    runtime.start_worker("simulator", loop)
