"""Every route's real answers are the documents api.schemas.documents says they are.

Each JSON answer of the app (SQLite, three days of demo history, so every list has items) is
checked twice: against its pydantic model, strictly, from the JSON text (a number where a time
is due fails), and against the model's generated OpenAPI component, the schema schemathesis
and every client see. The models forbid undocumented fields, so a field the server starts
sending without documenting it fails here; the last tests show that these checks do fail.
"""
from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from typing import Any, Iterator

import jsonschema_rs
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update

from api.demo.seed import seed_demo
from api.schemas import documents
from api.schemas.components import component_schemas, ref
from api.schemas.fields import MAX_WINDOW_SECONDS
from api.status.anomalies import KINDS
from api.status.series import BUCKETS, METRICS
from api.status.thresholds import SEVERITIES
from api.storage.models import METRIC_TYPES, QUALITY_STATUSES, SCRAPE_STATUSES
from api.storage.models import DataQualityMetric as M
from api.timeutil import isoformat, utcnow
from tests.conftest import BASE_OVERRIDES
from tests.export_fixtures import TOKEN, auth

RUN = {"source": "punch", "started_at": "2026-11-25T10:00:00Z", "finished_at": None,
       "status": "partial", "items_found": 4, "items_new": 2, "error": "2 pages timed out"}


@pytest.fixture
def app(make_sqlite_app):
    app = make_sqlite_app(PIPEWATCH_INGEST_TOKEN=TOKEN, MAX_BODY_BYTES=4096)
    runtime = app.server.extensions["pipewatch"]
    seed_demo(runtime.db, runtime.config, days=3, seed=7, progress=False)
    collapse_newest_hour(runtime.db)
    app.server.extensions["pipewatch.evaluator"].run_once()  # the alerts it raised, pending
    return app


def collapse_newest_hour(db) -> None:
    """Geocoding collapses in every source's newest hour, so the status has a current anomaly
    and its alert whatever the clock: the demo's own incidents fall where `now` puts them."""
    with db.session() as session:
        newest = session.execute(select(func.max(M.timestamp))
                                 .where(M.metric_type == "hourly")).scalar_one()
        session.execute(update(M)
                        .where(M.metric_type == "hourly", M.source.is_not(None),
                               M.timestamp == newest)
                        .values(geocoding_attempts=200, geocoding_successes=10, status="error"))


@pytest.fixture
def other_app(tmp_path) -> Iterator[Any]:
    """`other_app(name, **settings)`: an app on a database of its own (empty, or unmigrated
    with AUTO_MIGRATE=False); closed after the test."""
    from app import create_app

    built = []

    def build(name: str, **overrides: Any):
        built.append(create_app({**BASE_OVERRIDES, **overrides,
                                 "DATABASE_URL": f"sqlite:///{tmp_path / name}.db"}))
        return built[-1]

    yield build
    for app in built:
        app.server.extensions["pipewatch"].close()


@cache
def _validator(model: type[BaseModel]):
    root = {**ref(model), "components": {"schemas": component_schemas()}}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def check(model: type[BaseModel], text: str) -> Any:
    """`text` as `model` (strict) and as its OpenAPI component; the parsed JSON."""
    model.model_validate_json(text, strict=True)
    document = json.loads(text)
    errors = [f"{error.instance_path}: {error.message}"[:300]
              for error in _validator(model).iter_errors(document)]
    assert not errors, errors
    return document


def conforms(response, model: type[BaseModel], status: int = 200) -> Any:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:500]
    return check(model, text)


def test_the_status_document_with_every_section(client):
    status = conforms(client.get("/api/v1/monitoring/pipeline-status"),
                      documents.PipelineStatus)
    assert status["anomalies"] and status["alerts"]
    assert status["scraping_health"]["sources"] and status["data_quality"]["by_source"]
    assert status["data_quality"]["basis"] == "metrics"


def test_a_websocket_message_is_the_status_document(app):
    """The hub serialises the same document for every socket: the frame's text conforms."""
    import websocket

    from tests.conftest import ServerThread
    from tests.live_fixtures import WS_PATH

    server = ServerThread(app.server).start()
    try:
        socket = websocket.create_connection(server.url.replace("http", "ws") + WS_PATH,
                                             timeout=15)
        try:
            status = check(documents.PipelineStatus, socket.recv())
        finally:
            socket.close()
    finally:
        server.stop()
    assert status["alerts"] and status["anomalies"]


