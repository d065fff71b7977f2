"""Alert rules per source and kind, over REST on both databases: a rule tunes the thresholds,
`for` and `keep_firing_for` of the alerts it covers (and the statuses behind them), the most
specific rule wins, bad bodies are refused whole, every change is logged, a stale If-Match is
refused, only operators may change them. (A change made through one process and applied by
another: tests/test_multiprocess.py.)"""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.schemas.documents import RuleChanges, Rules
from api.status.document import pipeline_status
from api.status.rules import Rule, RuleBook, scoped, with_rules
from api.storage.models import AlertRule, RuleChange
from tests.status_fixtures import (NOW, add_metrics, add_runs, config, evaluate_alerts, metric,
                                   run)

OPERATOR = "operator-token-5521"
READER = "read-token-9034"
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
CONFIG = config(ALERT_FOR_SECONDS=0, ALERT_KEEP_FIRING_SECONDS=0)


def as_operator(**extra):
    return {"headers": {"Authorization": f"Bearer {OPERATOR}", **extra.pop("headers", {})},
            "environ_base": REMOTE, **extra}


def as_reader(**extra):
    return {"headers": {"Authorization": f"Bearer {READER}"}, "environ_base": REMOTE, **extra}


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_OPERATOR_TOKEN=OPERATOR, PIPEWATCH_READ_TOKEN=READER,
                    HEALTHY_RATE=0.9, WARNING_RATE=0.75)


def put(client, rules, by="ada", **extra):
    return client.put("/api/v1/rules", json={"rules": rules, "by": by, **extra}, **as_operator())


def geocoding_at(runtime, rate_of_100: int, source="vanguard") -> None:
    """The newest aggregate and `source` rows with geocoding at `rate_of_100` %."""
    add_metrics(runtime.db, [
        metric(NOW, "aggregate", geo=(100, 95), val=(100, 100), window_seconds=86400),
        metric(NOW, "source", source=source, geo=(100, rate_of_100), val=(100, 100),
               window_seconds=86400)])


def status(runtime, moment=NOW):
    with runtime.db.session() as session:
        return pipeline_status(session, moment, CONFIG)


def keys(document) -> set[str]:
    return {alert["key"] for alert in document["alerts"]}


def test_with_no_rules_the_environment_settings_apply_and_get_lists_them(client):
    answer = client.get("/api/v1/rules", **as_reader())
    assert answer.status_code == 200
    body = Rules.model_validate(answer.get_json()).model_dump()
    assert body["rules"] == [] and body["version"] == 0 and body["updated_by"] is None
    assert body["defaults"]["healthy_rate"] == 0.9
    assert answer.headers["ETag"] == '"0"'


def test_a_source_rule_tunes_that_source_only_statuses_and_alerts(client, runtime):
    geocoding_at(runtime, 80, "vanguard")
    add_metrics(runtime.db, [metric(NOW, "source", source="punch", geo=(100, 80),
                                    val=(100, 100), window_seconds=86400)])
    evaluate_alerts(runtime.db, NOW, CONFIG)
    before = status(runtime)
    assert {"quality:geocoding_success_rate:vanguard",
            "quality:geocoding_success_rate:punch"} <= keys(before)

    answer = put(client, [{"source": "vanguard", "healthy_rate": 0.7, "warning_rate": 0.5}],
                 comment="vanguard's articles rarely name a town")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["version"] == 1
    evaluate_alerts(runtime.db, NOW + timedelta(seconds=1), CONFIG)
    after = status(runtime, NOW + timedelta(seconds=1))
    assert "quality:geocoding_success_rate:vanguard" not in keys(after)
    assert "quality:geocoding_success_rate:punch" in keys(after)
    by_source = {entry["source"]: entry for entry in after["data_quality"]["by_source"]}
    assert by_source["vanguard"]["status"] == "healthy"
    assert by_source["punch"]["status"] == "warning"


