"""Which notifications a transition or an ack makes: the outbox rows written with it.

Called inside the transaction that writes the transition (api/status/evaluation.py) or the ack
(api/http/alerts.py), so a notification exists exactly when what it announces does: a crash
loses both or neither, and the evaluator's lock that writes each transition once writes each
notification once. The sender (api/notify/) delivers them later, off the request path.

- `firing` is announced when an alert fires, and again when a firing alert changes severity;
  `resolved` when a firing alert resolves (a pending one that resolves never fired, so nothing
  was announced and nothing is); `acknowledged` when an operator acks an open alert.
- An alert covered by an active silence at that moment is not announced.
- Each receiver gets the events of its kind (api/receivers.py: Alertmanager knows no acks).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy.orm import Session

from api.receivers import receivers_of
from api.status.silences import silenced
from api.storage import outbox
from api.storage.models import AlertOccurrence
from api.storage.silence_store import active_silences
from api.timeutil import isoformat


def alert_document(item: AlertOccurrence) -> dict[str, Any]:
    """The alert as the status document shows an occurrence (plus `resolved_at`), from its
    stored row: title, severity and message as of its last transition."""
    ack = (None if item.ack_at is None else
           {"by": item.ack_by, "note": item.ack_note or "", "at": isoformat(item.ack_at)})
    return {"id": item.id, "key": item.key, "state": item.state, "severity": item.severity,
            "title": item.title, "message": item.message, "source": item.source,
            "since": isoformat(item.since), "fired_at": isoformat(item.fired_at),
            "resolved_at": isoformat(item.resolved_at), "flapping": item.flapping,
            "ack": ack, "silenced": None}


def _event(item: AlertOccurrence, transition: str) -> str | None:
    if transition == "firing":
        return "firing"
    if transition == "resolved" and item.fired_at is not None:
        return "resolved"
    return None


def announce(session: Session, transitions: Iterable[tuple[int, str]], now: datetime,
             config: Mapping[str, Any]) -> int:
    """Write the notifications of the transitions just written, as (occurrence id, state);
    how many rows."""
    return _write(session, ((occurrence_id, transition, None)
                            for occurrence_id, transition in transitions), now, config)


def announce_ack(session: Session, occurrence_id: int, now: datetime,
                 config: Mapping[str, Any]) -> int:
    """Write the notifications of an ack just set on `occurrence_id`; how many rows."""
    return _write(session, [(occurrence_id, None, "acknowledged")], now, config)


def _write(session: Session, items, now: datetime, config: Mapping[str, Any]) -> int:
    receivers = receivers_of(config)
    if not receivers:
        return 0
    active = None
    written = 0
    for occurrence_id, transition, event in items:
        item = outbox.occurrence(session, occurrence_id)
        event = event or _event(item, transition)
        if event is None:
            continue
        alert = alert_document(item)
        if active is None:
            active = active_silences(session, now)
        if silenced(alert, active) is not None:
            continue
        for receiver in receivers:
            if event in receiver.events:
                outbox.enqueue(session, occurrence_id=occurrence_id, event=event,
                               receiver=receiver.name, kind=receiver.kind,
                               target=receiver.target, alert=alert, now=now)
                written += 1
    return written
