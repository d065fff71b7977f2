"""The reads the page and the REST routes share, each opening and closing its own session.

The dashboard (which never touches SQL) and the HTTP views (api/http/) both ask these; each
function runs one of the status rules over a range and returns plain data. Ranges are
`start <= t < end`; a period (alert, anomalous hour) is included when it overlaps the range.
"""
from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any, Sequence

from api.status.alerts import alert_periods
from api.status.anomalies import find_anomalies
from api.status.series import fetch_series
from api.storage.alert_store import EventFilters, list_transitions


def series(runtime, metric: str, start: datetime, end: datetime,
           sources: Sequence[str] | None = None, bucket: str | None = None) -> list[dict[str, Any]]:
    """Hour or day buckets of `metric` (api.status.series.fetch_series; SeriesError if the
    bucket would make too many points)."""
    with runtime.db.session() as session:
        return fetch_series(session, metric=metric, start=start, end=end,
                            sources=sources or None, bucket=bucket, config=runtime.config)


def alert_history(runtime, start: datetime, end: datetime,
                  sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every alert period overlapping the range."""
    with runtime.db.session() as session:
        return list(alert_periods(session, runtime.config, start, end, sources or None))


def anomaly_history(runtime, start: datetime, end: datetime,
                    sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every anomalous hour in the range."""
    with runtime.db.session() as session:
        return list(find_anomalies(session, runtime.config, start, end, sources or None))


def alert_events(runtime, filters: EventFilters, after: tuple[datetime, int] | None,
                 limit: int) -> list[dict[str, Any]]:
    """Alert transitions in (at, id) order after `after`: up to `limit + 1` (one more than a
    page, so the caller knows whether another follows)."""
    with runtime.db.session() as session:
        return list_transitions(session, filters, after, limit)


def newest_alert_events(runtime, start: datetime, end: datetime | None,
                        sources: Sequence[str] | None,
                        offset: int, count: int,
                        chunk: int = 1000) -> tuple[list[dict[str, Any]], int]:
    """Alert transitions in the range (and sources; no `end`: up to the newest), newest first:
    `count` of them after the newest `offset`, and how many the range holds. The store reads in
    (at, id) order only (the events route's cursor order), so this walks the range's pages,
    keeping just the tail."""
    filters = EventFilters(start=start, end=end, sources=tuple(sources or ()))
    tail: deque[dict[str, Any]] = deque(maxlen=offset + count)
    total, after = 0, None
    with runtime.db.session() as session:
        while True:
            rows = list_transitions(session, filters, after, chunk)
            page = rows[:chunk]
            tail.extend(page)
            total += len(page)
            if len(rows) <= chunk:
                break
            after = (page[-1]["at"], page[-1]["id"])
    newest = list(reversed(tail))
    return newest[offset:offset + count], total
