"""`GET /api/v1/notifications`: every notification and how its delivery went (newest first);
`POST /api/v1/notifications/test`: send a test notification to every receiver (OPERATE).

Receivers are shown by kind and origin only (api/receivers.py): their URLs may hold tokens."""
from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, request

from api.errors import ApiError
from api.http.query import parse_limit, raise_problems, single_value
from api.notify.sender import enqueue_test
from api.receivers import receivers_of
from api.runtime import get_runtime
from api.storage import outbox
from api.storage.models import Notification
from api.timeutil import isoformat, utcnow

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def list_notifications():
    """The newest `limit` notifications, each with its attempts and last error."""
    problems: list[dict[str, str]] = []
    limit = parse_limit(single_value(request.args, "limit", problems), DEFAULT_LIMIT, None,
                        problems)
    if limit is not None and limit > MAX_LIMIT:
        problems.append({"path": "limit", "message": f"must be at most {MAX_LIMIT}"})
    raise_problems(problems)
    runtime = get_runtime()
    with runtime.db.session() as session:
        items = [delivery_document(row) for row in outbox.recent(session, limit)]
    return jsonify({"items": items, "limit": limit, "receivers": receivers_document()})


def send_test():
    """Write a `test` notification for every receiver and wake the sender; 202 with them
    (pending: follow them in GET /api/v1/notifications). 409 when no receiver is set."""
    runtime = get_runtime()
    uids = enqueue_test(runtime, utcnow())
    if not uids:
        raise ApiError(409, "no receiver configured: set WEBHOOK_URLS, ALERTMANAGER_URLS or "
                            "APPRISE_URLS")
    current_app.extensions["pipewatch.sender"].notify()
    with runtime.db.session() as session:
        items = [delivery_document(row) for row in outbox.by_uids(session, uids)]
    return jsonify({"items": items, "limit": len(uids), "receivers": receivers_document()}), 202


def receivers_document() -> list[dict[str, str]]:
    """The receivers the settings name, by kind and redacted target (never their URLs): what
    the page's Notifications panel lists, so a reader sees where alerts go."""
    return [{"kind": receiver.kind, "target": receiver.target}
            for receiver in receivers_of(get_runtime().config)]


def delivery_document(row: Notification) -> dict[str, Any]:
    alert = json.loads(row.alert)
    return {"id": row.uid, "event": row.event, "alert_id": row.occurrence_id,
            "alert_key": alert["key"], "receiver": row.target, "kind": row.kind,
            "state": row.state, "attempts": row.attempts,
            "created_at": isoformat(row.created_at),
            "next_attempt_at": isoformat(row.next_attempt_at) if row.state == "pending" else None,
            "delivered_at": isoformat(row.delivered_at), "last_status": row.last_status,
            "last_error": row.last_error}
