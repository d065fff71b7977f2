"""Which active silence, if any, an alert is shown under: a pure rule (alert and silences in,
the `silenced` field out).

A silence matches an alert when every matcher it sets equals the alert's: `source`, `kind`
(the key's first part, as in the events filter) and `key` (exact). Several may match; the
alert shows the one that lasts longest (then the oldest), so the answer does not depend on
the order rows come back in. Silencing only marks the alert: it is still listed, its
lifecycle and history are untouched.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Optional

from api.storage.alert_store import kind_of
from api.storage.silence_store import ActiveSilence
from api.timeutil import isoformat

STATES = ("scheduled", "active", "ended")
"""A silence's `state` at a moment (see `state_of`)."""


def state_of(starts_at: datetime, ends_at: datetime, expired_at: Optional[datetime],
             now: datetime) -> str:
    """scheduled before `starts_at`; ended from `ends_at` or from its expiry by DELETE;
    active in between (what `silence_store.active_silences` selects)."""
    if now >= ends_at or (expired_at is not None and expired_at <= now):
        return "ended"
    return "active" if starts_at <= now else "scheduled"


def matches(silence: ActiveSilence, alert: Mapping[str, Any]) -> bool:
    """True when each matcher the silence sets equals the alert's."""
    wanted = {"source": silence.source, "kind": silence.kind, "key": silence.key}
    actual = {"source": alert.get("source"), "kind": kind_of(alert["key"]), "key": alert["key"]}
    return all(value is None or actual[name] == value for name, value in wanted.items())


def silenced(alert: Mapping[str, Any],
             active: Iterable[ActiveSilence]) -> Optional[dict[str, Any]]:
    """The alert's `silenced` field: null, or the longest-lasting active silence matching it."""
    found = [silence for silence in active if matches(silence, alert)]
    if not found:
        return None
    chosen = min(found, key=lambda silence: (-silence.ends_at.timestamp(), silence.id))
    return {"id": chosen.id, "until": isoformat(chosen.ends_at), "by": chosen.created_by,
            "comment": chosen.comment}
