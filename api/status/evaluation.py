"""One evaluation of the alert lifecycle: the only code that writes occurrences and transitions.

`record` is the write itself (lifecycle.plan, then alert_store.apply); `evaluate` runs it on the
conditions holding now, and api/status/replay.py on the conditions a database's past implies
(the demo seed, `python app.py backfill-alerts`), so both histories follow the same rules.

It runs in its own write transaction, after taking the database's evaluator lock
(api/storage/alert_store.lock_evaluation): whichever process or host evaluates, evaluations
take turns and each starts from what the previous one committed, so every transition is
written exactly once, and with it, in the same transaction, the notifications announcing it
(api/status/announce.py). The status document only reads what this wrote (docs/architecture.md).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

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
    return record(session, alert_conditions(session, now, config, cache), now, config)


def record(session: Session, conditions: Iterable[Mapping[str, Any]], now: datetime,
           config: Mapping[str, Any], *, notify: bool = True) -> int:
    """Write what the lifecycle makes of `conditions` seen at `now`; the rows it wrote.

    `notify` False records without announcing: a replayed past (the seed, a backfill) is
    history, not news, and must not send receivers hundreds of old transitions.

    `config` carries the stored rules (`with_rules`), so `for` and `keep_firing_for` are each
    alert's own. The caller holds the evaluator lock (or, like the seed, owns the database),
    and calls it in time order: the open occurrences and the flapping window are read as the
    previous calls left them."""
    steps = lifecycle.plan(conditions, alert_store.open_occurrences(session),
                           alert_store.recent_transitions(session,
                                                          now - lifecycle.FLAPPING_WINDOW),
                           now, config)
    written = alert_store.apply(session, steps, now)
    if notify:
        announce(session, written, now, config)
    return len(steps)

