"""The alert lifecycle on crafted sequences, on both databases: `for`, `keep_firing_for`,
flapping, what the status lists, and one evaluator per database (two processes on PostgreSQL
write each transition once)."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.status.document import pipeline_status
from api.status.evaluation import evaluate
from api.storage.db import Database
from api.storage.models import AlertOccurrence, AlertTransition
from tests.status_fixtures import NOW, add_metrics, config, evaluate_alerts, metric

STEP = timedelta(seconds=60)
KEY = "quality:geocoding_success_rate"
CONFIG = config(ALERT_FOR_SECONDS=120, ALERT_KEEP_FIRING_SECONDS=300,
                ALERT_FLAPPING_TRANSITIONS=6)
BAD, GOOD = (100, 80), (100, 95)  # geocoding (attempts, successes): 0.80 is a warning


def write_sequence(db, pattern: str) -> list:
    """One aggregate row per STEP from NOW: `b` a bad geocoding rate, `g` a good one; the
    moments at which the rows were written (evaluate at each)."""
    moments = [NOW + i * STEP for i in range(len(pattern))]
    add_metrics(db, [metric(at, "aggregate", geo=BAD if mark == "b" else GOOD, val=(100, 100),
                            window_seconds=86400) for at, mark in zip(moments, pattern)])
    return moments


def play(db, pattern: str, conf=CONFIG) -> list[tuple[int, str]]:
    """Evaluate after each row of `pattern`; the transitions of KEY as (occurrence, state)."""
    for at in write_sequence(db, pattern):
        evaluate_alerts(db, at, conf)
    return transitions(db)


def transitions(db) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(select(AlertTransition.occurrence_id, AlertTransition.state)
                               .where(AlertTransition.key == KEY)
                               .order_by(AlertTransition.at, AlertTransition.id))
        return [tuple(row) for row in rows]


def status_at(db, moment, conf=CONFIG) -> dict:
    with db.session() as session:
        return pipeline_status(session, moment, conf)


def test_a_dip_shorter_than_for_never_fires(database):
    # Bad at 0 and 60 s (held 60 s < 120 s), good at 120 s: it resolves while pending.
    assert play(database, "bbg") == [(1, "pending"), (1, "resolved")]
    assert status_at(database, NOW + 2 * STEP)["alerts"] == []


def test_a_condition_that_holds_fires_then_lists_as_firing(database):
    moments = write_sequence(database, "bbb")
    evaluate_alerts(database, moments[0], CONFIG)
    pending = status_at(database, moments[0])["alerts"]
    assert [(a["key"], a["state"], a["fired_at"]) for a in pending] == [(KEY, "pending", None)]
    evaluate_alerts(database, moments[1], CONFIG)
    evaluate_alerts(database, moments[2], CONFIG)  # held 120 s: fires
    firing = status_at(database, moments[2])["alerts"]
    assert [(a["id"], a["state"], a["fired_at"]) for a in firing] == [
        (pending[0]["id"], "firing", "2026-11-25T12:32:00Z")]
    assert firing[0]["message"].startswith("All sources: geocoding success rate is 80.0 %")
    assert transitions(database) == [(1, "pending"), (1, "firing")]


def test_a_rate_wobbling_inside_the_hysteresis_fires_once_and_resolves_once(database):
    # Fires at 120 s; then clear for one or two minutes at a time (< 300 s) between bad
    # minutes; then clear for good: it resolves 300 s after the last bad minute.
    pattern = "bbb" + "gbggbgbggb" + "g" * 6
    assert play(database, pattern) == [(1, "pending"), (1, "firing"), (1, "resolved")]
    with database.session() as session:
        resolved_at = session.scalar(select(AlertOccurrence.resolved_at))
    assert resolved_at == NOW + (len(pattern) - 1) * STEP  # 300 s after it was first seen clear
    assert status_at(database, NOW + len(pattern) * STEP)["alerts"] == []


def test_a_firing_alert_keeps_firing_while_cleared_and_shows_its_last_message(database):
    moments = write_sequence(database, "bbbg")
    for moment in moments:
        evaluate_alerts(database, moment, CONFIG)
    held = status_at(database, moments[3])["alerts"]
    assert [(a["state"], a["severity"]) for a in held] == [("firing", "warning")]
    assert "80.0 %" in held[0]["message"]  # the condition's last words, not a blank


def test_flapping_is_flagged(database):
    # Each `bg` opens a pending occurrence and resolves it: two transitions of the key.
    # Past 6 in the hour, the next occurrence is flapping; earlier ones were not.
    play(database, "bg" * 3 + "b")
    doc = status_at(database, NOW + 6 * STEP)
    assert [(a["id"], a["flapping"]) for a in doc["alerts"]] == [(4, True)]
    with database.session() as session:
        flags = session.execute(select(AlertOccurrence.id, AlertOccurrence.flapping)
                                .order_by(AlertOccurrence.id)).all()
    assert [tuple(row) for row in flags] == [(1, False), (2, False), (3, False), (4, True)]


def test_severity_changes_are_recorded_and_the_next_occurrence_is_new(database):
    moments = write_sequence(database, "bb")
    evaluate_alerts(database, moments[0], CONFIG)
    add_metrics(database, [metric(moments[1] + STEP, "aggregate", geo=(100, 50),
                                  val=(100, 100), window_seconds=86400)])  # an error now
    evaluate_alerts(database, moments[1] + STEP, CONFIG)
    with database.session() as session:
        rows = session.execute(select(AlertTransition.state, AlertTransition.severity)
                               .order_by(AlertTransition.id)).all()
    assert [tuple(row) for row in rows] == [("pending", "warning"), ("firing", "error")]


def test_an_unchanged_evaluation_writes_nothing(database):
    moments = write_sequence(database, "b")
    assert evaluate_alerts(database, moments[0], CONFIG) == 1
    assert evaluate_alerts(database, moments[0] + timedelta(seconds=1), CONFIG) == 0


def test_for_zero_fires_at_once(database):
    assert play(database, "b", config(ALERT_FOR_SECONDS=0)) == [(1, "firing")]


# region two processes, one database
def _evaluate_in_process(url: str, moments: list, barrier) -> None:
    """A second host: its own engine; at each moment both processes evaluate at once."""
    db = Database(url)
    try:
        for moment in moments:
            barrier.wait(timeout=30)
            with db.session() as session:
                evaluate(session, moment, CONFIG)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_processes_write_each_transition_exactly_once(pg_server):
    url = pg_server.create_database()
    db = Database(url)
    try:
        from api.storage import migrate

        migrate.upgrade(db.engine)
        pattern = "bbb" + "gbggbgbggb" + "g" * 6 + "bg" * 4
        moments = write_sequence(db, pattern)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(3)
        workers = [context.Process(target=_evaluate_in_process, args=(url, moments, barrier))
                   for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [worker.exitcode for worker in workers] == [0, 0, 0]
        with db.session() as session:
            counted = session.scalar(select(func.count()).select_from(AlertTransition))
            occurrences = session.scalar(select(func.count()).select_from(AlertOccurrence))
        # What one evaluator alone writes for this sequence: the wobble (pending, firing,
        # resolved), then four dips shorter than `for` (pending, resolved each).
        assert transitions(db)[:3] == [(1, "pending"), (1, "firing"), (1, "resolved")]
        assert (counted, occurrences) == (3 + 4 * 2, 1 + 4)
    finally:
        db.dispose()
        pg_server.drop_database(url.rsplit("/", 1)[1])
# endregion


def test_the_apps_evaluator_opens_on_a_change_and_fires_on_its_timer(make_app):
    """The worker create_app starts: a change opens the alert at once (pending), and with no
    further change its timer fires it once ALERT_FOR_SECONDS have passed."""
    import time

    from api.timeutil import utcnow

    app = make_app(ALERT_EVALUATE_SECONDS=0.2, ALERT_FOR_SECONDS=1)
    runtime = app.server.extensions["pipewatch"]
    client = app.server.test_client()
    add_metrics(runtime.db, [metric(utcnow(), "aggregate", geo=BAD, val=(100, 100),
                                    window_seconds=86400)])
    runtime.notify_change()
    states = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "firing" not in states:
        alerts = client.get("/api/v1/monitoring/pipeline-status").get_json()["alerts"]
        state = alerts[0]["state"] if alerts else None
        if state and (not states or states[-1] != state):
            states.append(state)
        time.sleep(0.05)
    assert states == ["pending", "firing"]
