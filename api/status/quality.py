"""Data quality for the status: the newest metric rows, or the conflicts when there are none.

Cards read the newest `aggregate` row; the per-source table each source's newest `source` row
stamped within BY_SOURCE_LOOKBACK before the newest aggregate row (a source missing from recent
cycles had no events in the window and is not shown with an old row). Without any aggregate row (a fresh
install before the collector's first cycle) the same numbers are counted from `conflicts` over
the trailing QUALITY_WINDOW_SECONDS and the section says `"basis": "conflicts"`.

Rates are always derived here from the counts with api.status.thresholds.rate (the database's computed
columns use the same rule), and statuses from those rates with the current thresholds
(api.status.thresholds.rate_status, the one rule), so the rates, counts and statuses shown can
never disagree with each other. The section's top level also carries each rate's own status
(`geocoding_success_rate_status`, `validation_pass_rate_status`): the page's cards show them
as they are, so the browser never applies a threshold itself.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, case, func, literal, select, tuple_
from sqlalchemy.orm import Session

from api.storage.models import COUNTS, RATES, Conflict
from api.storage.models import DataQualityMetric as M
from api.storage.models import as_time, time_param
from api.status.rules import scoped
from api.status.thresholds import quality_status, rate, rate_status
from api.timeutil import isoformat

BASES = ("metrics", "conflicts")
"""Where the section's numbers come from: the collector's newest rows, or (no metric row yet)
the tracker's conflicts counted directly."""
RATE_STATUS_KEYS = {name: f"{name}_status" for name in RATES}
"""Top-level keys of `data_quality` holding each rate's own status."""
BY_SOURCE_LOOKBACK = timedelta(hours=1)
HISTORY_ROWS = 2000
"""Newest rows read to find when an ongoing rate problem began ("as far as the newest rows
show"): bounded, so the cost never grows with history."""


# region pure rules
def counts_of(row: Any) -> dict[str, int]:
    """The four counts of a row, a mapping, or a grouped result."""
    get = row.get if isinstance(row, Mapping) else (lambda name: getattr(row, name))
    return {name: int(get(name) or 0) for name in COUNTS}


def rates_of(counts: Mapping[str, int]) -> dict[str, float | None]:
    return {name: rate(counts[ok], counts[total]) for name, (ok, total) in RATES.items()}


def quality_entry(counts: Mapping[str, int], config: Mapping[str, Any]) -> dict[str, Any]:
    """status, both rates and the four counts: everything derived from the counts alone."""
    rates = rates_of(counts)
    status = quality_status(rates["geocoding_success_rate"], rates["validation_pass_rate"],
                            config)
    return {"status": status, **rates, **{name: counts[name] for name in COUNTS}}


