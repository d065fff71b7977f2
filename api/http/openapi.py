"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every HTTP route pipewatch serves.

Two sources, nothing retyped. Every body a route sends or accepts is a component generated from
the pydantic models of api.schemas (`component_schemas()`); the paths (parameters, status
codes, who may call) are written here as data, with each limit and enum taken from the constant
or the setting the code enforces, read from the config of the app serving the document.
`tests/test_openapi.py` fails when a registered /api/ route is undocumented or a documented one
does not exist, and schemathesis drives the routes from this document and checks every
response against it. `build_document(app)` keeps only the paths the app has registered, so
optional parts (the Prometheus /metrics, the WebSocket) appear only when wired.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from flask import Flask, current_app, jsonify

from api.http import notifications
from api.http.history import DEFAULT_RECENT_DAYS, MAX_HISTORY_DAYS
from api.http.metrics import DEFAULT_SERIES_DAYS
from api.http.query import EXPORT_FORMATS, MAX_CURSOR_LENGTH, MAX_SOURCES_PER_QUERY
from api.http.rules import DEFAULT_CHANGES as DEFAULT_RULE_CHANGES
from api.http.rules import MAX_CHANGES as MAX_RULE_CHANGES
from api.http.silences import RECENT_DAYS as RECENT_SILENCE_DAYS
from api.http.writes import MAX_KEY_LENGTH
from api.runtime import get_runtime
from api.schemas import actions, documents, ingest
from api.schemas import notifications as notifications_schemas
from api.schemas.components import component_schemas, ref
from api.schemas.fields import INT32_MAX, MAX_SOURCE_LENGTH
from api.schemas.rules import RulesInput
from api.status.alerts import KINDS as ALERT_KINDS
from api.status.series import BUCKETS, MAX_POINTS, METRICS
from api.storage.models import METRIC_TYPES, QUALITY_STATUSES

OPENAPI_VERSION = "3.1.0"
TIME = {"type": "string", "format": "date-time"}
SOURCE = {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_LENGTH}
ERROR = documents.Error


def _json(model: type | dict[str, Any], description: str) -> dict[str, Any]:
    schema = model if isinstance(model, dict) else ref(model)
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ERROR, description)


def _query(name: str, schema: dict[str, Any], description: str, *, array: bool = False,
           max_items: int | None = None, required: bool = False,
           empty_is_absent: bool = True) -> dict[str, Any]:
    """An optional parameter sent empty (`?start=`, as an HTML form does) counts as absent, and
    the document says so (`allowEmptyValue`); `source=` is a 422 instead (not a usable name)."""
    if array:
        schema = {"type": "array", "items": schema,
                  **({"maxItems": max_items} if max_items is not None else {})}
    empty = {"allowEmptyValue": True} if empty_is_absent and not required else {}
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema, **empty, **({"style": "form", "explode": True} if array else {})}


def _sources(description: str) -> dict[str, Any]:
    return _query("source", SOURCE, description, array=True, max_items=MAX_SOURCES_PER_QUERY,
                  empty_is_absent=False)


def _range(default_days: int | None) -> list[dict[str, Any]]:
    """`start` and `end` of the range `start <= t < end` (api/http/query.py)."""
    if default_days is None:
        return [_query("start", TIME, "From this time, included (ISO 8601 with a zone; naive "
                                      "is refused)."),
                _query("end", TIME, "Up to this time, excluded (ISO 8601 with a zone).")]
    return [_query("start", TIME, f"From, included (default: {default_days} day(s) before "
                                  "end)."),
            _query("end", TIME, "To, excluded (default: now).")]


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 0}}}
THROTTLED = {**_error("Too many wrong tokens from this address lately (AUTH_FAILURE_LIMIT in "
                      "AUTH_FAILURE_WINDOW_SECONDS): wait, then retry"), "headers": RETRY_AFTER}
