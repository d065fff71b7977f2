"""Silences over REST, on both databases: matchers mark the alerts they cover in the status
document (which still lists them), a silence ends at `ends_at` or when DELETEd, creating and
expiring need the operator credential, bad bodies are refused whole, history is untouched."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.schemas.documents import PipelineStatus, Silence, Silences
from api.status.document import pipeline_status
from api.status.silences import silenced
from api.storage.models import Silence as SilenceRow
from api.storage.silence_store import ActiveSilence
from api.timeutil import isoformat, utcnow
from tests.status_fixtures import (NOW, add_metrics, add_runs, config, evaluate_alerts,
                                   insert_rows, metric, run)

OPERATOR = "operator-token-7781"
READER = "read-token-1187"
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
CONFIG = config(ALERT_FOR_SECONDS=0, ALERT_KEEP_FIRING_SECONDS=0)
KEYS = {"quality:geocoding_success_rate", "quality:geocoding_success_rate:punch",
        "source_stale:punch", "scraper_failing:punch"}
"""The alerts `open_alerts` raises: one about all sources, three about punch."""


def as_operator(**extra):
    return {"headers": {"Authorization": f"Bearer {OPERATOR}"}, "environ_base": REMOTE, **extra}


def as_reader(**extra):
    return {"headers": {"Authorization": f"Bearer {READER}"}, "environ_base": REMOTE, **extra}


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_OPERATOR_TOKEN=OPERATOR, PIPEWATCH_READ_TOKEN=READER)


def open_alerts(runtime) -> None:
    """Bad geocoding overall and at punch, and punch's scraper failing, evaluated at NOW."""
    add_metrics(runtime.db, [
        metric(NOW, "aggregate", geo=(100, 80), val=(100, 100), window_seconds=86400),
        metric(NOW, "source", source="punch", geo=(100, 80), val=(100, 100),
               window_seconds=86400)])
    add_runs(runtime.db, [run("punch", NOW - timedelta(minutes=5), status="failed",
                              error="HTTP 500")])
    evaluate_alerts(runtime.db, NOW, CONFIG)


def alerts_at(runtime, moment=NOW) -> dict[str, dict]:
    with runtime.db.session() as session:
        document = pipeline_status(session, moment, CONFIG)
    PipelineStatus.model_validate({**document, "seq": 1})
    return {alert["key"]: alert for alert in document["alerts"]}


def silence_body(**matchers):
    """Active at NOW (the alerts' clock) and ending a day after the server's clock."""
    return {"matchers": matchers, "starts_at": isoformat(NOW - timedelta(hours=1)),
            "ends_at": isoformat(utcnow() + timedelta(days=1)), "created_by": "amina",
            "comment": "geocoder migration, CHG-1142"}


def create(client, body):
    created = client.post("/api/v1/silences", json=body, **as_operator())
    assert created.status_code == 201, created.get_data(as_text=True)
    return Silence.model_validate_json(created.get_data(as_text=True), strict=True)


@pytest.mark.parametrize("matchers,covered", [
    ({"source": "punch"}, KEYS - {"quality:geocoding_success_rate"}),
    ({"kind": "quality"}, {"quality:geocoding_success_rate",
                           "quality:geocoding_success_rate:punch"}),
    ({"key": "scraper_failing:punch"}, {"scraper_failing:punch"}),
    ({"source": "punch", "kind": "quality"}, {"quality:geocoding_success_rate:punch"}),
    ({"source": "elsewhere"}, set()),
    ({"kind": "anomaly"}, set()),
])
def test_a_silence_marks_the_alerts_its_matchers_cover_and_they_stay_listed(
        client, runtime, matchers, covered):
    open_alerts(runtime)
    assert set(alerts_at(runtime)) == KEYS
    silence = create(client, silence_body(**matchers))
    assert silence.state == "active" and silence.expired_at is None
    assert silence.matchers.model_dump(exclude_none=True) == matchers
    shown = alerts_at(runtime)
    assert set(shown) == KEYS, "a silenced alert is still listed"
    assert {key for key, alert in shown.items() if alert["silenced"]} == covered
    for key in covered:
        assert shown[key]["silenced"] == {
            "id": silence.id, "until": isoformat(silence.ends_at), "by": "amina",
            "comment": "geocoder migration, CHG-1142"}
        assert shown[key]["state"] == "firing"


