"""The SQL of the notification outbox: write rows, claim the due ones, record each attempt.

Rows are written in the caller's transaction (the transition's or the ack's, see
api/status/announce.py). The sender claims rows under a lease: a claim is one short
transaction that takes the database's sender lock (pg_advisory_xact_lock on PostgreSQL; the
file's write lock on SQLite), so two processes never claim the same row, and a sender killed
while holding rows leaves them to be claimed again once `lease_until` passes (at least once;
receivers de-duplicate by `uid`). Only the oldest unfinished row of each (receiver, alert) is
ever claimable, which keeps every alert's notifications in order at each receiver, while
other alerts and other receivers go on. Callers own the session and its transaction.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import and_, delete, exists, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from api.storage.models import AlertOccurrence, Notification

SENDER_LOCK_KEY = 0x70697065_6E6F7469 & 0x7FFFFFFFFFFFFFFF
"""pg_advisory_xact_lock's key for claiming notifications ("pipenoti"): one per database."""


@dataclass(frozen=True)
class Claimed:
    """A notification a sender holds: what it needs to deliver it."""

    id: int
    uid: str
    occurrence_id: Optional[int]
    event: str
    alert: dict[str, Any]
    created_at: datetime
    attempts: int


def enqueue(session: Session, *, occurrence_id: Optional[int], event: str, receiver: str,
            kind: str, target: str, alert: Mapping[str, Any], now: datetime) -> str:
    """Write one pending notification, due now; its `uid`."""
    uid = str(uuid.uuid4())
    session.execute(insert(Notification).values(
        uid=uid, occurrence_id=occurrence_id, event=event, receiver=receiver, kind=kind,
        target=target, alert=json.dumps(alert, sort_keys=True), created_at=now,
        state="pending", attempts=0, next_attempt_at=now))
    return uid


def occurrence(session: Session, occurrence_id: int) -> AlertOccurrence:
    """The stored occurrence (as the transaction sees it, writes included)."""
    return session.execute(select(AlertOccurrence)
                           .where(AlertOccurrence.id == occurrence_id)).scalar_one()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SENDER_LOCK_KEY})
    else:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def claim(session: Session, receiver: str, now: datetime, lease_until: datetime,
          limit: int = 20) -> list[Claimed]:
    """Lease up to `limit` due rows of `receiver`, oldest first, each the oldest unfinished
    row of its alert at this receiver. Must be the transaction's first statement; the caller
    commits at once (the lease, not the transaction, holds the rows while they are sent)."""
    _lock(session)
    N = Notification
    earlier = aliased(Notification)
    blocked = exists().where(and_(earlier.receiver == N.receiver,
                                  earlier.occurrence_id == N.occurrence_id,
                                  earlier.state == "pending", earlier.id < N.id))
    rows = session.execute(
        select(N.id, N.uid, N.occurrence_id, N.event, N.alert, N.created_at, N.attempts)
        .where(N.receiver == receiver, N.state == "pending", N.next_attempt_at <= now,
               (N.lease_until.is_(None)) | (N.lease_until <= now), ~blocked)
        .order_by(N.id).limit(limit)).all()
    if rows:
        session.execute(update(N).where(N.id.in_([row.id for row in rows]))
                        .values(lease_until=lease_until))
    return [Claimed(row.id, row.uid, row.occurrence_id, row.event, json.loads(row.alert),
                    row.created_at, row.attempts) for row in rows]


def record(session: Session, notification_id: int, *, state: str, attempts: int,
           status: Optional[int], error: Optional[str], next_attempt_at: Optional[datetime],
           delivered_at: Optional[datetime]) -> None:
    """The outcome of an attempt: delivered, failed for good, or pending until
    `next_attempt_at`; the lease ends either way."""
    values: dict[str, Any] = {"state": state, "attempts": attempts, "last_status": status,
                              "last_error": error, "lease_until": None,
                              "delivered_at": delivered_at}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    session.execute(update(Notification).where(Notification.id == notification_id)
                    .values(**values))


def recent(session: Session, limit: int, before_id: Optional[int] = None) -> list[Notification]:
    """The newest notifications (by id, newest first), before `before_id` when given."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    return list(session.scalars(query))


def by_uids(session: Session, uids: list[str]) -> list[Notification]:
    """The notifications with these uids, by id."""
    return list(session.scalars(select(Notification).where(Notification.uid.in_(uids))
                                .order_by(Notification.id)))


def prune(session: Session, receiver: str, before: datetime) -> int:
    """Delete the receiver's finished (delivered or failed) notifications written before
    `before`; how many. Pending ones stay whatever their age."""
    return session.execute(delete(Notification).where(
        Notification.receiver == receiver, Notification.state.in_(("delivered", "failed")),
        Notification.created_at < before)).rowcount