def test_the_most_specific_rule_wins_setting_by_setting():
    book = RuleBook([Rule(None, "quality", {"healthy_rate": 0.8, "for_seconds": 60}),
                     Rule("vanguard", None, {"healthy_rate": 0.7}),
                     Rule("vanguard", "quality", {"warning_rate": 0.4})])
    judged = scoped(with_rules(CONFIG, book), "vanguard", "quality")
    assert (judged["HEALTHY_RATE"], judged["WARNING_RATE"], judged["ALERT_FOR_SECONDS"]) \
        == (0.7, 0.4, 60)
    punch = scoped(with_rules(CONFIG, book), "punch", "quality")
    assert (punch["HEALTHY_RATE"], punch["WARNING_RATE"]) == (0.8, CONFIG["WARNING_RATE"])
    stale = scoped(with_rules(CONFIG, book), "vanguard", "source_stale")
    assert stale["ALERT_FOR_SECONDS"] == CONFIG["ALERT_FOR_SECONDS"]
    assert scoped(CONFIG, "vanguard", "quality") is CONFIG


def test_for_and_keep_firing_for_per_kind(client, runtime):
    """A `quality` rule's `for` holds that kind pending; other kinds fire at once."""
    assert put(client, [{"kind": "quality", "for_seconds": 600}]).status_code == 200
    geocoding_at(runtime, 60, "vanguard")
    add_runs(runtime.db, [run("vanguard", NOW - timedelta(minutes=5), status="failed",
                              error="HTTP 500")])
    evaluate_alerts(runtime.db, NOW, CONFIG)
    states = {alert["key"]: alert["state"] for alert in status(runtime)["alerts"]}
    assert states["quality:geocoding_success_rate:vanguard"] == "pending"
    assert states["scraper_failing:vanguard"] == "firing"
    later = NOW + timedelta(seconds=600)
    evaluate_alerts(runtime.db, later, CONFIG)
    states = {alert["key"]: alert["state"] for alert in status(runtime, later)["alerts"]}
    assert states["quality:geocoding_success_rate:vanguard"] == "firing"


def test_a_staleness_rule_lets_a_slow_source_be_quiet(client, runtime):
    add_runs(runtime.db, [run("weekly_digest", NOW - timedelta(hours=5))])
    evaluate_alerts(runtime.db, NOW, CONFIG)
    assert "source_stale:weekly_digest" in keys(status(runtime))
    assert put(client, [{"source": "weekly_digest", "kind": "source_stale",
                         "stale_warning_seconds": 86400,
                         "stale_error_seconds": 7 * 86400}]).status_code == 200
    evaluate_alerts(runtime.db, NOW + timedelta(seconds=1), CONFIG)
    document = status(runtime, NOW + timedelta(seconds=1))
    assert "source_stale:weekly_digest" not in keys(document)
    assert document["scraping_health"]["sources"][0]["status"] == "healthy"


def test_every_change_is_logged_with_who_when_why_before_and_after(client, runtime):
    put(client, [{"source": "vanguard", "healthy_rate": 0.7, "warning_rate": 0.5}],
        by="ada", comment="first")
    put(client, [{"kind": "anomaly", "anomaly_threshold": 5}], by="grace", comment="second")
    answer = client.get("/api/v1/rules/changes", **as_reader())
    assert answer.status_code == 200
    body = RuleChanges.model_validate(answer.get_json()).model_dump()
    newest, oldest = body["items"]
    assert (newest["by"], newest["comment"], oldest["by"]) == ("grace", "second", "ada")
    assert newest["before"] == oldest["after"]
    assert newest["before"][0]["source"] == "vanguard" and oldest["before"] == []
    assert newest["after"][0]["anomaly_threshold"] == 5
    paged = client.get("/api/v1/rules/changes?limit=1", **as_reader()).get_json()
    assert [item["by"] for item in paged["items"]] == ["grace"]
    rest = client.get(paged["next_url"], **as_reader()).get_json()
    assert [item["by"] for item in rest["items"]] == ["ada"] and rest["next_url"] is None
    current = client.get("/api/v1/rules", **as_reader()).get_json()
    assert (current["version"], current["updated_by"]) == (2, "grace")


