"""`python app.py backfill-alerts` on both databases: a database with history but no alert
lifecycle rows gets the history the evaluator would have recorded, once."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from api.demo import seed
from api.settings import load_config
from api.status.replay import backfill
from api.storage.db import Database
from api.storage.models import AlertOccurrence, AlertTransition
from api.timeutil import UTC, floor_hour
from tests.test_app import _cli

NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
CONFIG = load_config({}, environ={})
DAYS = 2


def transitions(db) -> list[tuple]:
    with db.session() as session:
        return session.execute(select(AlertTransition.key, AlertTransition.at,
                                      AlertTransition.state, AlertTransition.severity,
                                      AlertTransition.message)
                               .order_by(AlertTransition.id)).all()


def test_backfill_records_what_the_seed_records_and_only_once(database):
    """The seed records its alert history with the same replay; with the lifecycle tables
    emptied (a database from before migration 006), the backfill writes the same transitions,
    and a second run writes nothing."""
    seed.seed_demo(database, CONFIG, days=DAYS, seed=3, now=NOW, progress=False)
    seeded = transitions(database)
    assert seeded
    with database.session() as session:
        session.execute(delete(AlertTransition))
        session.execute(delete(AlertOccurrence))
    start = floor_hour(NOW) - timedelta(days=DAYS) + timedelta(
        seconds=CONFIG["QUALITY_WINDOW_SECONDS"])  # where the seed's alert history starts
    with database.session() as session:
        summary = backfill(session, CONFIG, start, NOW)
    assert summary["rows"] > 0
    assert transitions(database) == seeded
    with database.session() as session:
        assert backfill(session, CONFIG, start, NOW + timedelta(hours=1)) is None
    assert transitions(database) == seeded
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(AlertOccurrence).where(
            AlertOccurrence.ack_at.is_not(None))) == 0  # only the demo invents an ack


def test_the_command_writes_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _cli("seed", "--days", "1", "--database-url", url).returncode == 0
    db = Database(url)
    try:
        with db.session() as session:
            session.execute(delete(AlertTransition))
            session.execute(delete(AlertOccurrence))
        first = _cli("backfill-alerts", "--days", "1", "--database-url", url)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("backfilled ") and transitions(db)
        assert "recording alert history" in first.stderr  # the progress bar
    finally:
        db.dispose()
    again = _cli("backfill-alerts", "--days", "1", "--database-url", url)
    assert again.returncode == 0, again.stderr
    assert "already has alert history: nothing written" in again.stdout
    bad = _cli("backfill-alerts", "--days", "0", "--database-url", url)
    assert bad.returncode == 2 and "--days" in bad.stderr


def test_a_condition_older_than_the_range_opens_at_its_start_and_fires_after_for(database):
    """Punch failed from 5 h before the backfilled range to 3 h into it: the replay's first
    evaluation sees it (pending at `start`), it fires ALERT_FOR_SECONDS later and resolves
    ALERT_KEEP_FIRING_SECONDS after the next good run."""
    from tests.status_fixtures import add_runs, run

    start = NOW - timedelta(hours=10)
    hour = timedelta(hours=1)
    add_runs(database, [run("punch", start - 6 * hour)]
             + [run("punch", start + k * hour, "failed") for k in range(-5, 3)]
             + [run("punch", start + k * hour) for k in range(3, 10)])
    with database.session() as session:
        backfill(session, CONFIG, start, NOW)
    with database.session() as session:
        [failing] = session.scalars(select(AlertOccurrence).where(
            AlertOccurrence.key == "scraper_failing:punch")).all()
    wait = timedelta(seconds=CONFIG["ALERT_FOR_SECONDS"])
    keep = timedelta(seconds=CONFIG["ALERT_KEEP_FIRING_SECONDS"])
    assert (failing.started_at, failing.fired_at, failing.resolved_at) == (
        start, start + wait, start + 3 * hour + keep)
    assert failing.severity == "error"


def test_the_stored_rules_apply_to_the_past(database):
    """A rule giving punch a 3 h staleness allowance and a 10 min `for`: the backfill judges
    punch's gap by it and waits its `for` before firing, as the live evaluator would; `other`,
    with the same gap, keeps the environment's 2 h and 2 min."""
    from api.storage import rule_store
    from tests.status_fixtures import add_runs, run

    start = NOW - timedelta(hours=12)
    hour = timedelta(hours=1)
    hours = (0, 1, 2, 6, 7, 8, 9, 10, 11)  # a success each hour but for a 4 h gap
    add_runs(database, [run(source, start + k * hour) for k in hours
                        for source in ("punch", "other")])
    with database.session() as session:
        rule_store.replace_rules(session, [{"source": "punch", "kind": None,
                                            "stale_warning_seconds": 3 * 3600,
                                            "stale_error_seconds": 6 * 3600,
                                            "for_seconds": 600}], "ada", "slow", NOW)
    with database.session() as session:
        backfill(session, CONFIG, start, NOW)
    with database.session() as session:
        found = {o.key: o for o in session.scalars(select(AlertOccurrence))}
    last = start + 2 * hour + timedelta(seconds=60)  # the success before the gap
    punch, other = found["source_stale:punch"], found["source_stale:other"]
    assert (punch.started_at, punch.fired_at) == (last + 3 * hour,
                                                  last + 3 * hour + timedelta(seconds=600))
    wait = timedelta(seconds=CONFIG["ALERT_FOR_SECONDS"])
    assert (other.started_at, other.fired_at) == (last + 2 * hour, last + 2 * hour + wait)
    assert punch.state == other.state == "resolved"


def test_a_replayed_past_is_recorded_but_never_notified(database):
    """With receivers configured, the backfill writes the history and no outbox row: hundreds
    of old transitions are history, not news for a chat room."""
    from api.storage.models import Notification

    config = load_config({"WEBHOOK_URLS": ("http://127.0.0.1:9/hook",),
                          "WEBHOOK_SECRET": "backfill-secret",
                          "APPRISE_URLS": ("json://127.0.0.1:9/",)}, environ={})
    seed.seed_demo(database, CONFIG, days=DAYS, seed=3, now=NOW, progress=False)
    with database.session() as session:
        session.execute(delete(AlertTransition))
        session.execute(delete(AlertOccurrence))
    with database.session() as session:
        assert backfill(session, config, NOW - timedelta(days=1), NOW)["rows"] > 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
