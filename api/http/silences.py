"""`/api/v1/silences`: create a silence (POST), list the scheduled, active and recent ones
(GET), and `/api/v1/silences/{id}`: expire one now (DELETE).

A silence marks matching open alerts in the status document (api/status/silences.py); it
changes no occurrence and no transition. Creating and expiring are OPERATE routes
(api/http/routes.py), so the guard has checked the operator credential before these run.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import jsonify

from api.errors import ApiError
from api.http.writes import read_json_body
from api.runtime import get_runtime
from api.schemas.actions import checked_silence
from api.schemas.fields import INT32_MAX
from api.schemas.problems import Invalid
from api.status.silences import state_of
from api.storage import silence_store
from api.storage.models import Silence
from api.timeutil import isoformat, utcnow

RECENT_DAYS = 7
"""GET lists an ended (or expired) silence for this many days after it ended."""


def create_silence():
    """Store the silence the body describes; 201 with it and its id."""
    runtime = get_runtime()
    now = utcnow()
    try:
        wanted = checked_silence(read_json_body(), runtime.config, now)
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    matchers = wanted.matchers
    with runtime.db.session() as session:
        silence_id = silence_store.create_silence(session, {
            "source": matchers.source, "kind": matchers.kind, "key": matchers.key,
            "starts_at": wanted.starts_at or now, "ends_at": wanted.ends_at,
            "created_by": wanted.created_by, "comment": wanted.comment, "created_at": now,
            "expired_at": None})
    runtime.notify_change()
    return jsonify(_read(silence_id, now)), 201


def list_silences():
    """Scheduled and active silences, and those that ended in the last RECENT_DAYS days."""
    runtime = get_runtime()
    now = utcnow()
    with runtime.db.session() as session:
        rows = silence_store.listed_silences(session, now - timedelta(days=RECENT_DAYS))
        items = [_document(row, now) for row in rows]
    return jsonify({"items": items, "recent_days": RECENT_DAYS})


def expire_silence(silence_id: str):
    """End the silence now (one that has ended already is left as it is); 200 with it."""
    runtime = get_runtime()
    now = utcnow()
    wanted = _silence_id(silence_id)
    with runtime.db.session() as session:
        found = silence_store.expire_silence(session, wanted, now)
    if not found:
        raise _no_silence()
    runtime.notify_change()
    return jsonify(_read(wanted, now))


def _read(silence_id: int, now: datetime) -> dict[str, Any]:
    with get_runtime().db.session() as session:
        row = silence_store.get_silence(session, silence_id)
        if row is None:
            raise _no_silence()
        return _document(row, now)


def _document(row: Silence, now: datetime) -> dict[str, Any]:
    """A stored silence as the Silence document, its `state` judged at `now`."""
    return {"id": row.id, "matchers": {"source": row.source, "kind": row.kind, "key": row.key},
            "starts_at": isoformat(row.starts_at), "ends_at": isoformat(row.ends_at),
            "created_by": row.created_by, "comment": row.comment,
            "created_at": isoformat(row.created_at), "expired_at": isoformat(row.expired_at),
            "state": state_of(row.starts_at, row.ends_at, row.expired_at, now)}


def _silence_id(text: str) -> int:
    """The path's id; anything but a plain positive integer names no silence (404)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or \
            not 1 <= int(text) <= INT32_MAX:
        raise _no_silence()
    return int(text)


def _no_silence() -> ApiError:
    return ApiError(404, "no silence with this id")
