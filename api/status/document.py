"""The pipeline status document: the ONE computation behind REST, the WebSocket and polling.

`pipeline_status(session, now, config)` reads the newest rows only (index seeks and short index
ranges whose size depends on the collector's cadence and the number of sources, never on how
much history there is) and hands them to the pure rules of api/status/health.py, api/status/quality.py,
api/status/anomalies.py and api/status/alerts.py. Its output depends only on the database and `now`: lists
are sorted, texts hold no clock-relative words, so an unchanged database gives an identical
document except `timestamp` (what lets `seq` tell news from a repeat).

`current_status(runtime)` is what routes, the hub and the page's poll call: it owns the session,
counts the computation, and stamps `seq`.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Mapping

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api.status import alerts, anomalies, health, lifecycle, quality, rules
from api.storage import alert_store, rule_store, silence_store
from api.storage.models import Conflict, DataQualityMetric, Forecast, ScrapeRun
from api.status.thresholds import worst
from api.timeutil import isoformat, parse_iso, utcnow

ANOMALY_KEYS = ("kind", "source", "detected_at", "value", "baseline", "score", "severity")


@cache
def _freshness_statement():
    return select(
        select(func.max(Conflict.scraped_at)).scalar_subquery(),
        select(func.max(DataQualityMetric.timestamp)).scalar_subquery(),
        select(func.max(ScrapeRun.started_at)).scalar_subquery(),
        select(func.max(Forecast.created_at)).scalar_subquery(),
    )


def freshness(session: Session) -> dict[str, str | None]:
    """The newest time in each table, in one round trip of four index-backed MAX()es."""
    newest = session.connection().execute(_freshness_statement()).one()
    names = ("latest_conflict_at", "latest_metric_at", "latest_scrape_at", "latest_forecast_at")
    return {name: isoformat(value) for name, value in zip(names, newest)}


def _histories(session: Session, section: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The newest aggregate/source rows (newest first), read only when a rate alert needs its
    `since` (an entry judged bad, by its own source's thresholds); bounded by
    quality.HISTORY_ROWS."""
    if section["basis"] != "metrics":
        return {}
    entries = {"aggregate": [section], "source": section["by_source"]}
    stamp = parse_iso(section["as_of"])
    return {kind: quality.recent_history(session, kind, stamp)
            for kind, listed in entries.items()
            if any(entry["status"] in alerts.BAD for entry in listed)}


def _observe(session: Session, now: datetime, config: Mapping[str, Any],
             cache: anomalies.AnomalyCache | None) -> dict[str, Any]:
    """Every section computed from the data at `now`, and the alert conditions that hold."""
    if now.tzinfo is None:
        raise ValueError("the status needs a timezone-aware `now`")
    if session.get_bind().dialect.name == "postgresql":
        # Short index seeks whose cost estimates can still cross jit_above_cost on big tables:
        # JIT compiling took 270 ms of a 310 ms statement on 864 k scrape runs. This transaction only.
        session.execute(text("SET LOCAL jit = off"))
    if rules.rules_of(config) is None:
        config = rules.with_rules(config, stored_rules(session))
    facts = health.load_facts(session, now)
    scraping = health.health_section(facts, now, config)
    data_quality = quality.quality_section(session, now, config)
    current = anomalies.current_anomalies(session, config, now, cache)
    conditions = alerts.current_alerts(data_quality, _histories(session, data_quality),
                                       facts, current, now, config)
    return {"scraping_health": scraping, "data_quality": data_quality, "anomalies": current,
            "conditions": conditions}


def stored_rules(session: Session) -> rules.RuleBook:
    """The rules stored now: read by every computation, so a change made through any process
    applies at the next one everywhere (api/status/rules.py)."""
    return rules.book_of(rule_store.load_rules(session))


def alert_conditions(session: Session, now: datetime, config: Mapping[str, Any],
                     cache: anomalies.AnomalyCache | None = None) -> list[dict[str, Any]]:
    """The alert conditions that hold at `now` (what the lifecycle evaluator judges)."""
    return _observe(session, now, config, cache)["conditions"]


def pipeline_status(session: Session, now: datetime, config: Mapping[str, Any],
                    cache: anomalies.AnomalyCache | None = None) -> dict[str, Any]:
    """The status document (docs/architecture.md) as of `now` (aware UTC), without `seq`.

    `overall_status` is the worst of the sections and of the conditions holding now; `alerts`
    lists the open occurrences the evaluator stored (api/status/lifecycle.py), each marked
    with the silence active at `now` that matches it; it reads the database, never writes it.
    `cache` (the runtime's) only saves recomputing unchanged anomalies: same document."""
    seen = _observe(session, now, config, cache)
    scraping, data_quality = seen["scraping_health"], seen["data_quality"]
    overall = worst([scraping["status"], data_quality["status"],
                     *(item["severity"] for item in seen["conditions"])])
    return {
        "timestamp": isoformat(now),
        "overall_status": overall,
        "scraping_health": scraping,
        "data_quality": data_quality,
        "anomalies": [{key: item[key] for key in ANOMALY_KEYS} for item in seen["anomalies"]],
        "alerts": lifecycle.shown(seen["conditions"], alert_store.open_occurrences(session),
                                  silence_store.active_silences(session, now)),
        "freshness": freshness(session),
    }


def begin_snapshot(session: Session) -> None:
    """Make every statement of the status see ONE snapshot of the database.

    PostgreSQL: at READ COMMITTED each statement sees the commits made before it started, so a
    row committed mid-computation could show in `freshness` but not in `scraping_health`;
    REPEATABLE READ READ ONLY pins the snapshot at the first query. Asked for as the
    connection's options, psycopg puts it in the BEGIN it sends anyway (one round trip fewer
    than a SET TRANSACTION), and the pool resets them when the connection comes back.
    SQLite: pysqlite issues no BEGIN before a SELECT, so each statement would read its own
    state; an explicit deferred BEGIN makes them one read transaction (WAL: a reader's snapshot
    is fixed at its first read). Must be called before the session's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                              "postgresql_readonly": True})
    else:
        session.connection().exec_driver_sql("BEGIN")


def current_status(runtime, now: datetime | None = None, caller: str = "rest") -> dict[str, Any]:
    """The status now, computed in its own session, counted per caller, stamped with `seq`."""
    with runtime.db.session() as session:
        begin_snapshot(session)
        document = pipeline_status(session, now or utcnow(), runtime.config, runtime.anomaly_cache)
    runtime.telemetry.status_computations.labels(caller).inc()
    return runtime.sequencer.stamp(document)
