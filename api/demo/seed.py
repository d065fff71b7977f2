"""Demo history: `python app.py seed` (and `demo` on an empty database) writes it.

What it writes, deterministic for a given `seed` and `now`:
- the 8 sources of api/demo/profiles.py scraping hourly (each at its own minute past the hour) for
  `days` days up to `now`; about 1-2 % of runs fail, 3 % are partial;
- one conflict per new article (volumes following profiles.volume_factor: a night lull and a
  weekend dip), at a weighted Nigerian location, with geocoding and validation
  outcomes drawn from the source's rates, a little worse at night (WAT) and drifting by day;
  articles scraped in the last PENDING_MINUTES are mostly still `pending`;
- the locations, one forecast per location per day (risk for the next day);
- the metric rows: `hourly` rows for every closed hour (one grouped query for all of them), then
  one collector cycle at `now` (aggregate and per-source rows);
- the alert history those rows imply, as the evaluator would have recorded it from one quality
  window into the seeded days on (api/status/replay.py: occurrences pending -> firing ->
  resolved, with their transitions), the incidents still holding at `now` left open with the
  keys the live conditions have; one of them acknowledged by ACK["by"] (the silent source's,
  when it is open).

Injected incidents an operator should catch, placed relative to `now` (see INCIDENTS):
(a) geocoding_collapse: `vanguard` geocodes only ~25 % of its events over the last 6 hours,
    ongoing at `now`: its hourly rates are anomalies and its 24 h source row is degraded;
(b) scraper_outage: every `daily_trust` run fails, with an error message, for one whole UTC
    day 4 days before today's (fewer for a shorter history): visible in the history;
(c) silent_source: `sahara_reporters` has no scrape runs (nor articles) for the last 8 hours,
    so its last success is older than SOURCE_STALE_ERROR_SECONDS (6 h): stale, error.
"""
from __future__ import annotations

import math
import random
import re
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Mapping, Optional

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from api import collector

from api.demo import profiles
from api.status import replay
from api.storage import alert_store
from api.storage.models import Conflict, DataQualityMetric, Forecast, Location, ScrapeRun
from api.timeutil import UTC, floor_hour, isoformat, utcnow

PENDING_MINUTES = 15
"""Articles scraped this recently are mostly not geocoded/validated yet."""
PENDING_SHARE = 0.8
PARTIAL_RATE = 0.03
FORECAST_HOUR_UTC = 2
"""The tracker's forecast job runs daily at 02:00 UTC and predicts the next day."""

INCIDENTS: dict[str, dict[str, Any]] = {
    "geocoding_collapse": {"source": "vanguard", "hours": 6, "geocoding_rate": 0.25},
    "scraper_outage": {"source": "daily_trust", "days_ago": 4,
                       "error": "HTTPError 403: Forbidden (dailytrust.com blocks the scraper)"},
    "silent_source": {"source": "sahara_reporters", "hours": 8},
}
ACK = {"key": "source_stale:sahara_reporters", "by": "demo operator", "after_minutes": 20,
       "note": "Sahara Reporters changed its site layout; the scraper fix is in review."}
"""The seeded ack: on this key if it is open (else the first firing alert), this long after it
fired (never after `now`)."""


def incident_windows(now: datetime, days: int) -> dict[str, dict[str, Any]]:
    """Each incident's source and its [start, end) span for a seed of `days` ending at `now`."""
    collapse, outage, silent = (INCIDENTS[name] for name in
                                ("geocoding_collapse", "scraper_outage", "silent_source"))
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days_ago = max(1, min(outage["days_ago"], days - 1))
    outage_start = today - timedelta(days=days_ago)
    return {
        "geocoding_collapse": {"source": collapse["source"],
                               "start": now - timedelta(hours=collapse["hours"]), "end": now},
        "scraper_outage": {"source": outage["source"], "start": outage_start,
                           "end": outage_start + timedelta(days=1)},
        "silent_source": {"source": silent["source"],
                          "start": now - timedelta(hours=silent["hours"]), "end": now},
    }


def database_is_empty(session: Session) -> bool:
    """True when there are no conflicts, scrape runs or metric rows (locations do not count)."""
    return not any(session.scalar(select(exists().select_from(model)))
                   for model in (Conflict, ScrapeRun, DataQualityMetric))


