"""Query-string parsing for every read: one range convention, one set of messages.

Pure functions over a MultiDict (`request.args`): clean values, or EVERY problem found as
{"path", "message"} in `problems`; the views turn problems into one 422 (`raise_problems`).
Ranges are half-open everywhere: `start <= t < end` for metric rows and series buckets, and a
period (an alert, an anomalous hour) is in a range when it overlaps it. An `end` at or before
`start` is refused with the same message on every route.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from api.errors import ApiError
from api.schemas.fields import check_source_filter, parse_moment
from api.status.alerts import KINDS as ALERT_KINDS
from api.storage.alert_store import EventFilters
from api.storage.export import MetricFilters
from api.storage.models import METRIC_TYPES, QUALITY_STATUSES
from api.timeutil import utcnow

EXPORT_FORMATS = ("json", "csv", "ndjson")
MAX_SOURCES_PER_QUERY = 100
MAX_CURSOR_LENGTH = 512


def raise_problems(problems: list[dict[str, str]]) -> None:
    """One 422 listing every problem, when there is any."""
    if problems:
        raise ApiError(422, "invalid query parameters", {"problems": problems})


@dataclass(frozen=True)
class ExportQuery:
    filters: MetricFilters
    limit: int | None
    cursor: str | None
    format: str


@dataclass(frozen=True)
class EventsQuery:
    filters: EventFilters
    limit: int
    cursor: str | None


def single_value(args: Any, name: str, problems: list[dict[str, str]]) -> str | None:
    """A parameter that takes one value (`args` a MultiDict). Given twice (`?start=&start=x`)
    it is a problem, not a silent pick of the first or last (schemathesis found routes
    picking differently)."""
    values = args.getlist(name)
    if len(values) > 1:
        problems.append({"path": name, "message": "give this parameter at most once"})
    return values[-1] if values else None


def parse_time_param(value: str | None, name: str, problems: list[dict[str, str]]
                     ) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        problems.append({"path": name, "message": str(exc)})
        return None


def parse_range(args: Any, problems: list[dict[str, str]], *,
                default_days: int | None = None, max_days: int | None = None
                ) -> tuple[datetime | None, datetime | None]:
    """`start` and `end`, the range `start <= t < end`.

    With `default_days`, a missing `end` is now and a missing `start` is `default_days` before
    `end`; without, a missing bound stays None (unbounded). `max_days` caps the span (the reads
    that scan every row in it)."""
    start = parse_time_param(single_value(args, "start", problems), "start", problems)
    end = parse_time_param(single_value(args, "end", problems), "end", problems)
    if default_days is not None and not problems:
        end = end or utcnow()
        start = start or end - timedelta(days=default_days)
    if start is not None and end is not None:
        if end <= start:
            problems.append({"path": "end",
                             "message": "must be after start (ranges are start <= t < end)"})
        elif max_days is not None and end - start > timedelta(days=max_days):
            problems.append({"path": "start", "message": f"range longer than {max_days} days"})
    return start, end


def parse_limit(value: str | None, default: int, maximum: int | None,
                problems: list[dict[str, str]]) -> int | None:
    """A positive integer at most `maximum` (None: no maximum); beyond it is a 422, not capped."""
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        problems.append({"path": "limit", "message": "must be a positive integer"})
        return None
    number = int(text)
    if number < 1:
        problems.append({"path": "limit", "message": "must be at least 1"})
        return None
    if maximum is not None and number > maximum:
        problems.append({"path": "limit",
                         "message": f"must be at most {maximum} (use format=csv or ndjson "
                                    "to stream the whole range)"})
        return None
    return number


def _choices(args: Any, name: str, allowed: Sequence[str],
             problems: list[dict[str, str]]) -> tuple[str, ...]:
    values = tuple(v for v in args.getlist(name) if v != "")
    for value in values:
        if value not in allowed:
            problems.append({"path": name, "message": f"must be one of {', '.join(allowed)}"})
    return values


def parse_sources(values: Sequence[str], problems: list[dict[str, str]]) -> list[str]:
    """Repeated `source` parameters: each a usable name, at most MAX_SOURCES_PER_QUERY."""
    if len(values) > MAX_SOURCES_PER_QUERY:
        problems.append({"path": "source",
                         "message": f"at most {MAX_SOURCES_PER_QUERY} sources per request"})
        return []
    sources = []
    for value in values:
        try:
            sources.append(check_source_filter(value))
        except ValueError as exc:
            problems.append({"path": "source", "message": str(exc)})
    return sources


def _cursor(args: Any, problems: list[dict[str, str]]) -> str | None:
    cursor = single_value(args, "cursor", problems) or None
    if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
        problems.append({"path": "cursor", "message": "invalid cursor"})
    return cursor


def negotiate_format(fmt: str | None, accept: str | None) -> str | None:
    """`format=` wins; else the Accept header (text/csv, application/x-ndjson); else JSON."""
    if fmt:
        return fmt if fmt in EXPORT_FORMATS else None
    accept = (accept or "").lower()
    if "text/csv" in accept:
        return "csv"
    if "ndjson" in accept:
        return "ndjson"
    return "json"


def parse_export_query(args: Any, accept: str | None, *, default_limit: int,
                       max_limit: int) -> ExportQuery:
    """`args` is a MultiDict (request.args); one 422 lists every bad parameter."""
    problems: list[dict[str, str]] = []
    start, end = parse_range(args, problems)
    sources = parse_sources(args.getlist("source"), problems)
    fmt = negotiate_format(single_value(args, "format", problems), accept)
    if fmt is None:
        problems.append({"path": "format", "message": f"must be one of {', '.join(EXPORT_FORMATS)}"})
    streaming = fmt in ("csv", "ndjson")
    limit = parse_limit(single_value(args, "limit", problems),
                        None if streaming else default_limit, None if streaming else max_limit,
                        problems)
    cursor = _cursor(args, problems)
    filters = MetricFilters(
        start=start, end=end,
        metric_types=_choices(args, "metric_type", METRIC_TYPES, problems),
        sources=tuple(sources),
        statuses=_choices(args, "status", QUALITY_STATUSES, problems))
    raise_problems(problems)
    return ExportQuery(filters=filters, limit=limit, cursor=cursor, format=fmt or "json")


def parse_events_query(args: Any, *, default_limit: int, max_limit: int) -> EventsQuery:
    """`GET /api/v1/alerts/events`: range, sources, kinds, limit, cursor; one 422 for all."""
    problems: list[dict[str, str]] = []
    start, end = parse_range(args, problems)
    sources = parse_sources(args.getlist("source"), problems)
    kinds = _choices(args, "kind", ALERT_KINDS, problems)
    limit = parse_limit(single_value(args, "limit", problems), default_limit, max_limit,
                        problems)
    cursor = _cursor(args, problems)
    raise_problems(problems)
    return EventsQuery(EventFilters(start=start, end=end, sources=tuple(sources), kinds=kinds),
                       limit or default_limit, cursor)
