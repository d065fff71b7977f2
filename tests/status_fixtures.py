"""Crafted rows for the status tests: scrape runs, metric rows and conflicts, written in bulk.

Everything is placed relative to NOW, a fixed aware UTC time, so expected values are readable.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import insert

from api.settings import load_config
from api.storage.models import Conflict, DataQualityMetric, Forecast, Location, ScrapeRun
from api.status.thresholds import quality_status, rate
from api.timeutil import UTC

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONFIG = load_config({}, environ={})
_URLS = itertools.count(1)


def config(**overrides: Any) -> dict[str, Any]:
    return {**CONFIG, **overrides}


def run(source: str, started_at: datetime, status: str = "success", items_new: int = 5,
        error: str | None = None, seconds: int = 60) -> dict[str, Any]:
    return {"source": source, "started_at": started_at,
            "finished_at": started_at + timedelta(seconds=seconds), "status": status,
            "items_found": items_new, "items_new": items_new,
            "error": error if error or status != "failed" else "HTTPError 503"}


def metric(timestamp: datetime, metric_type: str = "hourly", source: str | None = None,
           geo: tuple[int, int] = (10, 10), val: tuple[int, int] = (10, 10),
           window_seconds: int = 3600) -> dict[str, Any]:
    """A metric row as a writer makes it; `geo`/`val` are (attempts, successes)."""
    status = quality_status(rate(geo[1], geo[0]), rate(val[1], val[0]), CONFIG)
    return {"timestamp": timestamp, "window_seconds": window_seconds, "metric_type": metric_type,
            "source": source, "geocoding_attempts": geo[0], "geocoding_successes": geo[1],
            "validation_attempts": val[0], "validation_passes": val[1], "status": status,
            "created_at": timestamp}


def conflict(source: str, scraped_at: datetime, geocoding: str = "success",
             validation: str = "passed") -> dict[str, Any]:
    return {"source": source, "source_url": f"https://example.test/{source}/{next(_URLS)}",
            "title": "event", "scraped_at": scraped_at, "geocoding_status": geocoding,
            "validation_status": validation}


def insert_rows(db, table, rows: Iterable[Mapping[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        with db.session() as session:
            session.execute(insert(table), rows)


def add_runs(db, rows):
    insert_rows(db, ScrapeRun.__table__, rows)


def add_metrics(db, rows):
    insert_rows(db, DataQualityMetric.__table__, rows)


def add_conflicts(db, rows):
    insert_rows(db, Conflict.__table__, rows)


def add_forecast(db, created_at: datetime) -> None:
    insert_rows(db, Location.__table__, [{"id": 1, "name": "Jos", "state": "Plateau"}])
    insert_rows(db, Forecast.__table__, [{"location_id": 1, "forecast_date": created_at.date(),
                                          "risk_score": 0.4, "created_at": created_at}])


def hourly_history(source: str, end: datetime, hours: int, geo=(10, 9), val=(10, 10),
                   with_all_sources: bool = True) -> list[dict[str, Any]]:
    """`hours` hourly rows of one source ending at `end` (plus all-sources rows if asked)."""
    rows = []
    for back in range(hours):
        stamp = end - back * HOUR
        rows.append(metric(stamp, source=source, geo=geo, val=val))
        if with_all_sources:
            rows.append(metric(stamp, source=None, geo=geo, val=val))
    return rows


def evaluate_alerts(db, now: datetime, conf: Mapping[str, Any] | None = None) -> int:
    """One alert evaluation at `now` in its own transaction (what the app's evaluator runs on
    every change): the status then lists the alerts it opened."""
    from api.status.evaluation import evaluate

    with db.session() as session:
        return evaluate(session, now, CONFIG if conf is None else conf)
