"""The alert history a database's past implies, recorded as the evaluator would have recorded it.

A database that has metric rows and scrape runs but no lifecycle rows (the demo right after
seeding, a deployment upgraded from before migration 006) would otherwise show no history:
the events route lists nothing and the charts shade nothing. `alert_periods` recomputes when
each alert's condition held from those rows; `replay` turns the periods into the conditions
seen at every moment something could change and hands them, in time order, to
`evaluation.record`, the evaluator's own write. So the lifecycle's rules decide exactly as they
do live: a period shorter than ALERT_FOR_SECONDS opens and resolves `pending` without firing,
one that comes back within ALERT_KEEP_FIRING_SECONDS continues its occurrence, a source going
stale turns from warning to error when SOURCE_STALE_ERROR_SECONDS pass, flapping is flagged.

At `now` the conditions are the live ones (`document.alert_conditions`), not the recomputed
ones: what is left open has the keys, severities and messages the running evaluator sees, so it
continues those occurrences instead of opening duplicates.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from sqlalchemy.orm import Session
from tqdm import tqdm

from api.status import evaluation
from api.status.alerts import FAILING_ERROR_RUNS, RATE_NAMES, alert_periods
from api.status.document import alert_conditions, stored_rules
from api.status.rules import scoped, with_rules
from api.storage import alert_store
from api.storage.alert_store import kind_of
from api.timeutil import isoformat, parse_iso

Interval = tuple[datetime, Optional[datetime], dict[str, Any]]
"""A condition held from the first time up to (not at) the second; None: still at `now`."""


def replay(session: Session, config: Mapping[str, Any], start: datetime, now: datetime,
           progress: bool = False) -> dict[str, int]:
    """Record the lifecycle of every alert period overlapping `start <= t < now`.

    The caller holds the evaluator lock (or owns the database, as the seed does) and commits.
    Returns how many evaluations ran and how many rows they wrote. The rules stored now
    (api/status/rules.py) give each alert its `for`, `keep_firing_for` and staleness; the
    recomputed periods themselves are judged by alert_periods (the environment's thresholds)."""
    config = with_rules(config, stored_rules(session))  # one read, like an evaluation
    live = alert_conditions(session, now, config)
    timeline = _timeline(alert_periods(session, config, start, now, now=now), live, start,
                         now, config)
    moments = _moments(timeline, start, now, config)
    written = 0
    for moment in tqdm(moments, desc="recording alert history", unit="evaluation",
                       disable=not progress, leave=False):
        seen = live if moment == now else [
            alert for begin, end, alert in timeline
            if begin <= moment and (end is None or moment < end)]
        written += evaluation.record(session, seen, moment, config, notify=False)
    return {"evaluations": len(moments), "rows": written}


def backfill(session: Session, config: Mapping[str, Any], start: datetime, now: datetime,
             progress: bool = False) -> Optional[dict[str, int]]:
    """`python app.py backfill-alerts`: replay `start`..`now` unless the database already has
    an alert history (then None, and nothing written), so running it twice is harmless.

    Takes the evaluator lock first: a server evaluating meanwhile waits, then continues what
    was recorded. A session that has already been used cannot take it (see lock_evaluation)."""
    alert_store.lock_evaluation(session)
    if alert_store.has_occurrences(session):
        return None
    return replay(session, config, start, now, progress)


def _timeline(periods: list[dict[str, Any]], live: list[dict[str, Any]], start: datetime,
              now: datetime, config: Mapping[str, Any]) -> list[Interval]:
    """The intervals of each condition; the live conditions replace the recomputed ones still
    open at `now` (same key), and open from their `since` when nothing recomputed them (an
    anomaly, stale metrics)."""
    timeline: list[Interval] = []
    live_by_key = {alert["key"]: alert for alert in live}
    continued = set()
    for period in periods:
        begin, end = parse_iso(period["start"]), parse_iso(period["end"]) if period["end"] else None
        alert = {"key": period["key"], "severity": period["severity"], "title": period["title"],
                 "message": _message(period, config), "source": period["source"],
                 "since": period["start"]}
        pieces = _escalation(begin, end, alert, config)
        if end is None and period["key"] in live_by_key:
            last_begin, last_end, _ = pieces[-1]
            pieces[-1] = (last_begin, last_end, live_by_key[period["key"]])
            continued.add(period["key"])
        timeline += pieces
    for key, alert in live_by_key.items():
        if key not in continued:
            since = parse_iso(alert["since"]) if alert.get("since") else now
            timeline.append((min(max(since, start), now), None, alert))
    return timeline


def _escalation(begin: datetime, end: Optional[datetime], alert: dict[str, Any],
                config: Mapping[str, Any]) -> list[Interval]:
    """A stale source is a warning until SOURCE_STALE_ERROR_SECONDS have passed since its last
    success, then an error: the recomputed period carries only its worst severity."""
    if not alert["key"].startswith("source_stale:") or alert["severity"] != "error":
        return [(begin, end, alert)]
    config = scoped(config, alert["source"], "source_stale")
    turn = begin + timedelta(seconds=config["SOURCE_STALE_ERROR_SECONDS"]
                             - config["SOURCE_STALE_WARNING_SECONDS"])
    if turn <= begin or (end is not None and turn >= end):
        return [(begin, end, alert)]
    return [(begin, turn, {**alert, "severity": "warning"}), (turn, end, alert)]


def _moments(timeline: list[Interval], start: datetime, now: datetime,
             config: Mapping[str, Any]) -> list[datetime]:
    """Every moment the evaluator would have decided something: a condition appearing (or
    already holding at `start`, when the replay's first evaluation sees it), its `for`
    elapsing, it clearing, its `keep_firing_for` elapsing; and `now`."""
    moments = {now}
    for begin, end, alert in timeline:
        own = scoped(config, alert["source"], kind_of(alert["key"]))
        wait = timedelta(seconds=own["ALERT_FOR_SECONDS"])
        keep = timedelta(seconds=own["ALERT_KEEP_FIRING_SECONDS"])
        seen = max(begin, start)
        moments |= {seen, seen + wait}
        if end is not None:
            moments |= {end, end + keep}
    return sorted(moment for moment in moments if start <= moment <= now)


def _message(period: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """The message a recomputed period is recorded with, worded like the live rule's."""
    kind, _, rest = period["key"].partition(":")
    source = period["source"]
    config = scoped(config, source, kind)
    if kind == "quality":
        name = rest.split(":", 1)[0]
        below = config["WARNING_RATE"] if period["severity"] == "error" else config["HEALTHY_RATE"]
        who = f"{source}: " if source else "All sources: "
        return (f"{who}{RATE_NAMES[name].lower()} fell below {_pct(below)} over the last "
                f"{_hours(config['QUALITY_WINDOW_SECONDS'])}; expected at least "
                f"{_pct(config['HEALTHY_RATE'])} (error below {_pct(config['WARNING_RATE'])}).")
    if kind == "scraper_failing":
        runs = (f"{FAILING_ERROR_RUNS} or more runs in a row failed"
                if period["severity"] == "error" else "a run failed")
        return f"{source}: {runs} from {period['start']}; expected scrape runs to succeed."
    if kind == "source_stale":
        warn = config["SOURCE_STALE_WARNING_SECONDS"]
        last = parse_iso(period["start"]) - timedelta(seconds=warn)
        return (f"{source} has had no successful scrape since {isoformat(last)}; expected one "
                f"at least every {_hours(warn)} (error after "
                f"{_hours(config['SOURCE_STALE_ERROR_SECONDS'])}).")
    return f"{period['title']} from {period['start']}."


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"
