"""The collector: turns `conflicts` into `data_quality_metrics` rows, one cycle at a time.

Each cycle ending at `now` writes (docs/architecture.md):
- one `aggregate` row (all sources) and one `source` row per source seen, both over the
  trailing QUALITY_WINDOW_SECONDS, stamped with `now` floored to the collector interval. The
  window is [stamp - window, stamp), so the row's timestamp really is the end of what it covers,
  and a second run in the same cycle replaces the first instead of adding to it;
- `hourly` rows (source NULL, plus one per source seen in that hour) for every closed clock hour
  of the last BACKFILL_HOURS that has none yet. An hourly row covers [end - 1 h, end) and is
  stamped with `end`. The all-sources row is written even for an empty hour, so that hour counts
  as done and a chart shows a zero rather than a gap.

An attempt is a conflict whose status is final: geocoding success|failed, validation
passed|failed. Pending rows are not attempts yet; an empty window has NULL rates and status
`pending`. Counting happens in SQL (GROUP BY); Python only sees one row per group.

Writes are delete-then-insert inside the caller's transaction. On PostgreSQL a transaction-level
advisory lock serialises collectors in different processes; on SQLite the first statement is the
DELETE, which takes the database's write lock before anything is read.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import Integer, cast, delete, func, insert, select, text
from sqlalchemy.orm import Session

from api.errors import DATABASE_UNAVAILABLE
from api.runtime import report_thread_error
from api.storage.models import COUNTS, RATES, Conflict, DataQualityMetric
from api.status.quality import attempt_counts
from api.status.thresholds import quality_status, rate
from api.timeutil import UTC, floor_hour, floor_time, isoformat, utcnow

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 300
"""The stamp granularity when COLLECTOR_INTERVAL_SECONDS is 0 (schedule off, cron runs it)."""
BACKFILL_HOURS = 48
"""How far back a cycle looks for closed hours that have no hourly rows yet."""
ADVISORY_LOCK_KEY = 0x70697065  # "pipe": the PostgreSQL advisory lock all collectors share
HOUR_SECONDS = 3600

METRICS = DataQualityMetric.__table__


def collect(session: Session, now: datetime, config: Mapping[str, Any]) -> dict[str, Any]:
    """Write one cycle's metric rows ending at `now` (aware UTC); the caller commits."""
    if now.tzinfo is None:
        raise ValueError("collect() needs a timezone-aware `now`")
    interval = config["COLLECTOR_INTERVAL_SECONDS"] or DEFAULT_INTERVAL_SECONDS
    stamp = floor_time(now, interval)
    window = timedelta(seconds=config["QUALITY_WINDOW_SECONDS"])
    _lock(session)
    session.execute(delete(METRICS).where(
        METRICS.c.metric_type.in_(("aggregate", "source")), METRICS.c.timestamp == stamp))
    windowed = _window_rows(session, stamp - window, stamp, stamp, window, now, config)
    session.execute(insert(METRICS), windowed)

    last_end = floor_hour(now)
    first_end = last_end - timedelta(hours=BACKFILL_HOURS - 1)
    missing = missing_hours(session, first_end, last_end)
    hourly = hourly_rows(session, missing, now, config) if missing else []
    if hourly:
        session.execute(insert(METRICS), hourly)
    return {
        "timestamp": isoformat(stamp),
        "aggregate": 1,
        "source": len(windowed) - 1,
        "hourly": len(hourly),
        "hours": len(missing),
    }


def start_schedule(runtime) -> None:
    """Collect now and then every COLLECTOR_INTERVAL_SECONDS until the runtime stops."""
    interval = runtime.config["COLLECTOR_INTERVAL_SECONDS"]

    def loop() -> None:
        while not runtime.stopping.is_set():
            run_safely(runtime, "collector")
            if runtime.stopping.wait(interval):
                return

    runtime.start_worker("collector", loop)


