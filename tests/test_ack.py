"""Acknowledging an alert over REST, on both databases: the ack belongs to its occurrence,
needs the operator credential, and ends when the occurrence resolves."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.schemas.documents import Alert
from tests.status_fixtures import NOW, add_metrics, config, evaluate_alerts, metric

OPERATOR = "operator-token-7781"
READER = "read-token-1187"
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
CONFIG = config(ALERT_FOR_SECONDS=0, ALERT_KEEP_FIRING_SECONDS=0)
KEY = "quality:geocoding_success_rate"


def as_operator(**extra):
    return {"headers": {"Authorization": f"Bearer {OPERATOR}"}, "environ_base": REMOTE, **extra}


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_OPERATOR_TOKEN=OPERATOR, PIPEWATCH_READ_TOKEN=READER)


def set_rate(db, moment, good: bool) -> None:
    add_metrics(db, [metric(moment, "aggregate", geo=(100, 99 if good else 80), val=(100, 100),
                            window_seconds=86400)])


def open_alert(runtime, moment=NOW) -> int:
    set_rate(runtime.db, moment, good=False)
    evaluate_alerts(runtime.db, moment, CONFIG)
    return alert_of(runtime, moment)["id"]


def alert_of(runtime, moment):
    from api.status.document import pipeline_status

    with runtime.db.session() as session:
        found = [a for a in pipeline_status(session, moment, CONFIG)["alerts"] if a["key"] == KEY]
    return found[0] if found else None


def test_an_ack_is_shown_with_the_alert_and_can_be_taken_back(client, runtime):
    alert_id = open_alert(runtime)
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack",
                        json={"by": "amina", "note": "  rerunning the geocoder  "},
                        **as_operator())
    assert acked.status_code == 200, acked.get_data(as_text=True)
    body = Alert.model_validate_json(acked.get_data(as_text=True), strict=True)
    assert (body.id, body.key, body.state) == (alert_id, KEY, "firing")
    assert (body.ack.by, body.ack.note) == ("amina", "rerunning the geocoder")
    assert alert_of(runtime, NOW)["ack"]["by"] == "amina"
    taken_back = client.delete(f"/api/v1/alerts/{alert_id}/ack", **as_operator())
    assert taken_back.status_code == 200 and taken_back.get_json()["ack"] is None
    assert alert_of(runtime, NOW)["ack"] is None


def test_an_ack_ends_with_its_occurrence(client, runtime):
    first = open_alert(runtime)
    assert client.post(f"/api/v1/alerts/{first}/ack", json={"by": "amina"},
                       **as_operator()).status_code == 200
    later = NOW + timedelta(minutes=1)
    set_rate(runtime.db, later, good=True)
    evaluate_alerts(runtime.db, later, CONFIG)  # resolved (keep_firing_for 0)
    assert alert_of(runtime, later) is None
    for method in ("post", "delete"):
        gone = getattr(client, method)(f"/api/v1/alerts/{first}/ack", json={"by": "amina"},
                                       **as_operator())
        assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"
    again = open_alert(runtime, NOW + timedelta(minutes=2))
    assert again != first and alert_of(runtime, NOW + timedelta(minutes=2))["ack"] is None


def test_unknown_ids_and_bad_bodies(client, runtime):
    for path_id in ("999", "0", "x1", "99999999999", "1.5"):
        missing = client.post(f"/api/v1/alerts/{path_id}/ack", json={"by": "amina"},
                              **as_operator())
        assert missing.status_code == 404, path_id
    alert_id = open_alert(runtime)
    bad = client.post(f"/api/v1/alerts/{alert_id}/ack",
                      json={"by": " ", "note": 5, "extra": True}, **as_operator())
    assert bad.status_code == 422
    assert {p["path"] for p in bad.get_json()["error"]["details"]["problems"]} == {
        "by", "note", "extra"}
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", data="by=amina",
                       **as_operator()).status_code == 415
    assert alert_of(runtime, NOW)["ack"] is None  # nothing was written


def test_acting_needs_the_operator_credential(client, runtime):
    alert_id = open_alert(runtime)
    path = f"/api/v1/alerts/{alert_id}/ack"
    assert client.post(path, json={"by": "x"}, environ_base=REMOTE).status_code == 401
    as_reader = client.post(path, json={"by": "x"}, environ_base=REMOTE,
                            headers={"Authorization": f"Bearer {READER}"})
    assert as_reader.status_code == 403
    assert client.delete(path, environ_base=REMOTE).status_code == 401
    assert alert_of(runtime, NOW)["ack"] is None