def test_the_status_document_of_an_empty_database(other_app):
    """No rows at all: data quality counted from (no) conflicts, every freshness time null."""
    client = other_app("empty").server.test_client()
    status = conforms(client.get("/api/v1/monitoring/pipeline-status"),
                      documents.PipelineStatus)
    assert status["data_quality"]["basis"] == "conflicts"
    assert status["data_quality"]["as_of"] is None
    assert set(status["freshness"].values()) == {None}


def test_metric_pages_and_streamed_lines(client):
    page = conforms(client.get("/api/v1/metrics?limit=5"), documents.MetricsPage)
    assert len(page["items"]) == 5 and page["truncated"] and page["next_url"]
    conforms(client.get(page["next_url"]), documents.MetricsPage)
    filtered = conforms(client.get("/api/v1/metrics?metric_type=aggregate&status=healthy"
                                   "&status=warning&status=error"), documents.MetricsPage)
    assert filtered["items"] and filtered["next_cursor"] is None
    lines = client.get("/api/v1/metrics?format=ndjson&metric_type=source").get_data(
        as_text=True).splitlines()
    assert lines
    for line in lines:
        check(documents.Metric, line)


def test_ingest_answers_and_their_replays(client):
    row = {"timestamp": isoformat(utcnow().replace(minute=0, second=0, microsecond=0)),
           "window_seconds": 3600, "metric_type": "hourly", "source": None,
           "geocoding_attempts": 0, "geocoding_successes": 0, "validation_attempts": 3,
           "validation_passes": 3}
    keyed = {**auth(), "Idempotency-Key": "documents-1"}
    for _ in range(2):  # the first answer, then its replay from the database
        created = conforms(client.post("/api/v1/metrics", json=[row, row], headers=keyed),
                           documents.MetricsCreated, 201)
        assert created["items"][0]["geocoding_success_rate"] is None
    runs = conforms(client.post("/api/v1/scrape-runs", json=[RUN, {**RUN, "error": None,
                                                                    "finished_at": None}],
                                headers=auth()), documents.ScrapeRunsCreated, 201)
    assert [item["finished_at"] for item in runs["items"]] == [None, None]


@pytest.mark.parametrize("query", [
    "metric=volume", "metric=geocoding_success_rate&source=vanguard&source=punch&bucket=hour",
    "metric=validation_pass_rate&bucket=day"])
def test_series(client, query):
    series = conforms(client.get(f"/api/v1/metrics/series?{query}"), documents.Series)
    assert series["items"]


def test_sources(client):
    listed = conforms(client.get("/api/v1/sources"), documents.Sources)
    assert listed["items"] and any(item["alerts"] for item in listed["items"])


@pytest.mark.parametrize("path, model", [("/api/v1/alerts", documents.Alerts),
                                         ("/api/v1/anomalies", documents.Anomalies)])
def test_alerts_and_anomalies(client, path, model):
    start = isoformat(utcnow().replace(microsecond=0) - timedelta(days=3))
    everything = conforms(client.get(f"{path}?start={start}"), model)
    assert everything["current"] and everything["items"]
    if model is documents.Alerts:  # the seed's recorded history: resolved and still firing
        assert {item["state"] for item in everything["items"]} == {"firing", "resolved"}
    one = conforms(client.get(f"{path}?start={start}&source=vanguard"), model)
    assert one["sources"] == ["vanguard"] and one["items"]


def test_alert_events(client):
    page = conforms(client.get("/api/v1/alerts/events?limit=2"), documents.AlertEvents)
    assert page["items"] and {item["state"] for item in page["items"]} == {"pending"}
    assert conforms(client.get(page["next_url"]), documents.AlertEvents)["items"]


def test_silences_and_a_silenced_alert(client):
    """A silence over every source (an `anomaly` alert is open in this app); the status shows
    it on the alerts it covers. No operator token on loopback: the local user may act."""
    status = conforms(client.get("/api/v1/monitoring/pipeline-status"), documents.PipelineStatus)
    kind = status["alerts"][0]["key"].split(":", 1)[0]
    ends = isoformat(utcnow().replace(microsecond=0) + timedelta(hours=1))
    created = conforms(client.post("/api/v1/silences", json={
        "matchers": {"kind": kind}, "ends_at": ends, "created_by": "amina",
        "comment": "planned"}), documents.Silence, status=201)
    status = conforms(client.get("/api/v1/monitoring/pipeline-status"), documents.PipelineStatus)
    assert status["alerts"][0]["silenced"] == {"id": created["id"], "until": ends,
                                               "by": "amina", "comment": "planned"}
    assert conforms(client.get("/api/v1/silences"), documents.Silences)["items"]
    ended = conforms(client.delete(f"/api/v1/silences/{created['id']}"), documents.Silence)
    assert ended["state"] == "ended"


