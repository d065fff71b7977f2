"""The SQL of the alert lifecycle: open occurrences, transitions, the evaluator's lock, acks,
and the fired occurrences of a range (the history the charts shade and /api/v1/alerts lists).

The rules live in api/status/lifecycle.py; this module reads and writes their rows, and
holds the shapes both share (`OpenOccurrence` read, `Step` to write).
Callers own the session and its transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional

from sqlalchemy import case, exists, func, insert, select, text, union_all, update
from sqlalchemy.orm import Session

from api.storage.models import (OPEN_ALERT_STATES, AlertOccurrence, AlertTransition,
                                after_position)

EVALUATOR_LOCK_KEY = 0x70697065_77617463 & 0x7FFFFFFFFFFFFFFF
"""pg_advisory_xact_lock's key for the alert evaluator ("pipewatc" in ASCII): one per database."""


@dataclass(frozen=True)
class OpenOccurrence:
    """The columns of an open (pending or firing) occurrence that the rule and the status read."""

    id: int
    key: str
    state: str
    severity: str
    title: str
    message: str
    source: Optional[str]
    since: Optional[datetime]
    started_at: datetime
    fired_at: Optional[datetime]
    cleared_at: Optional[datetime]
    flapping: bool
    ack_by: Optional[str] = None
    ack_note: Optional[str] = None
    ack_at: Optional[datetime] = None


@dataclass
class Step:
    """One write: `occurrence` None opens a new one; `updates` are its new column values;
    `transition` (a state) is recorded with the alert's severity and message when set."""

    occurrence: Optional[int]
    alert: Mapping[str, Any]
    updates: dict[str, Any] = field(default_factory=dict)
    transition: Optional[str] = None


def kind_of(key: str) -> str:
    """`quality:validation_pass_rate:punch` -> `quality` (the filter of the events route)."""
    return key.split(":", 1)[0]


_OPEN_COLUMNS = [getattr(AlertOccurrence, name) for name in OpenOccurrence.__dataclass_fields__]


