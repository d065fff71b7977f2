"""The demo seed: deterministic, realistic, and carrying the three incidents it promises."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from api.demo import profiles, seed
from api.settings import load_config
from api.storage.db import Database
from api.status.document import alert_conditions
from api.status.evaluation import evaluate
from api.storage.models import AlertOccurrence, AlertTransition, Conflict, \
    DataQualityMetric as M, Forecast, Location, ScrapeRun
from api.timeutil import UTC, floor_hour

NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
CONFIG = load_config({}, environ={})
DAYS = 3


@pytest.fixture
def seeded(database: Database) -> tuple[Database, dict]:
    summary = seed.seed_demo(database, CONFIG, days=DAYS, seed=11, now=NOW, progress=False)
    return database, summary


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(db: Database) -> dict:
    """Counts and the first rows of each table, without ids (what must repeat exactly)."""
    with db.session() as session:
        first_conflicts = session.execute(
            select(Conflict.source, Conflict.source_url, Conflict.scraped_at,
                   Conflict.geocoding_status, Conflict.validation_status, Conflict.fatalities,
                   Conflict.latitude).order_by(Conflict.id).limit(25)).all()
        first_runs = session.execute(
            select(ScrapeRun.source, ScrapeRun.started_at, ScrapeRun.status,
                   ScrapeRun.items_new, ScrapeRun.error).order_by(ScrapeRun.id).limit(25)).all()
        transitions = session.execute(
            select(AlertTransition.key, AlertTransition.at, AlertTransition.state,
                   AlertTransition.severity, AlertTransition.message)
            .order_by(AlertTransition.id)).all()
        return {"counts": [count(session, model) for model in (Conflict, ScrapeRun, Forecast, M)],
                "conflicts": first_conflicts, "runs": first_runs, "transitions": transitions}


def wipe(db: Database) -> None:
    with db.session() as session:
        for model in (AlertTransition, AlertOccurrence, M, Forecast, Conflict, ScrapeRun):
            session.execute(delete(model))


def test_same_seed_and_now_give_the_same_history(seeded):
    db, summary = seeded
    first = snapshot(db)
    assert first["counts"][:3] == [summary["conflicts"], summary["scrape_runs"],
                                   summary["forecasts"]]
    assert len(first["transitions"]) > 20
    wipe(db)
    again = seed.seed_demo(db, CONFIG, days=DAYS, seed=11, now=NOW, progress=False)
    assert snapshot(db) == first
    assert again["locations"] == 0   # the places were kept and reused
    wipe(db)
    seed.seed_demo(db, CONFIG, days=DAYS, seed=12, now=NOW, progress=False)
    assert snapshot(db)["conflicts"] != first["conflicts"]


def test_database_is_empty_until_seeded(database):
    with database.session() as session:
        assert seed.database_is_empty(session)
    seed.seed_demo(database, CONFIG, days=1, seed=1, now=NOW, progress=False)
    with database.session() as session:
        assert not seed.database_is_empty(session)


def test_history_is_realistic(seeded):
    db, summary = seeded
    with db.session() as session:
        assert count(session, Location) == len(profiles.LOCATIONS)
        sources = set(session.scalars(select(Conflict.source).distinct()))
        assert sources == {source.name for source in profiles.SOURCES}
        oldest = session.scalar(select(func.min(ScrapeRun.started_at)))
        assert floor_hour(NOW) - timedelta(days=DAYS) <= oldest < NOW - timedelta(days=DAYS - 1)
        assert session.scalar(select(func.max(Conflict.scraped_at))) < NOW
        # Geocoded events carry coordinates near a Nigerian place; failed ones carry none.
        lat_range = session.execute(select(func.min(Conflict.latitude), func.max(Conflict.latitude))
                                    .where(Conflict.geocoding_status == "success")).one()
        assert 4 < lat_range[0] and lat_range[1] < 14
        assert count(session, Conflict, Conflict.geocoding_status == "failed",
                     Conflict.latitude.is_not(None)) == 0
        # Pending only among the freshest articles.
        oldest_pending = session.scalar(select(func.min(Conflict.scraped_at))
                                        .where(Conflict.geocoding_status == "pending"))
        assert oldest_pending is None or NOW - oldest_pending <= timedelta(
            minutes=seed.PENDING_MINUTES)
        assert count(session, Forecast) == summary["forecasts"] > 0


def test_metric_rows_cover_every_closed_hour_and_the_newest_cycle(seeded):
    db, summary = seeded
    with db.session() as session:
        hours = session.scalars(select(M.timestamp).where(
            M.metric_type == "hourly", M.source.is_(None)).order_by(M.timestamp)).all()
        assert hours[-1] == floor_hour(NOW)
        assert hours[0] == floor_hour(NOW) - timedelta(days=DAYS) + timedelta(hours=1)
        assert len(hours) == DAYS * 24
        aggregate = session.scalars(select(M).where(M.metric_type == "aggregate")).all()
        assert [row.timestamp for row in aggregate] == [datetime(2026, 11, 25, 14, 35, tzinfo=UTC)]
        assert aggregate[0].geocoding_attempts > 0
        assert count(session, M, M.metric_type == "source") == len(profiles.SOURCES)
        assert count(session, M) == summary["metrics"]


def test_geocoding_collapse_is_ongoing(seeded):
    db, _ = seeded
    spans = seed.incident_windows(NOW, DAYS)["geocoding_collapse"]
    source = spans["source"]
    with db.session() as session:
        during = session.execute(select(M.geocoding_attempts, M.geocoding_success_rate).where(
            M.metric_type == "hourly", M.source == source,
            M.timestamp >= spans["start"] + timedelta(hours=1))).all()   # hours wholly inside
        before = session.execute(select(M.geocoding_success_rate).where(
            M.metric_type == "hourly", M.source == source,
            M.timestamp <= spans["start"] - timedelta(hours=1),
            M.geocoding_attempts >= 5)).scalars().all()
        latest = session.scalar(select(M).where(M.metric_type == "source", M.source == source))
    assert len(during) >= 4
    assert all(rate < 0.6 for attempts, rate in during if attempts >= 5)
    assert sorted(before)[len(before) // 2] > 0.85          # its usual median
    assert latest.status in ("warning", "error")


def test_scraper_outage_fails_a_whole_day_with_an_error(seeded):
    db, _ = seeded
    span = seed.incident_windows(NOW, DAYS)["scraper_outage"]
    assert span["end"] - span["start"] == timedelta(days=1) and span["end"] <= NOW
    with db.session() as session:
        runs = session.execute(select(ScrapeRun.status, ScrapeRun.error).where(
            ScrapeRun.source == span["source"], ScrapeRun.started_at >= span["start"],
            ScrapeRun.started_at < span["end"])).all()
        later_success = count(session, ScrapeRun, ScrapeRun.source == span["source"],
                              ScrapeRun.started_at >= span["end"], ScrapeRun.status == "success")
    assert len(runs) == 24
    assert {status for status, _ in runs} == {"failed"}
    assert {error for _, error in runs} == {seed.INCIDENTS["scraper_outage"]["error"]}
    assert later_success > 0


def test_silent_source_has_no_runs_for_hours(seeded):
    db, _ = seeded
    silent = seed.INCIDENTS["silent_source"]
    with db.session() as session:
        last = dict(session.execute(select(ScrapeRun.source, func.max(ScrapeRun.started_at))
                                    .group_by(ScrapeRun.source)).all())
    assert NOW - last[silent["source"]] >= timedelta(hours=silent["hours"])
    assert NOW - last[silent["source"]] >= timedelta(seconds=CONFIG["SOURCE_STALE_ERROR_SECONDS"])
    others = [moment for name, moment in last.items() if name != silent["source"]]
    assert all(NOW - moment < timedelta(hours=1) for moment in others)


def test_progress_bar_on_stderr(sqlite_url, capsys):
    from api.storage import migrate

    db = Database(sqlite_url)
    migrate.upgrade(db.engine)
    try:
        seed.seed_demo(db, CONFIG, days=1, seed=1, now=NOW, progress=True)
    finally:
        db.dispose()
    captured = capsys.readouterr()
    assert "seeding demo history" in captured.err and captured.out == ""


def test_alert_history_is_recorded_as_the_evaluator_would(seeded):
    """Fired and resolved occurrences with their transitions in lifecycle order; the scraper
    outage among them; short dips that opened pending and resolved without firing."""
    db, summary = seeded
    wait = timedelta(seconds=CONFIG["ALERT_FOR_SECONDS"])
    keep = timedelta(seconds=CONFIG["ALERT_KEEP_FIRING_SECONDS"])
    with db.session() as session:
        occurrences = session.scalars(select(AlertOccurrence).order_by(AlertOccurrence.id)).all()
        transitions = session.execute(select(AlertTransition.occurrence_id, AlertTransition.state,
                                             AlertTransition.at, AlertTransition.message)
                                      .order_by(AlertTransition.id)).all()
    assert summary["alert_history"]["rows"] > 0
    states = {}
    for occurrence_id, state, at, message in transitions:
        states.setdefault(occurrence_id, []).append((state, at))
        assert message
    resolved = [o for o in occurrences if o.state == "resolved" and o.fired_at is not None]
    assert len(resolved) >= 3
    for item in resolved:
        assert item.fired_at == item.started_at + wait
        assert item.resolved_at >= item.fired_at + keep
        steps = states[item.id]
        assert steps[0] == ("pending", item.started_at)
        assert steps[-1] == ("resolved", item.resolved_at)
        assert [at for _, at in steps] == sorted(at for _, at in steps)
    never_fired = [o for o in occurrences if o.state == "resolved" and o.fired_at is None]
    assert never_fired and all([s for s, _ in states[o.id]] == ["pending", "resolved"] for o in never_fired)
    outage = seed.incident_windows(NOW, DAYS)["scraper_outage"]
    [failing] = [o for o in resolved if o.key == f"scraper_failing:{outage['source']}"
                 and outage["start"] <= o.started_at < outage["end"]]
    assert failing.severity == "error" and failing.resolved_at >= outage["end"]


def test_open_incidents_are_the_live_conditions_and_one_is_acknowledged(seeded):
    """The seeded open occurrences have the keys the conditions at `now` have, so the running
    evaluator continues them: an evaluation right after seeding writes nothing, and a later
    one opens no duplicate."""
    db, summary = seeded
    with db.session() as session:
        conditions = alert_conditions(session, NOW, CONFIG)
        open_items = session.scalars(select(AlertOccurrence).where(
            AlertOccurrence.state != "resolved")).all()
    assert {o.key for o in open_items} == {c["key"] for c in conditions}
    silent = f"source_stale:{seed.INCIDENTS['silent_source']['source']}"
    collapse = seed.INCIDENTS["geocoding_collapse"]["source"]
    assert silent in {o.key for o in open_items}
    assert any(o.key.endswith(f":{collapse}") for o in open_items)
    assert all(o.state == "firing" and o.fired_at <= NOW for o in open_items)
    [acked] = [o for o in open_items if o.ack_at is not None]
    assert (acked.key, acked.ack_by, acked.ack_note) == (silent, seed.ACK["by"],
                                                          seed.ACK["note"])
    assert acked.fired_at < acked.ack_at <= NOW and summary["acknowledged"] == acked.id
    with db.session() as session:
        before = count(session, AlertOccurrence)
    with db.session() as session:
        assert evaluate(session, NOW, CONFIG) == 0
    with db.session() as session:
        evaluate(session, NOW + timedelta(minutes=1), CONFIG)
    with db.session() as session:
        assert count(session, AlertOccurrence) == before