def run_safely(runtime, who: str, config: Mapping[str, Any] | None = None) -> None:
    """One cycle in its own transaction (with `config`, else the runtime's), then tell
    listeners (the hub) that data changed. The database not answering is one log line; any
    other failure is a bug, reported with its traceback (api.runtime.report_thread_error). The
    next cycle runs either way."""
    try:
        with runtime.db.session() as session:
            collect(session, utcnow(), runtime.config if config is None else config)
        runtime.notify_change()
    except DATABASE_UNAVAILABLE as exc:
        # The exception's text can quote the URL; its class and the redacted URL cannot leak.
        log.warning("%s: cycle failed on %s (%s); retrying next cycle",
                    who, runtime.db.safe_url, type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - reported; the next cycle runs
        report_thread_error(exc)


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def _window_rows(session: Session, start: datetime, end: datetime, stamp: datetime,
                 window: timedelta, now: datetime, config: Mapping[str, Any]) -> list[dict]:
    """The aggregate row and the per-source rows of [start, end)."""
    grouped = session.execute(
        select(Conflict.source, *attempt_counts())
        .where(Conflict.scraped_at >= start, Conflict.scraped_at < end)
        .group_by(Conflict.source).order_by(Conflict.source)).all()
    seconds = int(window.total_seconds())
    per_source = [_row(stamp, seconds, "source", g.source, g, now, config) for g in grouped]
    total = _row(stamp, seconds, "aggregate", None, _sum(grouped), now, config)
    return [total, *per_source]


def missing_hours(session: Session, first_end: datetime, last_end: datetime) -> list[datetime]:
    """Ends of the closed hours in [first_end, last_end] that have no all-sources hourly row."""
    written = {moment for (moment,) in session.execute(
        select(METRICS.c.timestamp).where(
            METRICS.c.metric_type == "hourly", METRICS.c.source.is_(None),
            METRICS.c.timestamp >= first_end, METRICS.c.timestamp <= last_end))}
    ends, moment = [], first_end
    while moment <= last_end:
        if moment not in written:
            ends.append(moment)
        moment += timedelta(hours=1)
    return ends


def hourly_rows(session: Session, ends: Iterable[datetime], now: datetime,
                config: Mapping[str, Any]) -> list[dict]:
    """Hourly rows for the hours ending at `ends`, from ONE grouped query over their span.

    Rows already present at those timestamps are deleted first, so the result replaces them.
    The seed uses this for 30 days at once; the collector for the few hours it lacks.
    """
    ends = sorted(set(ends))
    if not ends:
        return []
    start, stop = ends[0] - timedelta(hours=1), ends[-1]
    wanted = set(ends)
    for chunk in chunks(ends, 500):
        session.execute(delete(METRICS).where(
            METRICS.c.metric_type == "hourly", METRICS.c.timestamp.in_(chunk)))
    bucket = _hour_index(session).label("hour")
    grouped = session.execute(
        select(bucket, Conflict.source, *attempt_counts())
        .where(Conflict.scraped_at >= start, Conflict.scraped_at < stop)
        .group_by(bucket, Conflict.source).order_by(bucket, Conflict.source)).all()
    by_end: dict[datetime, list] = {end: [] for end in ends}
    for group in grouped:
        end = datetime.fromtimestamp((int(group.hour) + 1) * HOUR_SECONDS, UTC)
        if end in wanted:
            by_end[end].append(group)
    rows = []
    for end in ends:
        rows.append(_row(end, HOUR_SECONDS, "hourly", None, _sum(by_end[end]), now, config))
        rows.extend(_row(end, HOUR_SECONDS, "hourly", g.source, g, now, config)
                    for g in by_end[end])
    return rows


def _hour_index(session: Session):
    """Hours since the Unix epoch of `scraped_at`, in SQL, independent of any session zone."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", Conflict.scraped_at) / HOUR_SECONDS), Integer)
    return cast(func.strftime("%s", Conflict.scraped_at), Integer) // HOUR_SECONDS


def _sum(groups: list) -> dict[str, int]:
    return {name: sum(int(getattr(g, name)) for g in groups) for name in COUNTS}


def _row(stamp: datetime, window_seconds: int, metric_type: str, source: str | None,
         counts, now: datetime, config: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: int(counts[name] if isinstance(counts, dict) else getattr(counts, name))
              for name in COUNTS}
    status = quality_status(*(rate(values[successes], values[attempts])
                              for successes, attempts in RATES.values()), config)
    return {"timestamp": stamp, "window_seconds": window_seconds, "metric_type": metric_type,
            "source": source, **values, "status": status, "created_at": now}


def chunks(items: list, size: int) -> Iterable[list]:
    for index in range(0, len(items), size):
        yield items[index:index + size]