def lock_evaluation(session: Session) -> None:
    """Make this transaction the only evaluation running on the database until it ends.

    PostgreSQL: a transaction-level advisory lock, released by COMMIT or ROLLBACK, so every
    worker and host on the database takes turns, and each reads the occurrences after the
    previous one committed (READ COMMITTED): a transition is written exactly once. The wait is
    bounded by PG_LOCK_TIMEOUT_SECONDS. SQLite: BEGIN IMMEDIATE takes the file's write lock
    before the first read, which orders evaluations of every process the same way (the wait is
    api/storage/sqlite_locks.py's). Must be the transaction's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVALUATOR_LOCK_KEY})
    else:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def open_occurrences(session: Session) -> list[OpenOccurrence]:
    """Every pending or firing occurrence: one read of the state index."""
    rows = session.connection().execute(
        select(*_OPEN_COLUMNS).where(AlertOccurrence.state.in_(OPEN_ALERT_STATES))
        .order_by(AlertOccurrence.id))
    return [OpenOccurrence(*row) for row in rows]


def has_occurrences(session: Session) -> bool:
    """Whether any occurrence was ever recorded (the backfill writes only into none)."""
    return bool(session.scalar(select(exists().select_from(AlertOccurrence))))


def recent_transitions(session: Session, since: datetime) -> dict[str, int]:
    """Transitions per key at or after `since` (the flapping window)."""
    rows = session.execute(select(AlertTransition.key, func.count())
                           .where(AlertTransition.at >= since).group_by(AlertTransition.key))
    return {key: count for key, count in rows}


def apply(session: Session, steps: Iterable[Step], now: datetime) -> list[tuple[int, str]]:
    """Write the steps of `lifecycle.plan`, each transition stamped `now`; the transitions
    written, as (occurrence id, state), for the notifications announcing them."""
    written: list[tuple[int, str]] = []
    for step in steps:
        occurrence = step.occurrence
        if occurrence is None:
            occurrence = session.execute(insert(AlertOccurrence).values(**step.updates)
                                         .returning(AlertOccurrence.id)).scalar_one()
        elif step.updates:
            session.execute(update(AlertOccurrence).where(AlertOccurrence.id == occurrence)
                            .values(**step.updates))
        if step.transition is not None:
            alert = step.alert
            session.execute(insert(AlertTransition).values(
                occurrence_id=occurrence, key=alert["key"], kind=kind_of(alert["key"]),
                source=alert["source"], at=now, state=step.transition,
                severity=alert["severity"], message=alert["message"]))
            written.append((occurrence, step.transition))
    return written


def set_ack(session: Session, occurrence_id: int, by: Optional[str], note: Optional[str],
            at: Optional[datetime]) -> bool:
    """Set (or with `at` None, clear) the ack of an OPEN occurrence; False when there is none."""
    result = session.execute(
        update(AlertOccurrence)
        .where(AlertOccurrence.id == occurrence_id,
               AlertOccurrence.state.in_(OPEN_ALERT_STATES))
        .values(ack_by=by, ack_note=note, ack_at=at))
    return result.rowcount == 1


@dataclass(frozen=True)
class EventFilters:
    """The filters of `GET /api/v1/alerts/events` (range `start <= at < end`); `canonical()`
    binds a cursor to them (and to this route: a metrics cursor is refused here)."""

    start: Optional[datetime] = None
    end: Optional[datetime] = None
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def canonical(self) -> list[Any]:
        return ["alert-events", self.start.isoformat() if self.start else None,
                self.end.isoformat() if self.end else None, sorted(self.sources),
                sorted(self.kinds)]


def list_transitions(session: Session, filters: EventFilters,
                     after: tuple[datetime, int] | None, limit: int) -> list[dict[str, Any]]:
    """Transitions matching `filters` after the keyset position `after`, in (at, id) order
    (the `at` index); `limit + 1` are read so the caller knows whether a page follows."""
    T = AlertTransition
    query = _filtered(select(T), filters).order_by(T.at, T.id).limit(limit + 1)
    if after is not None:
        query = query.where(after_position(T.at, T.id, after))
    return [_event(row) for row in session.scalars(query)]


def newest_transitions(session: Session, filters: EventFilters, offset: int,
                       count: int) -> tuple[list[dict[str, Any]], int]:
    """`count` transitions matching `filters` after the newest `offset`, newest first (the
    `at` index read backwards), and how many match in all."""
    T = AlertTransition
    query = (_filtered(select(T), filters).order_by(T.at.desc(), T.id.desc())
             .offset(offset).limit(count))
    total = session.scalar(_filtered(select(func.count()).select_from(T), filters))
    return [_event(row) for row in session.scalars(query)], total


def _filtered(query, filters: EventFilters):
    """`query` on alert_transitions narrowed to the range `start <= at < end`, the sources and
    the kinds of `filters`."""
    T = AlertTransition
    if filters.start is not None:
        query = query.where(T.at >= filters.start)
    if filters.end is not None:
        query = query.where(T.at < filters.end)
    if filters.sources:
        query = query.where(T.source.in_(filters.sources))
    if filters.kinds:
        query = query.where(T.kind.in_(filters.kinds))
    return query


def _event(row: AlertTransition) -> dict[str, Any]:
    return {"id": row.id, "alert_id": row.occurrence_id, "key": row.key, "kind": row.kind,
            "source": row.source, "at": row.at, "state": row.state, "severity": row.severity,
            "message": row.message}


def fired_overlapping(session: Session, start: datetime, end: datetime,
                      sources: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Occurrences that fired and overlap `start <= t < end`, each as a period: `start` when it
    fired, `end` when it resolved (None while it is open), newest start first, then by key.

    A pending occurrence that resolved without firing never reached anyone: it is not here.
    `severity` is the worst its transitions recorded ("error" over "warning"): the occurrence
    row keeps only the last one, and a period that was an error for a while was an error.
    Two reads through the indexes, never a scan of the whole history: the firing ones by the
    `state` index, the resolved ones by their `resolved` transitions at or after `start` (the
    transitions' `at` index), then each by its primary key; `sources` None means every source
    and none."""
    O, T = AlertOccurrence, AlertTransition
    firing = select(O.id).where(O.state == "firing")
    resolved = select(T.occurrence_id).where(T.state == "resolved", T.at > start)
    worst = (select(func.max(case((T.severity == "error", 1), else_=0)))
             .where(T.occurrence_id == O.id).scalar_subquery())
    query = (select(O.id, O.key, O.severity, O.source, O.fired_at, O.resolved_at, O.title,
                    O.state, worst.label("error"))
             .where(O.id.in_(union_all(firing, resolved).subquery().select()),
                    O.fired_at.is_not(None), O.fired_at < end))
    if sources is not None:
        query = query.where(O.source.in_(sorted(set(sources))))
    periods = [{"key": row.key, "severity": "error" if row.error else row.severity,
                "source": row.source, "start": row.fired_at, "end": row.resolved_at,
                "title": row.title, "id": row.id, "state": row.state}
               for row in session.execute(query)]
    periods.sort(key=lambda p: (p["key"], p["id"]))
    periods.sort(key=lambda p: p["start"], reverse=True)
    return periods
