"""The alert lifecycle as a pure rule: conditions seen now + open occurrences -> what changes.

An alert's condition (api/status/alerts.py) is a fact about the data at one moment; an
occurrence is what an operator acts on. Like Prometheus' `for` and `keep_firing_for`:
- a condition first seen opens an occurrence `pending`; it fires once the condition has been
  seen at every evaluation for ALERT_FOR_SECONDS (a dip shorter than that resolves while still
  pending and never fires);
- a firing occurrence whose condition is seen clear keeps firing until it has stayed clear for
  ALERT_KEEP_FIRING_SECONDS (`cleared_at` marks when); if the condition returns meanwhile it
  goes on as the same occurrence, so a rate wobbling around its threshold fires once and
  resolves once;
- a key that recorded more than ALERT_FLAPPING_TRANSITIONS transitions (state or severity
  changes) in the last hour marks its open occurrence `flapping`.

ALERT_FOR_SECONDS and ALERT_KEEP_FIRING_SECONDS are the defaults: a stored rule may set them
per source and kind (api/status/rules.py), and `plan` takes each alert's own.

`plan` decides; api/storage/alert_store.py writes what it decided, and `shown` merges the open
occurrences with the live conditions for the status document. No clock is read here: `now` is
given, so a database and a moment give one answer.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Optional

from api.status.alerts import sort_alerts
from api.status.rules import scoped
from api.status.silences import silenced
from api.storage.alert_store import OpenOccurrence, Step, kind_of
from api.storage.silence_store import ActiveSilence
from api.timeutil import isoformat, parse_iso

FLAPPING_WINDOW = timedelta(hours=1)
"""Transitions of a key within this long before now count towards `flapping`."""


def _stored(occurrence: OpenOccurrence) -> dict[str, Any]:
    """The alert as its occurrence last recorded it (its condition is not seen now)."""
    return {"key": occurrence.key, "severity": occurrence.severity, "title": occurrence.title,
            "message": occurrence.message, "source": occurrence.source,
            "since": isoformat(occurrence.since)}


def _time(value: datetime | str | None) -> Optional[datetime]:
    return parse_iso(value) if isinstance(value, str) else value


def _content(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {"severity": alert["severity"], "title": alert["title"], "message": alert["message"]}


def plan(conditions: Iterable[Mapping[str, Any]], open_occurrences: Iterable[OpenOccurrence],
         recent_transitions: Mapping[str, int], now: datetime,
         config: Mapping[str, Any]) -> list[Step]:
    """The writes that bring the occurrences up to date with the conditions seen at `now`.

    `recent_transitions` counts each key's transitions in the FLAPPING_WINDOW before `now`;
    `for` and `keep_firing_for` are each alert's own (api/status/rules.py)."""
    seen = {alert["key"]: alert for alert in conditions}
    by_key = {item.key: item for item in open_occurrences}
    steps: list[Step] = []
    for key, alert in sorted(seen.items()):
        item = by_key.get(key)
        wait = _for(config, alert["source"], key)
        if item is None:
            state = "firing" if wait <= timedelta(0) else "pending"
            steps.append(Step(None, alert, {
                "key": key, "kind": kind_of(key), "source": alert["source"], "state": state,
                **_content(alert), "since": _time(alert["since"]), "started_at": now,
                "fired_at": now if state == "firing" else None, "flapping": False}, state))
            continue
        step = Step(item.id, alert)
        if item.state == "pending" and now - item.started_at >= wait:
            step.updates.update(state="firing", fired_at=now, **_content(alert))
            step.transition = "firing"
        elif alert["severity"] != item.severity:
            step.updates.update(_content(alert))
            step.transition = item.state
        if item.cleared_at is not None:
            step.updates["cleared_at"] = None  # the condition is back before resolving
        if step.updates:
            steps.append(step)
    for key, item in sorted(by_key.items()):
        if key in seen:
            continue
        keep = _keep_firing_for(config, item.source, key)
        if item.state == "pending" or (item.cleared_at or now) + keep <= now:
            steps.append(Step(item.id, _stored(item), {"state": "resolved", "resolved_at": now},
                              "resolved"))
        elif item.cleared_at is None:
            steps.append(Step(item.id, _stored(item), {"cleared_at": now}))
    _mark_flapping(steps, by_key, recent_transitions, config["ALERT_FLAPPING_TRANSITIONS"])
    return steps


def _for(config: Mapping[str, Any], source: Optional[str], key: str) -> timedelta:
    """How long the alert's condition must hold before it fires."""
    return timedelta(seconds=scoped(config, source, kind_of(key))["ALERT_FOR_SECONDS"])


def _keep_firing_for(config: Mapping[str, Any], source: Optional[str], key: str) -> timedelta:
    """How long the alert's condition must stay clear before it resolves."""
    return timedelta(seconds=scoped(config, source, kind_of(key))["ALERT_KEEP_FIRING_SECONDS"])


def _mark_flapping(steps: list[Step], by_key: Mapping[str, OpenOccurrence],
                   recent: Mapping[str, int], limit: int) -> None:
    """A transition that takes its key past `limit` in the window flags the open occurrence."""
    for step in steps:
        if step.transition is None or step.updates.get("state") == "resolved":
            continue
        key = step.alert["key"]
        already = step.occurrence is not None and by_key[key].flapping
        if not already and recent.get(key, 0) + 1 > limit:
            step.updates["flapping"] = True


def shown(conditions: Iterable[Mapping[str, Any]],
          open_occurrences: Iterable[OpenOccurrence],
          active_silences: Iterable[ActiveSilence]) -> list[dict[str, Any]]:
    """The status document's `alerts`: every open occurrence, with the live condition's
    severity and message while it holds (else as last recorded), sorted like the conditions;
    `silenced` names the active silence matching it (api/status/silences.py), if any.

    A condition the evaluator has not seen yet is not listed (it has no occurrence, so no id);
    the next evaluation, right after the change that raised it, opens one."""
    seen = {alert["key"]: alert for alert in conditions}
    active = list(active_silences)
    listed = []
    for item in open_occurrences:
        alert = dict(seen.get(item.key) or _stored(item))
        ack = (None if item.ack_at is None else
               {"by": item.ack_by, "note": item.ack_note or "", "at": isoformat(item.ack_at)})
        listed.append({**alert, "id": item.id, "state": item.state,
                       "fired_at": isoformat(item.fired_at), "flapping": item.flapping,
                       "ack": ack, "silenced": silenced(alert, active)})
    return sort_alerts(listed)
