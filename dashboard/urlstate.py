"""The trend charts' selection, to and from the URL query string, so a link reopens a view.

`?range=7d&sources=punch,vanguard&bucket=day` (or `range=custom&start=2026-11-01&end=2026-11-08`).
Anything unparsable falls back to the default rather than failing the page: a shared link
that has gone bad should still open the dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Mapping
from urllib.parse import parse_qs, urlencode

from api.timeutil import UTC, parse_iso, utcnow

RANGES = {"6h": timedelta(hours=6), "24h": timedelta(hours=24),
          "7d": timedelta(days=7), "30d": timedelta(days=30)}
RANGE_LABELS = {"6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d", "custom": "Custom"}
BUCKET_CHOICES = ("auto", "hour", "day")
DEFAULT_RANGE = "7d"
AUTO_HOUR_LIMIT = timedelta(days=7)
"""Ranges up to this long are drawn in hours; longer ones in days (readable, and few points)."""
MAX_CUSTOM = timedelta(days=366)


@dataclass(frozen=True)
class Selection:
    range: str = DEFAULT_RANGE
    sources: tuple[str, ...] = ()      # empty: all sources together
    bucket: str = "auto"
    start: date | None = None          # only for range == "custom" (whole UTC days)
    end: date | None = None

    def key(self) -> str:
        """Changes when the user changes the view (the charts' uirevision): data updates
        keep the user's zoom, a new selection resets it."""
        return to_query(self)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return parse_iso(text).date()
    except ValueError:
        return None


def from_query(search: str | Mapping[str, list[str]] | None) -> Selection:
    """A Selection from `?range=...` (a query string, with or without `?`, or parsed args)."""
    if isinstance(search, str) or search is None:
        args = parse_qs((search or "").lstrip("?"))
    else:
        args = {key: list(values) for key, values in search.items()}
    first = {key: (values[0] if values else "") for key, values in args.items()}
    chosen = first.get("range", DEFAULT_RANGE)
    if chosen not in RANGES and chosen != "custom":
        chosen = DEFAULT_RANGE
    bucket = first.get("bucket", "auto")
    if bucket not in BUCKET_CHOICES:
        bucket = "auto"
    sources: list[str] = []
    for value in args.get("sources", []):
        sources.extend(part.strip() for part in value.split(",") if part.strip())
    start, end = _day(first.get("start")), _day(first.get("end"))
    if chosen == "custom":
        if start is None or end is None or end < start:
            today = utcnow().date()
            start, end = today - timedelta(days=6), today
        if end - start > MAX_CUSTOM:
            start = end - MAX_CUSTOM
    else:
        start = end = None
    return Selection(chosen, tuple(dict.fromkeys(sources)), bucket, start, end)


def to_query(selection: Selection) -> str:
    """The query string (with `?`) that `from_query` reads back as the same Selection."""
    params: list[tuple[str, str]] = [("range", selection.range)]
    if selection.range == "custom" and selection.start and selection.end:
        params += [("start", selection.start.isoformat()), ("end", selection.end.isoformat())]
    if selection.sources:
        params.append(("sources", ",".join(selection.sources)))
    if selection.bucket != "auto":
        params.append(("bucket", selection.bucket))
    return "?" + urlencode(params, safe=",")


def window(selection: Selection, now: datetime | None = None) -> tuple[datetime, datetime, str]:
    """The (start, end, bucket) a selection means at `now`: aware UTC times, a concrete bucket."""
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    if selection.range == "custom" and selection.start and selection.end:
        start = datetime.combine(selection.start, time(0), UTC)
        end = datetime.combine(selection.end + timedelta(days=1), time(0), UTC)
    else:
        end = now
        start = end - RANGES.get(selection.range, RANGES[DEFAULT_RANGE])
    bucket = selection.bucket
    if bucket == "auto":
        bucket = "hour" if end - start <= AUTO_HOUR_LIMIT else "day"
    return start, end, bucket


def selection_from_controls(range_value: str | None, start: str | None, end: str | None,
                            sources: list[str] | None, bucket: str | None) -> Selection:
    """The Selection the controls show (values straight from the Dash components)."""
    query: dict[str, list[str]] = {"range": [range_value or DEFAULT_RANGE],
                                   "bucket": [bucket or "auto"]}
    if sources:
        query["sources"] = [",".join(sources)]
    if start:
        query["start"] = [start]
    if end:
        query["end"] = [end]
    return from_query(query)
