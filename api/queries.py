"""The reads the page and the REST routes share, each opening and closing its own session.

The dashboard (which never touches SQL) and the HTTP views (api/http/) both ask these; each
function runs one of the status rules over a range and returns plain data. Ranges are
`start <= t < end`; a period (alert, anomalous hour) is included when it overlaps the range.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from api.status.anomalies import find_anomalies
from api.status.bands import with_band
from api.status.document import stored_rules
from api.status.rules import with_rules
from api.status.series import fetch_series
from api.storage.alert_store import (EventFilters, fired_overlapping, list_transitions,
                                      newest_transitions)
from api.timeutil import isoformat


def _judging(session, runtime) -> dict[str, Any]:
    """The settings with the stored rules, so a past range is judged by each source's own
    thresholds, as the status judges it now (api/status/rules.py)."""
    return with_rules(runtime.config, stored_rules(session))


def series(runtime, metric: str, start: datetime, end: datetime,
           sources: Sequence[str] | None = None, bucket: str | None = None) -> list[dict[str, Any]]:
    """Hour or day buckets of `metric` (api.status.series.fetch_series; SeriesError if the
    bucket would make too many points), each with its expected band (api/status/bands.py)."""
    with runtime.db.session() as session:
        config = _judging(session, runtime)
        rows = fetch_series(session, metric=metric, start=start, end=end,
                            sources=sources or None, bucket=bucket, config=config)
        return with_band(session, config, rows, metric)


def alert_history(runtime, start: datetime, end: datetime,
                  sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every stored alert occurrence that fired and overlaps the range, as a period from when
    it fired to when it resolved (api.storage.alert_store.fired_overlapping): what the charts
    shade and `GET /api/v1/alerts` lists as `items`."""
    with runtime.db.session() as session:
        periods = fired_overlapping(session, start, end, sources or None)
    return [{**p, "start": isoformat(p["start"]), "end": isoformat(p["end"])} for p in periods]


def anomaly_history(runtime, start: datetime, end: datetime,
                    sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every anomalous hour in the range."""
    with runtime.db.session() as session:
        return list(find_anomalies(session, _judging(session, runtime), start, end,
                                   sources or None))


def alert_events(runtime, filters: EventFilters, after: tuple[datetime, int] | None,
                 limit: int) -> list[dict[str, Any]]:
    """Alert transitions in (at, id) order after `after`: up to `limit + 1` (one more than a
    page, so the caller knows whether another follows)."""
    with runtime.db.session() as session:
        return list_transitions(session, filters, after, limit)


def newest_alert_events(runtime, start: datetime, end: datetime | None,
                        sources: Sequence[str] | None,
                        offset: int, count: int) -> tuple[list[dict[str, Any]], int]:
    """Alert transitions in the range (and sources; no `end`: up to the newest), newest first:
    `count` of them after the newest `offset`, and how many the range holds."""
    filters = EventFilters(start=start, end=end, sources=tuple(sources or ()))
    with runtime.db.session() as session:
        return newest_transitions(session, filters, offset, count)
