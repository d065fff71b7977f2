"""The one shape of `/api/v1/alerts` and `/api/v1/anomalies`: what is open now, and the history.

`current` is the status document's part (the same facts the page shows); `items` is the history
over `start <= t < end` (default: the last day; at most MAX_HISTORY_DAYS, since these reads scan
every row in the range).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import jsonify, request

from api.http.query import parse_range, parse_sources, raise_problems
from api.runtime import get_runtime
from api.status.document import current_status
from api.timeutil import isoformat

DEFAULT_RECENT_DAYS = 1
MAX_HISTORY_DAYS = 92


def current_and_history(part: str, history: Callable[..., list[dict[str, Any]]]):
    """The status's `part` open now (`current`) and `history(runtime, start, end, sources)`."""
    problems: list[dict[str, str]] = []
    start, end = parse_range(request.args, problems, default_days=DEFAULT_RECENT_DAYS,
                             max_days=MAX_HISTORY_DAYS)
    sources = parse_sources(request.args.getlist("source"), problems)
    raise_problems(problems)
    runtime = get_runtime()
    status = current_status(runtime, caller=part)
    current = [item for item in status[part] if not sources or item.get("source") in sources]
    return jsonify({"start": isoformat(start), "end": isoformat(end), "sources": sources or None,
                    "current": current, "items": history(runtime, start, end, sources)})