def test_rules_and_their_changes(client):
    """An empty set, a PUT (loopback, no operator token: the local user may act), the log."""
    assert conforms(client.get("/api/v1/rules"), documents.Rules)["rules"] == []
    put = conforms(client.put("/api/v1/rules", json={
        "rules": [{"source": "vanguard", "healthy_rate": 0.7, "warning_rate": 0.5},
                  {"kind": "anomaly", "anomaly_threshold": 5, "for_seconds": 600}],
        "by": "amina", "comment": "tuned"}), documents.Rules)
    assert put["version"] == 1 and len(put["rules"]) == 2
    changes = conforms(client.get("/api/v1/rules/changes"), documents.RuleChanges)
    assert changes["items"][0]["after"] == put["rules"]


def test_notifications_the_delivery_log_and_the_webhook_body(other_app):
    """A test notification through a real local receiver: the 202, the delivery log, and the
    body the receiver got are the documented ones. No receiver set: a 409 in the error shape."""
    from api.schemas import notifications
    from tests.notify_fixtures import HttpReceiver, wait_until

    hook = HttpReceiver()
    try:
        app = other_app("notify", WEBHOOK_URLS=(hook.url,), WEBHOOK_SECRET="s",
                        NOTIFY_POLL_SECONDS=0.05)
        client = app.server.test_client()
        sent = conforms(client.post("/api/v1/notifications/test"), notifications.Deliveries,
                        status=202)
        assert [item["event"] for item in sent["items"]] == ["test"]
        wait_until(lambda: len(hook.received) == 1)
        check(notifications.WebhookNotification, hook.received[0].body.decode())
        wait_until(lambda: client.get("/api/v1/notifications").get_json()["items"][0]["state"]
                   == "delivered")
        listed = conforms(client.get("/api/v1/notifications?limit=5"), notifications.Deliveries)
        assert listed["items"][0]["id"] == sent["items"][0]["id"]
    finally:
        hook.stop()
    none = other_app("no-receivers").server.test_client()
    conforms(none.post("/api/v1/notifications/test"), documents.Error, status=409)
    conforms(none.get("/api/v1/notifications?limit=0"), documents.Error, status=422)


def test_the_demo_receivers_documents(other_app):
    """The demo's built-in receiver: a signed webhook (the sender's body) is kept and listed
    as documented; a refused signature answers in the error shape."""
    import time

    from api.notify.payloads import test_alert, webhook_body
    from api.notify.signing import HEADER, signature
    from api.schemas import notifications
    from api.timeutil import utcnow

    app = other_app("demo", DEMO_RECEIVER=True, WEBHOOK_SECRET="s")
    client = app.server.test_client()
    now = utcnow()
    body = json.dumps(webhook_body("7f0c", "test", test_alert(now), now, "http://x/")).encode()
    check(notifications.WebhookNotification, body.decode())
    kept = client.post("/api/v1/demo/webhooks", data=body,
                       headers={HEADER: signature("s", body, int(time.time()))})
    assert kept.status_code == 204, kept.get_data(as_text=True)
    listed = conforms(client.get("/api/v1/demo/webhooks"), notifications.DemoWebhooks)
    assert [item["notification"]["id"] for item in listed["items"]] == ["7f0c"]
    conforms(client.post("/api/v1/demo/webhooks", data=body), documents.Error, status=401)


def test_probes(client, other_app):
    conforms(client.get("/healthz"), documents.Liveness)
    conforms(client.get("/readyz"), documents.Readiness)
    unmigrated = other_app("unmigrated", AUTO_MIGRATE=False).server.test_client()
    refused = conforms(unmigrated.get("/readyz"), documents.Error, 503)
    assert refused["error"]["details"]["current"] is None


