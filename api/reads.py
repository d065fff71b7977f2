"""Read routes beside the export: the series, sources, alerts and anomalies, as JSON.

Each route parses its query string with api.validation, calls the one function that computes
its answer (the same one the dashboard and the status document use), and shapes JSON. When
PIPEWATCH_READ_TOKEN is set, these routes and the export need it as a bearer token.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from flask import Blueprint, Flask, jsonify, request

from api.errors import ApiError
from api.runtime import get_runtime
from api.series import METRICS, SeriesError, fetch_series
from api.timeutil import isoformat, utcnow
from api.validation import Unauthorized, check_bearer, check_source, parse_time_param

bp = Blueprint("pipewatch_reads", __name__)
DEFAULT_SERIES_DAYS = 7
DEFAULT_RECENT_DAYS = 1


def require_read_token() -> None:
    """401 unless reads are open (no PIPEWATCH_READ_TOKEN) or the bearer token matches."""
    try:
        check_bearer(request.headers.get("Authorization"),
                     get_runtime().config["PIPEWATCH_READ_TOKEN"], required=False)
    except Unauthorized as exc:
        raise ApiError(401, str(exc)) from None


def time_range(default_days: int) -> tuple[datetime, datetime, list[str]]:
    """`start`, `end` (default: the last `default_days` days up to now) and `source`s; 422 if bad."""
    problems: list[dict[str, str]] = []
    end = parse_time_param(request.args.get("end"), "end", problems) or utcnow()
    start = (parse_time_param(request.args.get("start"), "start", problems)
             or end - timedelta(days=default_days))
    if not problems and end <= start:
        problems.append({"path": "end", "message": "must be after start"})
    sources = []
    for value in request.args.getlist("source"):
        try:
            sources.append(check_source(value))
        except ValueError as exc:
            problems.append({"path": "source", "message": str(exc)})
    if problems:
        raise ApiError(422, "invalid query parameters", {"problems": problems})
    return start, end, sources


@bp.get("/api/v1/metrics/series")
def series_route():
    """The aggregated trend the charts draw: hour or day buckets, weighted rates."""
    metric = request.args.get("metric", "")
    bucket = request.args.get("bucket") or None
    problems = []
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
    from api.series import choose_bucket

    return choose_bucket(start, end, None if bucket == "auto" else bucket)


def _in_range(items: Iterable[dict[str, Any]], key: str, start: datetime, end: datetime,
              sources: list[str]) -> list[dict[str, Any]]:
    from api.timeutil import parse_iso

    chosen = []
    for item in items:
        moment = item.get(key)
        if isinstance(moment, str):
            moment = parse_iso(moment)
        if moment is not None and not start <= moment <= end:
            continue
        if sources and item.get("source") not in sources:
            continue
        chosen.append(item)
    return chosen


@bp.before_request
def _reads_need_the_read_token() -> None:
    require_read_token()


def init_app(server: Flask) -> None:
    server.register_blueprint(bp)