def rate_statuses(entry: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
    """Each rate's own status ({"geocoding_success_rate_status": ..., ...}) of an entry."""
    return {key: rate_status(entry[name], config) for name, key in RATE_STATUS_KEYS.items()}


def summary_entry(counts: Mapping[str, int], config: Mapping[str, Any]) -> dict[str, Any]:
    """The all-sources entry: `quality_entry` plus each rate's own status (what the cards show)."""
    entry = quality_entry(counts, config)
    return {**entry, **rate_statuses(entry, config)}
# endregion


# region queries
# The status's statements are built once (functools.cache) with their times as parameters:
# building and re-keying them cost more than running them.


def of_type(metric_type: str, start=None, end=None) -> tuple:
    """Rows of `metric_type` stamped in [start, end] (datetimes, or api.storage.models.time_param),
    said twice: plainly (SQLite seeks the (metric_type, timestamp) index with it) and as row
    values, which only that index can serve, so PostgreSQL cannot prefer walking the timestamp
    index through other types' rows (it did for the newest `aggregate` row: harmless while
    aggregates are frequent, a long walk once only hourly rows arrive)."""
    key, kind = tuple_(M.metric_type, M.timestamp), literal(metric_type)
    conditions = [M.metric_type == metric_type]
    if start is not None:
        low = as_time(start)
        conditions += [M.timestamp >= low, key >= tuple_(kind, low)]
    if end is not None:
        high = as_time(end)
        conditions += [M.timestamp <= high, key <= tuple_(kind, high)]
    return tuple(conditions)


def attempt_counts():
    """SUM(CASE ...) columns: an attempt is a final outcome (pending rows are not attempts)."""
    geo, val = Conflict.geocoding_status, Conflict.validation_status

    def total(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (total(geo.in_(("success", "failed"))).label("geocoding_attempts"),
            total(geo == "success").label("geocoding_successes"),
            total(val.in_(("passed", "failed"))).label("validation_attempts"),
            total(val == "passed").label("validation_passes"))


@cache
def _newest_aggregate_statement():
    return (select(M.timestamp, *(getattr(M, name) for name in COUNTS))
            .where(*of_type("aggregate", end=time_param("now")))
            .order_by(M.timestamp.desc()).limit(1))


def newest_aggregate(session: Session, now: datetime):
    """The newest `aggregate` row at or before `now` (index seek), or None."""
    return session.connection().execute(_newest_aggregate_statement(), {"now": now}).first()


@cache
def _newest_source_rows_statement():
    window = of_type("source", time_param("start"), time_param("end"))
    latest = (select(M.source, func.max(M.timestamp).label("stamp")).where(*window)
              .group_by(M.source).subquery())
    return (select(M.source, M.timestamp, *(getattr(M, name) for name in COUNTS))
            .join(latest, and_(M.source == latest.c.source, M.timestamp == latest.c.stamp))
            .where(*window))


def newest_source_rows(session: Session, newest: datetime) -> list[Any]:
    """Each source's newest `source` row stamped in [newest - BY_SOURCE_LOOKBACK, newest]."""
    return session.connection().execute(
        _newest_source_rows_statement(),
        {"start": newest - BY_SOURCE_LOOKBACK, "end": newest}).all()


@cache
def _conflict_counts_statement():
    return (select(Conflict.source, func.max(Conflict.scraped_at).label("newest"),
                   *attempt_counts())
            .where(Conflict.scraped_at > time_param("start"),
                   Conflict.scraped_at <= time_param("end"))
            .group_by(Conflict.source))


def conflict_counts(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Per-source counts (and newest scraped_at) of conflicts scraped in (start, end]."""
    return session.connection().execute(_conflict_counts_statement(),
                                        {"start": start, "end": end}).all()


@cache
def _recent_history_statement(metric_type: str, limit: int):
    return (select(M.source, M.timestamp, *(getattr(M, name) for name in COUNTS))
            .where(*of_type(metric_type, end=time_param("newest")))
            .order_by(M.timestamp.desc()).limit(limit))


def recent_history(session: Session, metric_type: str, newest: datetime,
                   limit: int = HISTORY_ROWS) -> list[Any]:
    """The newest `limit` rows of `metric_type` (newest first), for since-when questions."""
    return session.connection().execute(  # Core rows: no ORM loading overhead
        _recent_history_statement(metric_type, limit), {"newest": newest}).all()
# endregion


def quality_section(session: Session, now: datetime, config: Mapping[str, Any]) -> dict[str, Any]:
    """`data_quality` of the status document: from the newest metric rows, else from the conflicts."""
    aggregate = newest_aggregate(session, now)
    if aggregate is not None:
        by_source = [{"source": row.source, "as_of": isoformat(row.timestamp),
                      **quality_entry(counts_of(row), scoped(config, row.source, "quality"))}
                     for row in sorted(newest_source_rows(session, aggregate.timestamp),
                                       key=lambda row: row.source)]
        return {**summary_entry(counts_of(aggregate), scoped(config, None, "quality")),
                "basis": BASES[0],
                "as_of": isoformat(aggregate.timestamp), "by_source": by_source}
    window = timedelta(seconds=config["QUALITY_WINDOW_SECONDS"])
    grouped = conflict_counts(session, now - window, now)
    total = sum_counts(grouped)
    newest = max((row.newest for row in grouped), default=None)
    by_source = [{"source": row.source, "as_of": isoformat(row.newest),
                  **quality_entry(counts_of(row), scoped(config, row.source, "quality"))}
                 for row in sorted(grouped, key=lambda row: row.source)]
    return {**summary_entry(total, scoped(config, None, "quality")), "basis": BASES[1],
            "as_of": isoformat(newest),
            "by_source": by_source}


def sum_counts(rows: Iterable[Any]) -> dict[str, int]:
    """The four counts summed over rows (the all-sources numbers from per-source groups)."""
    totals = dict.fromkeys(COUNTS, 0)
    for row in rows:
        for name, value in counts_of(row).items():
            totals[name] += value
    return totals
