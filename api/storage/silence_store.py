"""The SQL of silences: create one, list the active and recent ones, expire one, and the
ones active at a moment (what the status document marks alerts with).

A silence is active at `now` when `starts_at <= now < ends_at` and it was not expired at or
before `now`; every read takes `now` as given, so a database and a moment give one answer.
Callers own the session and its transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from api.storage.models import Silence


@dataclass(frozen=True)
class ActiveSilence:
    """What matching needs of an active silence, and what a silenced alert shows of it."""

    id: int
    source: Optional[str]
    kind: Optional[str]
    key: Optional[str]
    ends_at: datetime
    created_by: str
    comment: str


def _not_expired_at(now: datetime):
    return or_(Silence.expired_at.is_(None), Silence.expired_at > now)


def active_silences(session: Session, now: datetime) -> list[ActiveSilence]:
    """The silences active at `now`, by id (a short scan of the `ends_at` index)."""
    rows = session.connection().execute(
        select(Silence.id, Silence.source, Silence.kind, Silence.key, Silence.ends_at,
               Silence.created_by, Silence.comment)
        .where(Silence.ends_at > now, Silence.starts_at <= now, _not_expired_at(now))
        .order_by(Silence.id))
    return [ActiveSilence(*row) for row in rows]


def create_silence(session: Session, values: dict[str, Any]) -> int:
    """Insert a silence (columns of models.Silence, validated by the caller); its id."""
    return session.execute(insert(Silence).values(**values).returning(Silence.id)).scalar_one()


def expire_silence(session: Session, silence_id: int, now: datetime) -> bool:
    """End the silence at `now` unless it has ended already (expiring twice keeps the first
    time); False when no silence has this id."""
    if session.scalar(select(Silence.id).where(Silence.id == silence_id)) is None:
        return False
    session.execute(update(Silence)
                    .where(Silence.id == silence_id, Silence.ends_at > now,
                           _not_expired_at(now))
                    .values(expired_at=now))
    return True


def get_silence(session: Session, silence_id: int) -> Optional[Silence]:
    """The stored silence with this id, or None."""
    return session.get(Silence, silence_id)


def listed_silences(session: Session, ended_after: datetime) -> list[Silence]:
    """Every silence that had not ended by `ended_after`: the active, the scheduled and the
    recently ended ones (expired ones count as ended at `expired_at`), by start then id."""
    return list(session.scalars(
        select(Silence)
        .where(Silence.ends_at > ended_after,
               or_(Silence.expired_at.is_(None), Silence.expired_at > ended_after))
        .order_by(Silence.starts_at, Silence.id)))
