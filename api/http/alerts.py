"""`/api/v1/alerts`: alerts open now and every alert period overlapping the range;
`/api/v1/alerts/events`: the stored lifecycle transitions, in cursor pages;
`/api/v1/alerts/{id}/ack`: acknowledge an open alert (POST) or take the ack back (DELETE).
Acting needs the operator credential: the routes are OPERATE (api/http/routes.py), so the guard
has checked it before these views run."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request

from api import queries
from api.errors import ApiError
from api.http.cursors import decode_cursor, encode_cursor, next_page_url, signer
from api.http.history import current_and_history
from api.http.query import parse_events_query
from api.http.writes import read_json_body
from api.runtime import get_runtime
from api.schemas.actions import checked_ack
from api.schemas.fields import INT32_MAX
from api.schemas.problems import Invalid
from api.status.announce import announce_ack
from api.status.document import current_status
from api.storage.alert_store import set_ack
from api.timeutil import isoformat, utcnow


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


def acknowledge(alert_id: str):
    """Acknowledge the open alert `alert_id` with {"by", "note"}; the alert, with its ack.
    The ack belongs to this occurrence: when it resolves, the ack ends with it."""
    occurrence = _occurrence_id(alert_id)
    try:
        ack = checked_ack(read_json_body())
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    return _set(occurrence, ack.by, ack.note, utcnow())


def unacknowledge(alert_id: str):
    """Take the ack of the open alert `alert_id` back; the alert, unacknowledged."""
    return _set(_occurrence_id(alert_id), None, None, None)


def _occurrence_id(text: str) -> int:
    """The path's id; anything but a plain positive integer names no alert (404, not a
    method-not-allowed from whatever other route would match the path)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or \
            not 1 <= int(text) <= INT32_MAX:
        raise _no_open_alert()
    return int(text)


def _set(alert_id: int, by: str | None, note: str | None, at) -> Any:
    runtime = get_runtime()
    with runtime.db.session() as session:
        found = set_ack(session, alert_id, by, note, at)
        if found and at is not None:  # announced with the ack, in its transaction
            announce_ack(session, alert_id, at, runtime.config)
    if not found:
        raise _no_open_alert()
    runtime.notify_change()
    for item in current_status(runtime, caller="alerts")["alerts"]:
        if item["id"] == alert_id:
            return jsonify(item)
    raise _no_open_alert()  # it resolved between the write and the read


def _no_open_alert() -> ApiError:
    return ApiError(404, "no open alert with this id: unknown, or already resolved (an ack "
                         "ends with its occurrence)")
