"""One evaluation of the alert lifecycle: the only code that writes occurrences and transitions.

It runs in its own write transaction, after taking the database's evaluator lock
(api/storage/alert_store.lock_evaluation): whichever process or host evaluates, evaluations
take turns and each starts from what the previous one committed, so every transition is
written exactly once, and with it, in the same transaction, the notifications announcing it
(api/status/announce.py). The status document only reads what this wrote (docs/architecture.md).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from api.status import lifecycle
from api.status.anomalies import AnomalyCache
from api.status.announce import announce
from api.status.document import alert_conditions, stored_rules
from api.status.rules import with_rules
from api.storage import alert_store


def evaluate(session: Session, now: datetime, config: Mapping[str, Any],
             cache: AnomalyCache | None = None) -> int:
    """Bring the occurrences up to date with the conditions at `now`; the rows it wrote.

    The session must be fresh (the lock is its transaction's first statement); the caller
    commits. An evaluation that changes nothing writes nothing, so it wakes no one."""
    alert_store.lock_evaluation(session)
    config = with_rules(config, stored_rules(session))  # one read for conditions and plan
    steps = lifecycle.plan(alert_conditions(session, now, config, cache),
                           alert_store.open_occurrences(session),
                           alert_store.recent_transitions(session,
                                                          now - lifecycle.FLAPPING_WINDOW),
                           now, config)
    announce(session, alert_store.apply(session, steps, now), now, config)
    return len(steps)