def seed_demo(db, config: Mapping[str, Any], *, days: int = 30, seed: int = 7,
              now: datetime | None = None, progress: bool = True) -> dict[str, Any]:
    """Write `days` of demo history ending at `now` in one transaction; returns row counts."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = (now or utcnow()).astimezone(UTC)
    started = time.perf_counter()
    with db.session() as session:
        counts = _History(session, config, days, random.Random(seed), now, progress).write()
    return {"days": days, "seed": seed, "now": isoformat(now), **counts,
            "seconds": round(time.perf_counter() - started, 2)}


class _History:
    """One seeding run: draws rows hour by hour and inserts them a day at a time."""

    def __init__(self, session: Session, config: Mapping[str, Any], days: int,
                 rng: random.Random, now: datetime, progress: bool) -> None:
        self.session, self.config, self.days, self.rng, self.now = session, config, days, rng, now
        self.progress = progress
        self.start = floor_hour(now) - timedelta(days=days)
        self.incidents = incident_windows(now, days)
        self.url_counter = 0
        self.counts = {"locations": 0, "scrape_runs": 0, "conflicts": 0, "forecasts": 0}

    def write(self) -> dict[str, Any]:
        location_ids = self._locations()
        self.places = [(location_ids[name], name, state, lat, lon)
                       for name, state, lat, lon, _ in profiles.LOCATIONS]
        self.place_weights = [weight for *_, weight in profiles.LOCATIONS]
        hours = int((self.now - self.start) / timedelta(hours=1)) + 1
        bar = tqdm(total=hours, desc="seeding demo history", unit="h", disable=not self.progress,
                   leave=False)
        runs: list[dict] = []
        conflicts: list[dict] = []
        for offset in range(hours):
            hour = self.start + timedelta(hours=offset)
            for source in profiles.SOURCES:
                self._hour_of(source, hour, runs, conflicts)
            if len(conflicts) >= 5000 or offset == hours - 1:
                self._flush(runs, conflicts)
            bar.update(1)
        bar.close()
        self._forecasts(location_ids)
        ends = [self.start + timedelta(hours=n) for n in range(1, hours)
                if self.start + timedelta(hours=n) <= self.now]
        hourly = collector.hourly_rows(self.session, ends, self.now, self.config)
        for chunk in collector.chunks(hourly, 5000):
            self.session.execute(insert(DataQualityMetric), chunk)
        cycle = collector.collect(self.session, self.now, self.config)
        self.counts["metrics"] = len(hourly) + cycle["aggregate"] + cycle["source"] + cycle["hourly"]
        self.counts["alert_history"] = replay.replay(self.session, self.config,
                                                     self._history_from(), self.now,
                                                     self.progress)
        self.counts["acknowledged"] = self._acknowledge()
        self.counts["incidents"] = {
            name: {"source": span["source"], "start": isoformat(span["start"]),
                   "end": isoformat(span["end"])} for name, span in self.incidents.items()}
        return self.counts

    def _history_from(self) -> datetime:
        """The alert history starts one quality window into the seeded days: before that, the
        trailing window of the first hours holds only those hours, and a single bad night hour
        would read as a day-long collapse that never happened."""
        window = timedelta(seconds=self.config["QUALITY_WINDOW_SECONDS"])
        return min(self.start + window, self.now)

    def _acknowledge(self) -> Optional[int]:
        """Ack one firing alert the way an operator would; its id (None if none is firing)."""
        firing = [item for item in alert_store.open_occurrences(self.session)
                  if item.state == "firing"]
        if not firing:
            return None
        chosen = next((item for item in firing if item.key == ACK["key"]), firing[0])
        at = min(chosen.fired_at + timedelta(minutes=ACK["after_minutes"]), self.now)
        alert_store.set_ack(self.session, chosen.id, ACK["by"], ACK["note"], at)
        return chosen.id

    def _locations(self) -> dict[str, int]:
        """Insert the demo places that are not there yet; return name -> id."""
        existing = dict(self.session.execute(select(Location.name, Location.id)).all())
        missing = [{"name": name, "state": state, "latitude": lat, "longitude": lon}
                   for name, state, lat, lon, _ in profiles.LOCATIONS if name not in existing]
        if missing:
            self.session.execute(insert(Location), missing)
            self.counts["locations"] = len(missing)
        return dict(self.session.execute(select(Location.name, Location.id)).all())

    def _in(self, incident: str, source: str, moment: datetime) -> bool:
        span = self.incidents[incident]
        return span["source"] == source and span["start"] <= moment < span["end"]

    def _hour_of(self, source: profiles.SourceProfile, hour: datetime,
                 runs: list[dict], conflicts: list[dict]) -> None:
        rng = self.rng
        run_start = hour + timedelta(minutes=source.run_minute, seconds=rng.randint(0, 90))
        if run_start >= self.now or self._in("silent_source", source.name, run_start):
            return
        night = profiles.local_hour(hour.hour) in profiles.NIGHT_HOURS_WAT
        if self._in("scraper_outage", source.name, run_start):
            runs.append(_run(source.name, run_start, 31, "failed", 0, 0,
                             INCIDENTS["scraper_outage"]["error"], self.now))
            return
        if rng.random() < source.failure_rate:
            runs.append(_run(source.name, run_start, rng.randint(5, 30), "failed", 0, 0,
                             rng.choice(profiles.SCRAPE_ERRORS), self.now))
            return
        mean = source.items_per_hour * profiles.volume_factor(hour)
        new = poisson(rng, mean)
        found = new + rng.randint(5, 25)
        status, error = "success", None
        if rng.random() < PARTIAL_RATE:
            failed = rng.randint(1, max(1, new))
            status, error = "partial", profiles.PARTIAL_ERROR.format(failed=failed, total=found)
            new = max(0, new - failed)
        duration = 20 + 4 * new + rng.randint(0, 30)
        runs.append(_run(source.name, run_start, duration, status, found, new, error, self.now))
        for index in range(new):
            scraped = run_start + timedelta(seconds=duration * (index + 1) / (new + 1))
            if scraped < self.now:
                conflicts.append(self._conflict(source, scraped, night))

    def _conflict(self, source: profiles.SourceProfile, scraped: datetime,
                  night: bool) -> dict[str, Any]:
        rng = self.rng
        location_id, name, state, lat, lon = rng.choices(self.places, self.place_weights)[0]
        event, mean_fatalities, verb = rng.choices(profiles.EVENT_TYPES,
                                                   profiles.EVENT_WEIGHTS)[0]
        fatalities = poisson(rng, mean_fatalities)
        drift = _daily_drift(source.name, scraped)
        geo_rate = source.geocoding_rate + drift - (profiles.NIGHT_GEOCODING_PENALTY if night else 0)
        if self._in("geocoding_collapse", source.name, scraped):
            geo_rate = INCIDENTS["geocoding_collapse"]["geocoding_rate"]
        val_rate = source.validation_rate + drift / 2 - (
            profiles.NIGHT_VALIDATION_PENALTY if night else 0)
        fresh = self.now - scraped < timedelta(minutes=PENDING_MINUTES)
        geocoded = validated = None
        if not (fresh and rng.random() < PENDING_SHARE):
            geocoded = rng.random() < geo_rate
            validated = rng.random() < val_rate
        title = f"{verb} {name}, {state} State" + (f"; {fatalities} killed" if fatalities else "")
        self.url_counter += 1
        return {
            "source": source.name,
            "source_url": f"https://{source.domain}/{scraped:%Y/%m/%d}/"
                          f"{_slug(title)}-{self.url_counter}",
            "title": title,
            "event_date": (scraped - timedelta(days=rng.choice((0, 0, 0, 1, 1, 2)))).date(),
            "scraped_at": scraped,
            "location_text": f"{name}, {state}",
            "location_id": location_id if geocoded else None,
            "latitude": round(lat + rng.uniform(-0.05, 0.05), 5) if geocoded else None,
            "longitude": round(lon + rng.uniform(-0.05, 0.05), 5) if geocoded else None,
            "geocoding_status": _outcome(geocoded, "success", "failed"),
            "validation_status": _outcome(validated, "passed", "failed"),
            "fatalities": fatalities,
            "event_type": event,
        }

    def _flush(self, runs: list[dict], conflicts: list[dict]) -> None:
        if runs:
            self.session.execute(insert(ScrapeRun), runs)
        if conflicts:
            self.session.execute(insert(Conflict), conflicts)
        self.counts["scrape_runs"] += len(runs)
        self.counts["conflicts"] += len(conflicts)
        runs.clear()
        conflicts.clear()

    def _forecasts(self, location_ids: dict[str, int]) -> None:
        rows = []
        first_day = self.start.replace(hour=0)
        for day in range(self.days + 2):
            created = first_day + timedelta(days=day, hours=FORECAST_HOUR_UTC)
            if not self.start <= created <= self.now:
                continue
            for name, _state, _lat, _lon, weight in profiles.LOCATIONS:
                base = 0.15 + weight / 12
                risk = min(1.0, max(0.0, base + self.rng.gauss(0, 0.08)))
                rows.append({"location_id": location_ids[name],
                             "forecast_date": (created + timedelta(days=1)).date(),
                             "risk_score": round(risk, 3), "created_at": created})
        if rows:
            self.session.execute(insert(Forecast), rows)
        self.counts["forecasts"] = len(rows)


def _run(source: str, started: datetime, seconds: int, status: str, found: int, new: int,
         error: str | None, now: datetime) -> dict[str, Any]:
    finished = min(started + timedelta(seconds=seconds), now)
    return {"source": source, "started_at": started, "finished_at": finished, "status": status,
            "items_found": found, "items_new": new, "error": error}


def _outcome(value: bool | None, yes: str, no: str) -> str:
    return "pending" if value is None else (yes if value else no)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _daily_drift(source: str, moment: datetime) -> float:
    """A source's quality wanders a little from day to day (deterministic, within ±2 %)."""
    return _drift_of_day(source, moment.toordinal())


@lru_cache(maxsize=4096)
def _drift_of_day(source: str, day: int) -> float:
    return random.Random(f"{source}:{day}").uniform(-0.02, 0.02)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
