"""Read routes beside the export: the series, sources, alerts and anomalies, as JSON.

`current` parts come from the status document (api.status.document.current_status: the same facts the
page and the WebSocket show); history comes from api.status.alerts.alert_periods and
api.status.anomalies.find_anomalies over the asked range.

Each route parses its query string with api.validation, calls the one function that computes
its answer (the same one the dashboard and the status document use), and shapes JSON. When
PIPEWATCH_READ_TOKEN is set, these routes and the export need it (a bearer token, or the
sign-in cookie of api/auth.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from flask import jsonify, request

from api.status.alerts import alert_periods
from api.status.anomalies import find_anomalies
from api.errors import ApiError
from api.runtime import get_runtime
from api.status.series import METRICS, SeriesError, choose_bucket, fetch_series
from api.status.document import current_status
from api.status.thresholds import worst
from api.timeutil import isoformat, utcnow
from api.validation import parse_sources, parse_time_param, single_value

DEFAULT_SERIES_DAYS = 7
DEFAULT_RECENT_DAYS = 1
MAX_HISTORY_DAYS = 92


def time_range(default_days: int, max_days: int | None = None
               ) -> tuple[datetime, datetime, list[str]]:
    """`start`, `end` (default: the last `default_days` days up to now) and `source`s; 422 if
    bad, or if the range is longer than `max_days` (these reads scan every row in it)."""
    problems: list[dict[str, str]] = []
    end = (parse_time_param(single_value(request.args, "end", problems), "end", problems)
           or utcnow())
    start = (parse_time_param(single_value(request.args, "start", problems), "start", problems)
             or end - timedelta(days=default_days))
    if not problems and end <= start:
        problems.append({"path": "end", "message": "must be after start"})
    elif not problems and max_days is not None and end - start > timedelta(days=max_days):
        problems.append({"path": "start", "message": f"range longer than {max_days} days"})
    sources = parse_sources(request.args.getlist("source"), problems)
    if problems:
        raise ApiError(422, "invalid query parameters", {"problems": problems})
    return start, end, sources


def series_route():
    """The aggregated trend the charts draw: hour or day buckets, weighted rates."""
    problems: list[dict[str, str]] = []
    metric = single_value(request.args, "metric", problems) or ""
    bucket = single_value(request.args, "bucket", problems) or None
    if metric not in METRICS:
        problems.append({"path": "metric", "message": f"must be one of {', '.join(METRICS)}"})
    if bucket not in (None, "auto", "hour", "day"):
        problems.append({"path": "bucket", "message": "must be one of hour, day, auto"})
    if problems:
        raise ApiError(422, "invalid query parameters", {"problems": problems})
    start, end, sources = time_range(DEFAULT_SERIES_DAYS)
    runtime = get_runtime()
    try:
        with runtime.db.session() as session:
            rows = fetch_series(session, metric=metric, start=start, end=end,
                                sources=sources or None,
                                bucket=None if bucket == "auto" else bucket,
                                config=runtime.config)
    except SeriesError as exc:
        raise ApiError(422, str(exc), {"problems": [{"path": "bucket", "message": str(exc)}]}
                       ) from None
    chosen = rows[0]["bucket"] if rows else _bucket_for(start, end, bucket)
    return jsonify({"metric": metric, "bucket": chosen, "start": isoformat(start),
                    "end": isoformat(end), "sources": sources or None,
                    "items": [{**row, "bucket_start": isoformat(row["bucket_start"])}
                              for row in rows]})


def _bucket_for(start: datetime, end: datetime, bucket: str | None) -> str:
    return choose_bucket(start, end, None if bucket == "auto" else bucket)


def _only(items: Iterable[dict[str, Any]], sources: list[str]) -> list[dict[str, Any]]:
    return [item for item in items if not sources or item.get("source") in sources]


def sources_route():
    """Every known source with its scraping health, data quality and open alerts, now."""
    status = current_status(get_runtime(), caller="sources")
    scraping = {item["source"]: item for item in status["scraping_health"]["sources"]}
    quality = {item["source"]: item for item in status["data_quality"].get("by_source", [])}
    items = []
    for name in sorted(set(scraping) | set(quality)):
        parts = [part for part in (scraping.get(name), quality.get(name)) if part]
        items.append({
            "source": name,
            "status": worst(part["status"] for part in parts),
            "scraping": _without_source(scraping.get(name)),
            "data_quality": _without_source(quality.get(name)),
            "alerts": [alert for alert in status["alerts"] if alert.get("source") == name]})
    return jsonify({"timestamp": status["timestamp"], "seq": status["seq"], "items": items})


def _without_source(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: v for k, v in item.items() if k != "source"}


def _current_and_history(part: str, history) -> Any:
    """The status's `part` open now (`current`) and `history(session, config, start, end,
    sources)` over the requested range (`items`): the one shape of /alerts and /anomalies."""
    start, end, sources = time_range(DEFAULT_RECENT_DAYS, MAX_HISTORY_DAYS)
    runtime = get_runtime()
    status = current_status(runtime, caller=part)
    with runtime.db.session() as session:
        items = history(session, runtime.config, start, end, sources or None)
    return jsonify({"start": isoformat(start), "end": isoformat(end), "sources": sources or None,
                    "current": _only(status[part], sources), "items": items})


def alerts_route():
    """Alerts open now (`current`) and every alert period overlapping the range (`items`)."""
    return _current_and_history("alerts", alert_periods)


def anomalies_route():
    """Anomalies of the newest hour (`current`) and every anomalous hour in the range (`items`)."""
    return _current_and_history("anomalies", find_anomalies)