def test_every_error_has_the_one_shape(app, client, make_sqlite_app):
    json_type = {"Content-Type": "application/json"}
    cases = [
        (client.post("/api/v1/metrics", json=RUN), 401),
        (client.get("/api/v1/nowhere"), 404),
        (client.put("/api/v1/sources"), 405),
        (client.post("/api/v1/scrape-runs", data=b"[" + b" " * 5000 + b"]",
                     headers={**auth(), **json_type}), 413),
        (client.post("/api/v1/scrape-runs", data=b"x", headers=auth()), 415),
        (client.post("/api/v1/scrape-runs", data=b"{", headers={**auth(), **json_type}), 400),
        (client.get("/api/v1/metrics?cursor=forged"), 400),
        (client.post("/api/v1/scrape-runs", json=[RUN, {"source": ""}], headers=auth()), 422),
        (client.get("/api/v1/alerts?start=yesterday&source="), 422),
    ]
    keyed = {**auth(), "Idempotency-Key": "documents-2"}
    client.post("/api/v1/scrape-runs", json=RUN, headers=keyed)
    cases.append((client.post("/api/v1/scrape-runs", json=[RUN, RUN], headers=keyed), 409))
    closed = make_sqlite_app(PIPEWATCH_INGEST_TOKEN="").server.test_client()
    cases.append((closed.post("/api/v1/scrape-runs", json=RUN, headers=auth()), 403))
    guarded = make_sqlite_app(PIPEWATCH_READ_TOKEN="reader").server.test_client()
    cases.append((guarded.get("/api/v1/sources"), 401))
    for response, status in cases:
        error = conforms(response, documents.Error, status)["error"]
        if status == 422:
            assert error["details"]["problems"]


# region The checks can fail


@pytest.fixture
def status_text(client) -> str:
    return client.get("/api/v1/monitoring/pipeline-status").get_data(as_text=True)


@pytest.mark.parametrize("edit", [
    lambda doc: doc.update(undocumented=1),
    lambda doc: doc["alerts"][0].update(undocumented=1),
    lambda doc: doc["data_quality"]["by_source"][0].update(undocumented=1),
    lambda doc: doc["freshness"].pop("latest_metric_at"),
    lambda doc: doc.update(timestamp=1764700000),
    lambda doc: doc["alerts"][0].update(severity="healthy"),
    lambda doc: doc["data_quality"].update(geocoding_success_rate=1.5),
    lambda doc: doc["scraping_health"].update(runs_24h=None),
])
def test_a_document_that_breaks_its_model_fails_both_checks(status_text, edit):
    document = json.loads(status_text)
    edit(document)
    text = json.dumps(document)
    with pytest.raises(ValidationError):
        documents.PipelineStatus.model_validate_json(text, strict=True)
    assert not _validator(documents.PipelineStatus).is_valid(document)


def test_the_fields_another_branch_adds_are_accepted_while_optional(status_text):
    """`scraping_health` day totals and the per-rate statuses of `data_quality` may arrive
    before the models require them."""
    document = json.loads(status_text)
    document["scraping_health"].update(runs_24h=10, failures_24h=1, success_rate_24h=0.9)
    document["data_quality"].update(geocoding_success_rate_status="warning",
                                    validation_pass_rate_status="healthy")
    check(documents.PipelineStatus, json.dumps(document))
    document["scraping_health"]["success_rate_24h"] = None
    check(documents.PipelineStatus, json.dumps(document))

# endregion

# region The generated components


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_components_are_openapi_3_1_and_closed():
    schemas = component_schemas()
    for node in _walk(schemas):
        assert "nullable" not in node
        if "$ref" in node:
            assert node["$ref"].removeprefix("#/components/schemas/") in schemas
    for name, schema in schemas.items():
        assert schema["type"] == "object" and schema["additionalProperties"] is False, name


def test_enums_and_limits_come_from_their_constants():
    schemas = component_schemas()

    def prop(model: str, name: str) -> dict[str, Any]:
        schema = schemas[model]["properties"][name]
        return next((b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"))

    assert prop("Metric", "metric_type")["enum"] == list(METRIC_TYPES)
    assert prop("Metric", "status")["enum"] == list(QUALITY_STATUSES)
    assert prop("ScrapeRun", "status")["enum"] == list(SCRAPE_STATUSES)
    assert prop("Alert", "severity")["enum"] == prop("Anomaly", "severity")["enum"] == list(
        SEVERITIES)
    assert prop("Anomaly", "kind")["enum"] == list(KINDS)
    assert prop("SeriesPoint", "bucket")["enum"] == list(BUCKETS)
    assert prop("Series", "metric")["enum"] == list(METRICS)
    assert prop("MetricInput", "window_seconds")["maximum"] == MAX_WINDOW_SECONDS
    assert prop("MetricInput", "metric_type")["enum"] == list(METRIC_TYPES)

# endregion
