"""The SQL of alert rules: read the stored set (every computation does), replace it, and the
log of changes. Which rule applies where is api/status/rules.py's business; here a rule is a
row as a dict: `source`, `kind`, and one key per setting column (None: not overridden).

Callers own the session and its transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from api.storage.models import AlertRule, RuleChange

RULE_COLUMNS = tuple(column.name for column in AlertRule.__table__.columns if column.name != "id")
"""`source`, `kind`, then the settings a rule may override, in the table's order."""


def load_rules(session: Session) -> list[dict[str, Any]]:
    """The stored rules, in the order they were written: one short read (the table holds one
    row per overridden scope). Every status computation makes it."""
    rows = session.connection().execute(
        select(*(AlertRule.__table__.c[name] for name in RULE_COLUMNS)).order_by(AlertRule.id))
    return [dict(zip(RULE_COLUMNS, row)) for row in rows]


def version(session: Session) -> int:
    """The rules' version: the id of the newest change (0 before any), what `If-Match`
    compares. Only the routes need it; the status reads the rules themselves."""
    return session.execute(select(func.max(RuleChange.id))).scalar() or 0


def replace_rules(session: Session, rules: Sequence[Mapping[str, Any]], by: str, comment: str,
                  now: datetime) -> int:
    """Replace the whole set with `rules` and log the change; the new version.

    The caller holds the evaluator's lock (alert_store.lock_evaluation), so no evaluation runs
    half with the old rules and half with the new, and two changes take turns."""
    before = load_rules(session)
    after = [{name: rule.get(name) for name in RULE_COLUMNS} for rule in rules]
    session.execute(delete(AlertRule))
    if after:
        session.execute(insert(AlertRule), after)
    return session.execute(insert(RuleChange).values(at=now, by=by, comment=comment,
                                                     before=before, after=after)
                           .returning(RuleChange.id)).scalar_one()


def list_changes(session: Session, before_id: Optional[int], limit: int) -> list[dict[str, Any]]:
    """Changes newest first, those with an id below `before_id` when given; `limit + 1` are
    read so the caller knows whether older ones remain."""
    query = select(RuleChange).order_by(RuleChange.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(RuleChange.id < before_id)
    return [{"id": row.id, "at": row.at, "by": row.by, "comment": row.comment,
             "before": row.before, "after": row.after} for row in session.scalars(query)]
