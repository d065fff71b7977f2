"""`/api/v1/alerts`: alerts open now and every alert period overlapping the range;
`/api/v1/alerts/events`: the stored lifecycle transitions, in cursor pages."""
from __future__ import annotations

from flask import jsonify, request

from api import queries
from api.http.cursors import decode_cursor, encode_cursor, next_page_url, signer
from api.http.history import current_and_history
from api.http.query import parse_events_query
from api.runtime import get_runtime
from api.timeutil import isoformat


def list_alerts():
    """Alerts open now (`current`) and every alert period overlapping the range (`items`)."""
    return current_and_history("alerts", queries.alert_history)


def list_events():
    """Transitions (pending, firing, resolved, severity changes) in (at, id) order, filtered by
    range, source and kind; pages follow `next_cursor`, signed like the metrics export's."""
    runtime = get_runtime()
    config = runtime.config
    query = parse_events_query(request.args, default_limit=config["EXPORT_DEFAULT_LIMIT"],
                               max_limit=config["EXPORT_MAX_LIMIT"])
    serializer = signer(config)
    after = decode_cursor(query.cursor, query.filters, serializer) if query.cursor else None
    rows = queries.alert_events(runtime, query.filters, after, query.limit)
    page = rows[:query.limit]
    next_cursor = (encode_cursor((page[-1]["at"], page[-1]["id"]), query.filters, serializer)
                   if len(rows) > query.limit else None)
    return jsonify({"items": [{**row, "at": isoformat(row["at"])} for row in page],
                    "next_cursor": next_cursor,
                    "next_url": next_page_url(next_cursor) if next_cursor else None,
                    "truncated": next_cursor is not None, "limit": query.limit})