UNAVAILABLE = {**_error("The database is unavailable; `details.cause` says why (`locked` and "
                        "`unavailable` pass: see Retry-After)"), "headers": RETRY_AFTER}
AUTH_ERRORS = {"401": _error("PIPEWATCH_READ_TOKEN is set and the bearer token (or the /login "
                             "cookie) is missing or wrong"),
               "429": THROTTLED}
READ_ERRORS = {**AUTH_ERRORS,
               "422": _error("A query parameter is invalid; `details.problems` lists each")}
READ = [{}, {"bearer": []}]


def _write(summary: str, item: type, stored: type, config: Mapping[str, Any]) -> dict[str, Any]:
    # The item cap is stated in words, not as maxItems: a list that long is over MAX_BODY_BYTES
    # first, and its 413 is not what a schema violation is answered with.
    body = {"oneOf": [ref(item), {
        "type": "array", "minItems": 1, "items": ref(item),
        "description": f"At most {config['INGEST_MAX_ITEMS']} items (INGEST_MAX_ITEMS)."}]}
    idempotency = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "A retry with the same key and body returns the first "
                                  "response without writing again.",
                   "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}}
    return {"post": {
        "summary": summary, "security": [{"bearer": []}], "parameters": [idempotency],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "201": _json(stored, "Stored: every row, in the order given"),
            "400": _error("The body is not JSON"), "401": _error("Bearer token missing or wrong"),
            "403": _error("Writes are disabled: no PIPEWATCH_INGEST_TOKEN is configured"),
            "409": _error("The Idempotency-Key was used before with another body"),
            "413": _error(f"The body is larger than MAX_BODY_BYTES "
                          f"({config['MAX_BODY_BYTES']} bytes)"),
            "415": _error("Content-Type is not application/json"),
            "429": THROTTLED, "503": UNAVAILABLE,
            "422": _error("The body is invalid; `details.problems` lists every problem (path, "
                          "message); nothing was written")}}}


OPERATE_ERRORS = {
    "401": _error("Operator credentials missing or wrong (PIPEWATCH_OPERATOR_TOKEN as a bearer "
                  "token, or a browser signed in with it)"),
    "403": _error("Known but not allowed to act (the read token), another site's Origin, or "
                  "no PIPEWATCH_OPERATOR_TOKEN set and the request is not from this machine"),
    "404": _error("No open alert with this id: unknown, or already resolved"),
    "429": THROTTLED, "503": UNAVAILABLE}