def test_a_silence_ends_at_its_end_and_does_not_start_before_its_start(client, runtime):
    open_alerts(runtime)
    body = silence_body(key="source_stale:punch")
    body["starts_at"] = isoformat(NOW + timedelta(minutes=10))
    silence = create(client, body)
    key = "source_stale:punch"
    assert alerts_at(runtime, NOW)[key]["silenced"] is None, "not started yet"
    assert alerts_at(runtime, NOW + timedelta(minutes=10))[key]["silenced"]["id"] == silence.id
    assert alerts_at(runtime, silence.ends_at - timedelta(seconds=1))[key]["silenced"]
    assert alerts_at(runtime, silence.ends_at)[key]["silenced"] is None, "ended"


def test_delete_expires_a_silence_now_and_it_is_listed_as_ended(client, runtime):
    open_alerts(runtime)
    silence = create(client, silence_body(source="punch"))
    listed = client.get("/api/v1/silences", **as_reader())
    assert [item["id"] for item in listed.get_json()["items"]] == [silence.id]
    before = utcnow()
    expired = client.delete(f"/api/v1/silences/{silence.id}", **as_operator())
    assert expired.status_code == 200, expired.get_data(as_text=True)
    ended = Silence.model_validate_json(expired.get_data(as_text=True), strict=True)
    assert ended.state == "ended" and before <= ended.expired_at <= utcnow()
    assert ended.ends_at == silence.ends_at, "the planned end is kept; expired_at says when"
    after = ended.expired_at + timedelta(seconds=1)
    assert not any(alert["silenced"] for alert in alerts_at(runtime, after).values())
    assert alerts_at(runtime, NOW)["source_stale:punch"]["silenced"], \
        "the status at an earlier moment is what it was: a database and a moment, one answer"
    again = client.delete(f"/api/v1/silences/{silence.id}", **as_operator())
    assert again.status_code == 200 and again.get_json()["expired_at"] == isoformat(
        ended.expired_at), "expiring twice keeps the first time"
    page = Silences.model_validate_json(
        client.get("/api/v1/silences", **as_reader()).get_data(as_text=True), strict=True)
    assert [(item.id, item.state) for item in page.items] == [(silence.id, "ended")]


def test_the_list_holds_scheduled_active_and_recently_ended_silences(client, runtime):
    now = utcnow()

    def row(ends_days_ago: float, **extra):
        ends = now - timedelta(days=ends_days_ago)
        return {"source": "punch", "kind": None, "key": None, "starts_at": ends - timedelta(
            hours=2), "ends_at": ends, "created_by": "amina", "comment": "old",
            "created_at": ends - timedelta(hours=2), "expired_at": None, **extra}

    insert_rows(runtime.db, SilenceRow, [
        row(8), row(6.9), row(30, ends_at=now + timedelta(hours=1)),  # the last: active
        row(1, ends_at=now + timedelta(days=2), expired_at=now - timedelta(days=7.5)),
        row(-1)])  # scheduled: starts tomorrow
    body = client.get("/api/v1/silences", **as_reader()).get_json()
    assert body["recent_days"] == 7
    assert [item["state"] for item in body["items"]] == ["active", "ended", "scheduled"]


