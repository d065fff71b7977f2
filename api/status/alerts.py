"""Alerts: the conditions an operator must act on, now (`*_alert` rules) and in the past
(`alert_periods`, recomputed from the rows; api/status/replay.py records them as the alert
history of a database that has none: the demo seed, `python app.py backfill-alerts`).

Every alert is {key, severity (warning|error), title, message, source, since}. The key is
stable while the condition lasts (`source_stale:punch`), so clients can tell a new alert from
one they have seen; the message says what was expected. `since` is when the condition began as
far as the newest rows show. No text depends on the clock (no "3 h ago"): an unchanged database
gives an identical list.

Kinds of alert:
- `quality:<rate>` / `quality:<rate>:<source>`: a rate of the newest aggregate (or source) row
  below HEALTHY_RATE (warning) or WARNING_RATE (error);
- `source_stale:<source>`: no successful scrape for SOURCE_STALE_WARNING/ERROR_SECONDS;
- `scraper_failing:<source>`: the newest run failed (error from FAILING_ERROR_RUNS in a row);
- `anomaly:<kind>:<source>`: an anomaly in the newest hour (api/status/anomalies.py);
- `metrics_stale`: the newest aggregate row is older than METRICS_STALE_SECONDS.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.status.health import SourceFacts
from api.storage.models import COUNTS, RATES, ScrapeRun
from api.storage.models import DataQualityMetric as M
from api.status.quality import counts_of, of_type
from api.status.rules import scoped
from api.status.thresholds import (SEVERITIES, STATUS_RANK, rate, rate_status,
                                   staleness_status)
from api.timeutil import isoformat, parse_iso, utcnow

FAILING_ERROR_RUNS = 3
"""This many failed runs in a row make a failing scraper an error rather than a warning."""
RATE_NAMES = {"geocoding_success_rate": "Geocoding success rate",
              "validation_pass_rate": "Validation pass rate"}
KIND_NAMES = {**RATE_NAMES, "volume": "Event volume"}
KINDS = ("quality", "source_stale", "scraper_failing", "anomaly", "metrics_stale")
"""The first part of every key (`quality:validation_pass_rate:punch` is a `quality` alert)."""
BAD = SEVERITIES
"""A rate or staleness judged one of these raises an alert."""


def alert(key: str, severity: str, title: str, message: str, source: str | None,
          since: datetime | str | None) -> dict[str, Any]:
    since = isoformat(since) if isinstance(since, datetime) else since
    return {"key": key, "severity": severity, "title": title, "message": message,
            "source": source, "since": since}


def sort_alerts(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors first, then warnings; by key within each (a stable order)."""
    return sorted(alerts, key=lambda item: (-STATUS_RANK[item["severity"]], item["key"]))


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


# region rules on the current state
def rate_alerts(entry: Mapping[str, Any], history: Sequence[Any], config: Mapping[str, Any],
                source: str | None = None) -> list[dict[str, Any]]:
    """Alerts for the rates of one data-quality entry (the aggregate, or one source's).

    `history` is that series' rows newest first (the entry's own row included); `since` is the
    oldest row of the unbroken run, ending at the newest, whose rate is below HEALTHY_RATE.
    """
    found = []
    config = scoped(config, source, "quality")
    window = _duration(config["QUALITY_WINDOW_SECONDS"])
    for name, (ok, total) in RATES.items():
        severity = rate_status(entry[name], config)
        if severity not in BAD:
            continue
        since = entry["as_of"]
        for row in history:
            counts = counts_of(row)
            if rate_status(rate(counts[ok], counts[total]), config) not in BAD:
                break
            since = isoformat(row.timestamp)
        who = f"{source}: " if source else "All sources: "
        found.append(alert(
            f"quality:{name}" + (f":{source}" if source else ""), severity,
            f"{RATE_NAMES[name]} low" + (f" ({source})" if source else ""),
            f"{who}{RATE_NAMES[name].lower()} is {_pct(entry[name])} ({entry[ok]} of "
            f"{entry[total]}) over the last {window}; expected at least "
            f"{_pct(config['HEALTHY_RATE'])} (error below {_pct(config['WARNING_RATE'])}).",
            source, since))
    return found