ALERT_ID = {"name": "alert_id", "in": "path", "required": True,
            "description": "The alert's `id` (its occurrence) in the status document.",
            "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}


def _ack() -> dict[str, Any]:
    """POST and DELETE `/api/v1/alerts/{alert_id}/ack` (OPERATE)."""
    body = {"required": True, "content": {"application/json": {"schema": ref(actions.AckInput)}}}
    return {
        "post": {"summary": "Acknowledge an open alert (it ends with its occurrence)",
                 "security": [{}, {"bearer": []}], "parameters": [ALERT_ID],
                 "requestBody": body,
                 "responses": {"200": _json(documents.Alert, "The alert, with its ack"),
                               "400": _error("The body is not JSON"),
                               "413": _error("The body is larger than MAX_BODY_BYTES"),
                               "415": _error("Content-Type is not application/json"),
                               "422": _error("The body is invalid; `details.problems` lists "
                                             "every problem"),
                               **OPERATE_ERRORS}},
        "delete": {"summary": "Take an open alert's ack back",
                   "security": [{}, {"bearer": []}], "parameters": [ALERT_ID],
                   "responses": {"200": _json(documents.Alert, "The alert, unacknowledged"),
                                 **OPERATE_ERRORS}}}


SILENCE_ID = {"name": "silence_id", "in": "path", "required": True,
              "description": "The silence's `id`.",
              "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}
SILENCE_OPERATE_ERRORS = {**OPERATE_ERRORS, "404": _error("No silence with this id")}


def _silences() -> dict[str, Any]:
    """GET (READ) and POST (OPERATE) `/api/v1/silences`."""
    body = {"required": True,
            "content": {"application/json": {"schema": ref(actions.SilenceInput)}}}
    operate = {key: value for key, value in OPERATE_ERRORS.items() if key != "404"}
    return {
        "get": {"summary": "Scheduled and active silences, and those ended in the last "
                           f"{RECENT_SILENCE_DAYS} days",
                "security": READ,
                "responses": {"200": _json(documents.Silences, "By starts_at, then id"),
                              **AUTH_ERRORS, "503": UNAVAILABLE}},
        "post": {"summary": "Silence the alerts matching every given matcher until ends_at "
                            "(they stay listed, marked `silenced`)",
                 "security": [{}, {"bearer": []}], "requestBody": body,
                 "responses": {"201": _json(documents.Silence, "The silence, with its id"),
                               "400": _error("The body is not JSON"),
                               "413": _error("The body is larger than MAX_BODY_BYTES"),
                               "415": _error("Content-Type is not application/json"),
                               "422": _error("The body is invalid; `details.problems` lists "
                                             "every problem; nothing was written"),
                               **operate}}}


def _expire_silence() -> dict[str, Any]:
    """DELETE `/api/v1/silences/{silence_id}` (OPERATE)."""
    return {"delete": {"summary": "Expire a silence now (one already ended stays as it was)",
                       "security": [{}, {"bearer": []}], "parameters": [SILENCE_ID],
                       "responses": {"200": _json(documents.Silence, "The silence, ended"),
                                     **SILENCE_OPERATE_ERRORS}}}


def _rules() -> dict[str, Any]:
    """GET (READ) and PUT (OPERATE) `/api/v1/rules`."""
    body = {"required": True, "content": {"application/json": {"schema": ref(RulesInput)}}}
    operate = {key: value for key, value in OPERATE_ERRORS.items() if key != "404"}
    etag = {"ETag": {"description": "The rules' version, for If-Match",
                     "schema": {"type": "string"}}}
    return {
        "get": {"summary": "The alert settings per source and kind: the environment's defaults, "
                           "the stored rules and their version",
                "security": READ,
                "responses": {"200": {**_json(documents.Rules, "Least specific rule first"),
                                      "headers": etag},
                              **AUTH_ERRORS, "503": UNAVAILABLE}},
        "put": {"summary": "Replace every rule (applied at the next evaluation, in every "
                           "process; logged with who, when, why, before and after)",
                "security": [{}, {"bearer": []}], "requestBody": body,
                "parameters": [{"name": "If-Match", "in": "header", "required": False,
                                "description": "The ETag of the rules this change starts from; "
                                               "412 when they have changed since",
                                "schema": {"type": "string"}}],
                "responses": {"200": {**_json(documents.Rules, "The rules now"),
                                      "headers": etag},
                              "400": _error("The body is not JSON"),
                              "412": _error("If-Match names another version: the rules "
                                            "changed since (`rules_changed`)"),
                              "413": _error("The body is larger than MAX_BODY_BYTES"),
                              "415": _error("Content-Type is not application/json"),
                              "422": _error("The body is invalid; `details.problems` lists "
                                            "every problem; nothing was written"),
                              **operate}}}


def _rule_changes() -> dict[str, Any]:
    """GET `/api/v1/rules/changes` (READ)."""
    whole = {"type": "integer", "minimum": 1, "maximum": INT32_MAX}
    return {"get": {
        "summary": "Who changed the rules, when, why, and the whole set before and after; "
                   "newest first",
        "security": READ,
        "parameters": [
            _query("before", whole, "Only changes older than this id (the next page)."),
            _query("limit", {**whole, "maximum": MAX_RULE_CHANGES,
                             "default": DEFAULT_RULE_CHANGES}, "Changes per page.")],
        "responses": {"200": _json(documents.RuleChanges, "Newest first"),
                      **READ_ERRORS, "503": UNAVAILABLE}}}


def _notifications() -> dict[str, Any]:
    """GET `/api/v1/notifications` (READ)."""
    limit = {"type": "integer", "minimum": 1, "maximum": notifications.MAX_LIMIT,
             "default": notifications.DEFAULT_LIMIT}
    return {"get": {"summary": "Every notification sent to a receiver, newest first: its "
                               "state, attempts and last error (receivers by kind and origin)",
                    "security": READ,
                    "parameters": [_query("limit", limit, "How many, newest first.")],
                    "responses": {"200": _json(notifications_schemas.Deliveries,
                                               "Newest first"),
                                  "422": _error("A bad limit"), **AUTH_ERRORS,
                                  "503": UNAVAILABLE}}}


def _test_notification() -> dict[str, Any]:
    """POST `/api/v1/notifications/test` (OPERATE)."""
    operate = {key: value for key, value in OPERATE_ERRORS.items() if key != "404"}
    return {"post": {"summary": "Send a test notification to every receiver (webhooks, "
                                "Alertmanagers); follow it in GET /api/v1/notifications",
                     "security": [{}, {"bearer": []}],
                     "responses": {"202": _json(notifications_schemas.Deliveries,
                                                "The test notifications written, pending"),
                                   "409": _error("No receiver is configured"), **operate}}}


def _demo_webhooks() -> dict[str, Any]:
    """POST (OWN: the signature) and GET (READ) `/api/v1/demo/webhooks`, with DEMO_RECEIVER."""
    signature = {"name": "Pipewatch-Signature", "in": "header", "required": True,
                 "description": "The webhook's signature with this server's WEBHOOK_SECRET; "
                                "`t` within 300 s of now.",
                 "schema": {"type": "string"}}
    return {
        "post": {"summary": "The demo's built-in webhook receiver (only with DEMO_RECEIVER, "
                            "what `python app.py demo` sets with no receiver configured)",
                 "parameters": [signature],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": ref(notifications_schemas.WebhookNotification)}}},
                 "responses": {"204": {"description": "Accepted and kept in memory"},
                               "400": _error("The body is not JSON"),
                               "401": _error("The signature is missing, wrong or too old"),
                               "422": _error("Not a pipewatch notification; "
                                             "`details.problems` lists every problem")}},
        "get": {"summary": "What the demo's receiver accepted, newest first (the last few)",
                "security": READ,
                "responses": {"200": _json(notifications_schemas.DemoWebhooks, "Newest first"),
                              **AUTH_ERRORS}}}


def webhooks() -> dict[str, Any]:
    """The OpenAPI `webhooks` section: what pipewatch POSTs to each of WEBHOOK_URLS."""
    signature = {"name": "Pipewatch-Signature", "in": "header", "required": False,
                 "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" "
                                "keyed with WEBHOOK_SECRET>`; absent when WEBHOOK_SECRET is "
                                "empty. Verify it and refuse old `t` (README \"Notifications\").",
                 "schema": {"type": "string"}}
    return {"alert-notification": {"post": {
        "summary": "One per alert transition (firing, resolved, acknowledged) and per test",
        "parameters": [signature],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": ref(notifications_schemas.WebhookNotification)}}},
        "responses": {"2XX": {"description": "Accepted: delivered"},
                      "4XX": {"description": "Refused: marked failed, not retried (408, 425 "
                                             "and 429 are retried)"},
                      "5XX": {"description": "Retried with exponential backoff and jitter up "
                                             "to NOTIFY_MAX_ATTEMPTS, like timeouts and "
                                             "refused connections"}}}}}


def _history(summary: str, model: type) -> dict[str, Any]:
    return {"get": {
        "summary": f"{summary}; at most {MAX_HISTORY_DAYS} days",
        "security": READ, "parameters": [*_range(DEFAULT_RECENT_DAYS),
                                         _sources("Only these sources (repeatable).")],
        "responses": {"200": _json(model, model.__name__), **READ_ERRORS}}}


def paths(config: Mapping[str, Any]) -> dict[str, Any]:
    """Every path pipewatch can serve, with the limits of an app configured by `config`."""
    return {
        "/api/v1/metrics": {
            "get": {
                "summary": "Metric rows: a JSON page with a cursor, or the whole range as "
                           "CSV/NDJSON",
                "security": READ,
                "parameters": [
                    *_range(None),
                    _query("metric_type", {"type": "string", "enum": list(METRIC_TYPES)},
                           "Only these metric types (repeatable).", array=True),
                    _sources("Only these sources (repeatable)."),
                    _query("status", {"type": "string", "enum": list(QUALITY_STATUSES)},
                           "Only rows with these statuses (repeatable).", array=True),
                    _query("limit", {"type": "integer", "minimum": 1,
                                     "maximum": config["EXPORT_MAX_LIMIT"]},
                           f"Rows per JSON page (default {config['EXPORT_DEFAULT_LIMIT']}; more "
                           "than the maximum is a 422). With format=csv or ndjson: optional, "
                           "uncapped."),
                    _query("cursor", {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
                           "`next_cursor` of the previous page; repeat the same filters."),
                    _query("format", {"type": "string", "enum": list(EXPORT_FORMATS)},
                           "Output; or send Accept: text/csv or application/x-ndjson."),
                ],
                "responses": {
                    "200": {"description": "Rows ordered by (timestamp, id); "
                                           "start <= timestamp < end",
                            "content": {"application/json": {"schema": ref(documents.MetricsPage)},
                                        "text/csv": {"schema": {"type": "string"}},
                                        "application/x-ndjson": {"schema": {"type": "string"}}}},
                    "400": _error("The cursor was altered, damaged, or belongs to other filters"),
                    **READ_ERRORS}},
            **_write("Store one metric row or a list of them (all or nothing)",
                     ingest.MetricInput, documents.MetricsCreated, config),
        },
        "/api/v1/scrape-runs": _write("Store one scrape run or a list of them (all or nothing)",
                                      ingest.ScrapeRunInput, documents.ScrapeRunsCreated, config),
        "/api/v1/metrics/series": {"get": {
            "summary": "The aggregated trend: hour or day buckets of hourly rows, weighted rates",
            "security": READ,
            "parameters": [
                _query("metric", {"type": "string", "enum": list(METRICS)}, "What to aggregate.",
                       required=True),
                _query("bucket", {"type": "string", "enum": [*BUCKETS, "auto"]},
                       f"Bucket size; auto (default) keeps each trace at most {MAX_POINTS:,} "
                       "points."),
                *_range(DEFAULT_SERIES_DAYS),
                _sources("One trace per listed source; none: the all-sources trace.")],
            "responses": {"200": _json(documents.Series, "The buckets, by source then time"),
                          **READ_ERRORS}}},
        "/api/v1/sources": {"get": {
            "summary": "Every known source with its current scraping and data-quality status",
            "security": READ,
            "responses": {"503": UNAVAILABLE,
                          "200": _json(documents.Sources, "One item per source, by name"),
                          **AUTH_ERRORS}}},
        "/api/v1/alerts": _history("Alerts open now (`current`) and alert periods overlapping "
                                   "the range (`items`, newest first)", documents.Alerts),
        "/api/v1/alerts/events": {"get": {
            "summary": "Alert transitions (pending, firing, resolved, severity changes), oldest "
                       "first, in cursor pages",
            "security": READ,
            "parameters": [
                *_range(None),
                _sources("Only these sources (repeatable)."),
                _query("kind", {"type": "string", "enum": list(ALERT_KINDS)},
                       "Only these kinds of alert (repeatable; the key's first part).",
                       array=True),
                _query("limit", {"type": "integer", "minimum": 1,
                                 "maximum": config["EXPORT_MAX_LIMIT"]},
                       f"Transitions per page (default {config['EXPORT_DEFAULT_LIMIT']}; more "
                       "than the maximum is a 422)."),
                _query("cursor", {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
                       "`next_cursor` of the previous page; repeat the same filters.")],
            "responses": {
                "200": _json(documents.AlertEvents, "Transitions ordered by (at, id); "
                                                    "start <= at < end"),
                "400": _error("The cursor was altered, damaged, or belongs to other filters"),
                **READ_ERRORS}}},
        "/api/v1/alerts/{alert_id}/ack": _ack(),
        "/api/v1/silences": _silences(),
        "/api/v1/notifications": _notifications(),
        "/api/v1/notifications/test": _test_notification(),
        "/api/v1/demo/webhooks": _demo_webhooks(),
        "/api/v1/silences/{silence_id}": _expire_silence(),
        "/api/v1/rules": _rules(),
        "/api/v1/rules/changes": _rule_changes(),
        "/api/v1/anomalies": _history("Anomalies of the newest hour (`current`) and every "
                                      "anomalous hour in the range (`items`, newest first)",
                                      documents.Anomalies),
        "/api/v1/monitoring/pipeline-status": {"get": {
            "summary": "The pipeline status document (the same JSON the WebSocket pushes)",
            "security": READ,
            "responses": {"200": _json(documents.PipelineStatus, "The current status"),
                          **AUTH_ERRORS,
                          "503": UNAVAILABLE}}},
        "/api/v1/ws/monitoring/pipeline-status": {"get": {
            "summary": "WebSocket: the status document (PipelineStatus) on connect, then on "
                       f"every change and at least every {config['WS_HEARTBEAT_SECONDS']:g} s. "
                       "Connect with ws:// or wss://; not plain HTTP.",
            "x-websocket": True,
            "responses": {"101": {"description": "Switching to the WebSocket protocol"},
                          "400": {"description": "Not a WebSocket handshake"},
                          "401": {"description": "PIPEWATCH_READ_TOKEN is set and neither the "
                                                 "bearer token nor the /login cookie matches"},
                          "403": {"description": "Origin not allowed"},
                          "429": {"description": "Too many wrong tokens from this address "
                                                 "lately: wait Retry-After seconds"}}}},
        "/api/v1/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, f"OpenAPI {OPENAPI_VERSION}")}}},
        "/healthz": {"get": {"summary": "Liveness: the process serves",
                             "responses": {"200": _json(documents.Liveness, "Alive")}}},
        "/readyz": {"get": {"summary": "Readiness: the database answers at the newest migration",
                            "responses": {"200": _json(documents.Readiness, "Ready"),
                                          "503": _error("Not ready, and why")}}},
        "/metrics": {"get": {"summary": "pipewatch's own counters, Prometheus text format",
                             "security": READ,
                             "responses": {"200": {"description": "Prometheus exposition",
                                                   "content": {"text/plain": {
                                                       "schema": {"type": "string"}}}},
                                           **AUTH_ERRORS}}},
    }


def flask_rule_to_path(rule: str) -> str:
    """`/a/<int:id>` -> `/a/{id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def registered_paths(app: Flask) -> set[str]:
    return {flask_rule_to_path(rule.rule) for rule in app.url_map.iter_rules()}


def build_document(app: Flask, config: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI document for the paths `app` serves, with the limits of its `config`."""
    present = registered_paths(app)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "pipewatch", "version": "1",
                 "description": "Live pipeline health and data quality. Times are ISO 8601 UTC "
                                "with Z. Every error is {\"error\": {code, message, details}}."},
        "paths": {path: item for path, item in paths(config).items() if path in present},
        "webhooks": webhooks(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "PIPEWATCH_INGEST_TOKEN for writes; PIPEWATCH_READ_TOKEN for "
                               "reads when it is set (browsers: the cookie /login sets)."}}},
    }


def openapi_document():
    """The OpenAPI 3.1 document of this app's routes."""
    return jsonify(build_document(current_app, get_runtime().config))