def test_a_stale_if_match_is_refused_and_a_current_one_accepted(client, runtime):
    etag = client.get("/api/v1/rules", **as_reader()).headers["ETag"]
    first = client.put("/api/v1/rules", json={"rules": [{"for_seconds": 30}], "by": "ada"},
                       **as_operator(headers={"If-Match": etag}))
    assert first.status_code == 200
    second = client.put("/api/v1/rules", json={"rules": [], "by": "grace"},
                        **as_operator(headers={"If-Match": etag}))
    assert second.status_code == 412
    assert second.get_json()["error"]["code"] == "rules_changed"
    assert client.get("/api/v1/rules", **as_reader()).get_json()["rules"][0]["for_seconds"] == 30
    third = client.put("/api/v1/rules", json={"rules": [], "by": "grace"},
                       **as_operator(headers={"If-Match": first.headers["ETag"]}))
    assert third.status_code == 200 and third.get_json()["rules"] == []


def test_a_bad_body_lists_every_problem_and_writes_nothing(client, runtime):
    answer = put(client, [
        {"source": "vanguard", "healthy_rate": 1.5, "surprise": 1},
        {"source": "punch"},
        {"kind": "anomaly", "healthy_rate": 0.5},
        {"source": "punch", "warning_rate": 0.8, "healthy_rate": 0.7},
        {"kind": "metrics_stale", "source": "punch", "for_seconds": 10},
        {"for_seconds": "60"},
    ], by="")
    assert answer.status_code == 422
    problems = {(p["path"], p["message"]) for p in answer.get_json()["error"]["details"]["problems"]}
    paths = {path for path, _ in problems}
    assert {"rules[0].surprise", "rules[0].healthy_rate", "rules[1]", "rules[2].healthy_rate",
            "rules[3].warning_rate", "rules[4].source", "rules[5].for_seconds", "by"} <= paths
    assert ("rules[2].healthy_rate",
            "judges quality alerts only; this rule's kind is anomaly") in problems
    with runtime.db.session() as session:
        assert session.query(AlertRule).count() == 0 and session.query(RuleChange).count() == 0


def test_rules_that_combine_into_an_inverted_pair_are_refused(client):
    answer = put(client, [{"source": "vanguard", "healthy_rate": 0.7},
                          {"source": "vanguard", "kind": "quality", "for_seconds": 0},
                          {"kind": "quality", "warning_rate": 0.8}])
    assert answer.status_code == 422
    [problem] = answer.get_json()["error"]["details"]["problems"]
    assert problem["path"] == "rules" and "vanguard's quality alerts" in problem["message"]
    duplicate = put(client, [{"source": "a", "for_seconds": 1}, {"source": "a", "for_seconds": 2}])
    assert duplicate.get_json()["error"]["details"]["problems"] == [
        {"path": "rules", "message": "rules[1] has the same source and kind as rules[0]"}]


def test_changing_rules_needs_the_operator_credential(client, runtime):
    body = {"rules": [], "by": "ada"}
    assert client.put("/api/v1/rules", json=body, **as_reader()).status_code == 403
    assert client.put("/api/v1/rules", json=body, environ_base=REMOTE).status_code == 401
    assert client.get("/api/v1/rules", environ_base=REMOTE).status_code == 401
    assert client.get("/api/v1/rules/changes", environ_base=REMOTE).status_code == 401


def test_chart_series_and_anomaly_history_judge_by_the_source_rule(client, runtime):
    """The range reads (api/queries.py) use the stored rules too: a series point of vanguard at
    80 % is healthy under its 70 % rule, punch's at 80 % stays a warning."""
    from api import queries
    from tests.status_fixtures import hourly_history

    add_metrics(runtime.db, hourly_history("vanguard", NOW, 3, geo=(10, 8)))
    add_metrics(runtime.db, hourly_history("punch", NOW, 3, geo=(10, 8)))
    assert put(client, [{"source": "vanguard", "healthy_rate": 0.7,
                         "warning_rate": 0.5}]).status_code == 200
    points = queries.series(runtime, "geocoding_success_rate", NOW - timedelta(hours=3), NOW,
                            sources=["vanguard", "punch"], bucket="hour")
    statuses = {(point["source"], point["status"]) for point in points}
    assert statuses == {("vanguard", "healthy"), ("punch", "warning")}