def stale_alert(facts: SourceFacts, now: datetime,
                config: Mapping[str, Any]) -> dict[str, Any] | None:
    """`source_stale:<source>` when its last success is too old (or it never succeeded)."""
    config = scoped(config, facts.source, "source_stale")
    warn, err = config["SOURCE_STALE_WARNING_SECONDS"], config["SOURCE_STALE_ERROR_SECONDS"]
    last = facts.last_success_at
    severity = staleness_status(None if last is None else (now - last).total_seconds(), config)
    if severity not in BAD:
        return None
    expected = f"expected one at least every {_duration(warn)} (error after {_duration(err)})."
    if last is None:
        since = facts.first_run_at or facts.last_run_at
        message = (f"{facts.source} has no successful scrape since it was first seen at "
                   f"{isoformat(since)}; {expected}")
    else:
        since = last + timedelta(seconds=warn)
        message = (f"{facts.source} has had no successful scrape since {isoformat(last)}; "
                   f"{expected}")
    return alert(f"source_stale:{facts.source}", severity, f"Source stale ({facts.source})",
                 message, facts.source, since)


def failing_alert(facts: SourceFacts) -> dict[str, Any] | None:
    """`scraper_failing:<source>` while the newest run failed; error after a few in a row."""
    if facts.failed_streak <= 0:
        return None
    severity = "error" if facts.failed_streak >= FAILING_ERROR_RUNS else "warning"
    runs = "run" if facts.failed_streak == 1 else f"{facts.failed_streak} runs"
    error = f" (newest error: {facts.last_error})" if facts.last_error else ""
    return alert(f"scraper_failing:{facts.source}", severity,
                 f"Scraper failing ({facts.source})",
                 f"{facts.source}: the last {runs} failed{error}; expected scrape runs to "
                 f"succeed.", facts.source, facts.failing_since or facts.last_run_at)