def test_silences_never_change_the_lifecycle_or_its_history(client, runtime):
    open_alerts(runtime)
    events = client.get("/api/v1/alerts/events", **as_reader()).get_json()["items"]
    silence = create(client, silence_body(kind="quality"))
    later = NOW + timedelta(minutes=1)
    assert evaluate_alerts(runtime.db, later, CONFIG) == 0, "nothing to write: no transition"
    assert client.delete(f"/api/v1/silences/{silence.id}", **as_operator()).status_code == 200
    assert client.get("/api/v1/alerts/events", **as_reader()).get_json()["items"] == events
    shown = alerts_at(runtime, later)
    assert {(alert["state"], alert["fired_at"]) for alert in shown.values()} == {
        ("firing", isoformat(NOW))}


def test_acting_needs_the_operator_credential_and_reading_the_read_token(client, runtime):
    body = silence_body(source="punch")
    assert client.post("/api/v1/silences", json=body, environ_base=REMOTE).status_code == 401
    assert client.post("/api/v1/silences", json=body, **as_reader()).status_code == 403
    assert client.get("/api/v1/silences", environ_base=REMOTE).status_code == 401
    assert client.get("/api/v1/silences", **as_reader()).get_json()["items"] == []
    silence = create(client, body)
    for extra in ({"environ_base": REMOTE}, as_reader()):
        refused = client.delete(f"/api/v1/silences/{silence.id}", **extra)
        assert refused.status_code in (401, 403)
    assert client.get("/api/v1/silences", **as_reader()).get_json()["items"][0]["state"] == \
        "active"


def test_unknown_ids_are_404(client, runtime):
    for path_id in ("999", "0", "x1", "99999999999", "1.5"):
        missing = client.delete(f"/api/v1/silences/{path_id}", **as_operator())
        assert missing.status_code == 404, path_id
        assert missing.get_json()["error"]["code"] == "not_found"


def test_a_bad_body_lists_every_problem_and_writes_nothing(client, runtime):
    bad = client.post("/api/v1/silences", **as_operator(json={
        "matchers": {"kind": "bogus", "source": "", "key": "k" * 201, "label": "x"},
        "ends_at": "2026-12-02T16:00:00", "created_by": " ", "comment": "x" * 1001,
        "extra": 1}))
    assert bad.status_code == 422
    problems = bad.get_json()["error"]["details"]["problems"]
    assert {p["path"] for p in problems} == {
        "extra", "matchers.label", "matchers.kind", "matchers.source", "matchers.key",
        "ends_at", "created_by", "comment"}
    empty = client.post("/api/v1/silences", **as_operator(json={
        "matchers": {}, "starts_at": isoformat(utcnow() + timedelta(days=2)),
        "ends_at": isoformat(utcnow() + timedelta(days=1)), "created_by": "a",
        "comment": "c"}))
    assert {(p["path"], p["message"]) for p in empty.get_json()["error"]["details"][
        "problems"]} == {("matchers", "set at least one of source, kind, key"),
                         ("ends_at", "must be after starts_at")}
    past = client.post("/api/v1/silences", **as_operator(json={
        "matchers": {"source": "punch"}, "ends_at": isoformat(utcnow() - timedelta(minutes=1)),
        "created_by": "a", "comment": "c"}))
    assert past.get_json()["error"]["details"]["problems"] == [
        {"path": "ends_at", "message": "must be in the future"}]
    assert client.post("/api/v1/silences", data="x", **as_operator()).status_code == 415
    assert client.get("/api/v1/silences", **as_reader()).get_json()["items"] == []


def test_an_alert_shows_the_longest_lasting_silence_that_matches():
    """Pure rule: the choice among several matching silences does not depend on row order."""
    def active(silence_id, source=None, kind=None, key=None, hours=1):
        return ActiveSilence(silence_id, source, kind, key, NOW + timedelta(hours=hours),
                             "amina", f"#{silence_id}")

    alert = {"key": "quality:geocoding_success_rate:punch", "source": "punch"}
    found = [active(1, source="punch"), active(2, kind="quality", hours=4),
             active(3, key=alert["key"], hours=4), active(4, source="other", hours=9)]
    for order in (found, found[::-1]):
        assert silenced(alert, order)["id"] == 2
    assert silenced({"key": "anomaly:punch", "source": None}, found) is None