def anomaly_alert(item: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """`anomaly:<kind>:<source>` for an anomaly of the newest hour."""
    kind, source = item["kind"], item["source"]
    config = scoped(config, source, "anomaly")
    show = (lambda v: f"{v:g}") if kind == "volume" else _pct
    direction = "drop" if item["score"] < 0 else "rise"
    return alert(f"anomaly:{kind}:{source}", item["severity"],
                 f"{KIND_NAMES[kind]} anomaly ({source})",
                 f"{source}: {KIND_NAMES[kind].lower()} was {show(item['value'])} in the hour "
                 f"ending {item['detected_at']}; expected about {show(item['baseline'])} from "
                 f"its last {config['ANOMALY_BASELINE_DAYS']} days (robust z {item['score']:+.1f}"
                 f", a {direction} beyond the threshold {config['ANOMALY_THRESHOLD']:g}).",
                 source, item.get("since") or item["start"])


def metrics_stale_alert(as_of: datetime | None, now: datetime,
                        config: Mapping[str, Any]) -> dict[str, Any] | None:
    """`metrics_stale` when the collector's newest aggregate row is older than allowed."""
    limit = config["METRICS_STALE_SECONDS"]
    if as_of is None or limit <= 0 or (now - as_of).total_seconds() < limit:
        return None
    return alert("metrics_stale", "warning", "Data quality numbers are stale",
                 f"The newest data quality metrics are from {isoformat(as_of)}; expected a "
                 f"collector cycle at least every {_duration(limit)} (is the collector, or "
                 f"`python app.py collect` from cron, running?).",
                 None, as_of + timedelta(seconds=limit))


def current_alerts(quality: Mapping[str, Any], histories: Mapping[str, Sequence[Any]],
                   facts: Sequence[SourceFacts], anomalies: Sequence[Mapping[str, Any]],
                   now: datetime, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every alert of the current state, sorted (errors first, then by key).

    `histories` holds the newest aggregate and source rows (newest first) by metric type.
    """
    found = rate_alerts(quality, histories.get("aggregate", ()), config)
    by_source: dict[str, list[Any]] = {}
    for row in histories.get("source", ()):
        by_source.setdefault(row.source, []).append(row)
    for entry in quality["by_source"]:
        found += rate_alerts(entry, by_source.get(entry["source"], ()), config, entry["source"])
    for item in facts:
        found += [a for a in (stale_alert(item, now, config), failing_alert(item)) if a]
    found += [anomaly_alert(item, config) for item in anomalies]
    if quality["basis"] == "metrics":
        stale = metrics_stale_alert(parse_iso(quality["as_of"]), now, config)
        found += [stale] if stale else []
    return sort_alerts(found)
# endregion


# region past periods
def quality_periods(rows: Iterable[Any], config: Mapping[str, Any],
                    judge_from: datetime | None = None) -> list[dict[str, Any]]:
    """When the `quality:*` alerts were on, replayed from hourly rows (in time order).

    At each hourly row the series' trailing QUALITY_WINDOW_SECONDS is summed from its hourly
    rows, which is what the collector's aggregate and source rows hold at that moment, and its
    rates judged as the status judges them. A period runs from the first hour judged below
    HEALTHY_RATE to the next hour judged healthy (None while no such hour is known); hours of
    that series with no row count as empty. `source` None is the all-sources series. Rows
    before `judge_from` only fill the window (their own window would be cut short).
    """
    window = timedelta(seconds=config["QUALITY_WINDOW_SECONDS"])
    series: dict[str | None, list[tuple[datetime, dict[str, int]]]] = {}
    for row in rows:
        series.setdefault(row.source, []).append((row.timestamp, counts_of(row)))
    periods = []
    for source, points in series.items():
        totals = dict.fromkeys(COUNTS, 0)
        leave = 0
        open_runs: dict[str, dict[str, Any]] = {}
        for stamp, counts in points:
            for name in COUNTS:
                totals[name] += counts[name]
            while points[leave][0] <= stamp - window:
                for name in COUNTS:
                    totals[name] -= points[leave][1][name]
                leave += 1
            if judge_from is not None and stamp < judge_from:
                continue
            for name, (ok, total) in RATES.items():
                severity = rate_status(rate(totals[ok], totals[total]), config)
                current = open_runs.get(name)
                if severity in BAD and current is None:
                    open_runs[name] = {"start": stamp, "severity": severity}
                elif severity in BAD:
                    current["severity"] = max(current["severity"], severity,
                                              key=STATUS_RANK.__getitem__)
                elif current is not None:
                    periods.append(_quality_period(source, name, {**current, "end": stamp}))
                    del open_runs[name]
        periods += [_quality_period(source, name, {**run, "end": None})
                    for name, run in open_runs.items()]
    return periods


def _quality_period(source: str | None, name: str, run: Mapping[str, Any]) -> dict[str, Any]:
    suffix = f":{source}" if source else ""
    return _period(f"quality:{name}{suffix}", run["severity"], source, run["start"], run["end"],
                   f"{RATE_NAMES[name]} low" + (f" ({source})" if source else ""))


def scrape_periods(runs: Iterable[Any], now: datetime,
                   config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Failed-run streaks and gaps between successes, per source, from runs in time order.

    A streak lasts from its first failed run to the next run that did not fail (open while none
    has). A gap is stale from WARNING seconds after a success to the next success (open while
    none has come); an error when it reached SOURCE_STALE_ERROR_SECONDS.
    """
    warn = timedelta(seconds=config["SOURCE_STALE_WARNING_SECONDS"])
    err = timedelta(seconds=config["SOURCE_STALE_ERROR_SECONDS"])
    by_source: dict[str, list[Any]] = {}
    for run in runs:
        by_source.setdefault(run.source, []).append(run)
    periods = []
    for source, items in by_source.items():
        streak: list[Any] = []
        for run in [*items, None]:
            if run is not None and run.status == "failed":
                streak.append(run)
                continue
            if streak:
                severity = "error" if len(streak) >= FAILING_ERROR_RUNS else "warning"
                periods.append(_period(f"scraper_failing:{source}", severity, source,
                                       streak[0].started_at,
                                       None if run is None else run.started_at,
                                       f"Scraper failing ({source})"))
                streak = []
        successes = [run.finished_at or run.started_at for run in items
                     if run.status == "success"]
        for before, after in zip(successes, [*successes[1:], None]):
            until = now if after is None else after
            if until - before < warn:
                continue
            severity = "error" if until - before >= err else "warning"
            periods.append(_period(f"source_stale:{source}", severity, source, before + warn,
                                   after, f"Source stale ({source})"))
    return periods


def _period(key: str, severity: str, source: str | None, start: datetime,
            end: datetime | None, title: str) -> dict[str, Any]:
    """A period with datetimes (the rules' shape); alert_periods turns them into ISO text."""
    return {"key": key, "severity": severity, "source": source, "start": start, "end": end,
            "title": title}


def _by_source(rows: Iterable[Any]) -> dict[Optional[str], list[Any]]:
    """Rows grouped by their `source`, each group in the rows' order."""
    grouped: dict[Optional[str], list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.source, []).append(row)
    return grouped


def alert_periods(session: Session, config: Mapping[str, Any], start: datetime, end: datetime,
                  sources: Iterable[str] | None = None,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """Alert periods overlapping `start <= t < end`, newest start first; `end` None = still open.

    From hourly metric rows (trailing-window rates below thresholds, as the status judged
    them; `sources=None` includes the all-sources series) and scrape runs (failed streaks, gaps
    between successes), read through the (metric_type, timestamp) and started_at indexes.
    Hourly rows are read from one quality window before `start` to one after `end` (so a
    period's end past `end` is still found), runs from 2 x SOURCE_STALE_ERROR_SECONDS (at least
    a day) before `start` up to `now`. Each source is judged by its own thresholds (the rules
    `config` carries, api/status/rules.py; the stale lookback uses the environment's).
    """
    now = now or utcnow()
    wanted = None if sources is None else sorted(set(sources))
    window = timedelta(seconds=config["QUALITY_WINDOW_SECONDS"])
    hourly = (select(M.source, M.timestamp, *(getattr(M, name) for name in COUNTS))
              .where(*of_type("hourly", start - window, end + window))
              .order_by(M.timestamp, M.source))
    if wanted is not None:
        hourly = hourly.where(M.source.in_(wanted))
    lookback = max(timedelta(days=1), 2 * timedelta(seconds=config["SOURCE_STALE_ERROR_SECONDS"]))
    runs_query = (select(ScrapeRun.source, ScrapeRun.started_at, ScrapeRun.finished_at,
                         ScrapeRun.status)
                  .where(ScrapeRun.started_at >= start - lookback, ScrapeRun.started_at <= now)
                  .order_by(ScrapeRun.source, ScrapeRun.started_at))
    if wanted is not None:
        runs_query = runs_query.where(ScrapeRun.source.in_(wanted))
    connection = session.connection()  # Core rows: no ORM loading overhead
    periods = []
    for source, rows in _by_source(connection.execute(hourly)).items():
        periods += quality_periods(rows, scoped(config, source, "quality"), judge_from=start)
    for source, runs in _by_source(connection.execute(runs_query)).items():
        periods += scrape_periods(runs, now, scoped(config, source, "source_stale"))
    periods = [p for p in periods if p["start"] < end and (p["end"] is None or p["end"] > start)]
    periods.sort(key=lambda p: (p["key"], p["start"]))
    periods.sort(key=lambda p: p["start"], reverse=True)
    return [{**p, "start": isoformat(p["start"]), "end": isoformat(p["end"])} for p in periods]
# endregion

