"""`GET /api/v1/openapi.json`: the OpenAPI 3.0 description of every HTTP route pipewatch serves.

Written by hand as data (the routes are few and their contracts deliberate), and checked
against the app: `tests/test_openapi.py` fails when a registered /api/ route is undocumented or
a documented one does not exist, and schemathesis drives the routes from this document and
checks every response against it. `build_document(app)` keeps only the paths the app has
registered, so optional parts (the Prometheus /metrics, the WebSocket) appear only when wired.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask, current_app, jsonify

from api.storage.models import METRIC_TYPES, QUALITY_STATUSES, SCRAPE_STATUSES
from api.status.series import BUCKETS, METRICS
from api.validation import INT32_MAX, MAX_ERROR_LENGTH, MAX_SOURCE_LENGTH

STATUS = list(QUALITY_STATUSES)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {**TIME, "nullable": True}
COUNT = {"type": "integer", "minimum": 0, "maximum": INT32_MAX}
RATE = {"type": "number", "nullable": True, "minimum": 0, "maximum": 1}
SOURCE = {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_LENGTH}
ANY_OBJECT = {"type": "object", "additionalProperties": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "details": {"nullable": True}}}}},
    "Metric": {
        "type": "object",
        "required": ["id", "timestamp", "window_seconds", "metric_type", "source",
                     "geocoding_attempts", "geocoding_successes", "geocoding_success_rate",
                     "validation_attempts", "validation_passes", "validation_pass_rate",
                     "status", "created_at"],
        "properties": {
            "id": {"type": "integer"}, "timestamp": TIME,
            "window_seconds": {"type": "integer", "minimum": 1},
            "metric_type": {"type": "string", "enum": list(METRIC_TYPES)},
            "source": {**SOURCE, "nullable": True},
            "geocoding_attempts": COUNT, "geocoding_successes": COUNT,
            "geocoding_success_rate": RATE,
            "validation_attempts": COUNT, "validation_passes": COUNT,
            "validation_pass_rate": RATE,
            "status": {"type": "string", "enum": STATUS}, "created_at": TIME}},
    "MetricInput": {
        "type": "object", "additionalProperties": False,
        "description": "Rates and status are derived from the counts; if given they must agree.",
        "required": ["timestamp", "window_seconds", "metric_type", "geocoding_attempts",
                     "geocoding_successes", "validation_attempts", "validation_passes"],
        "properties": {
            "timestamp": {**TIME, "description": "End of the window; ISO 8601 with a zone."},
            "window_seconds": {"type": "integer", "minimum": 1, "maximum": 366 * 86400,
                               "description": "3600 for hourly rows."},
            "metric_type": {"type": "string", "enum": list(METRIC_TYPES)},
            "source": {**SOURCE, "nullable": True,
                       "description": "null for all sources (required null for aggregate)."},
            "geocoding_attempts": COUNT, "geocoding_successes": COUNT,
            "validation_attempts": COUNT, "validation_passes": COUNT,
            "geocoding_success_rate": RATE, "validation_pass_rate": RATE,
            "status": {"type": "string", "enum": STATUS}}},
    "ScrapeRun": {
        "type": "object",
        "required": ["id", "source", "started_at", "finished_at", "status", "items_found",
                     "items_new", "error"],
        "properties": {
            "id": {"type": "integer"}, "source": SOURCE, "started_at": TIME,
            "finished_at": NULLABLE_TIME,
            "status": {"type": "string", "enum": list(SCRAPE_STATUSES)},
            "items_found": COUNT, "items_new": COUNT,
            "error": {"type": "string", "nullable": True}}},
    "ScrapeRunInput": {
        "type": "object", "additionalProperties": False,
        "required": ["source", "started_at", "status", "items_found", "items_new"],
        "properties": {
            "source": SOURCE, "started_at": TIME, "finished_at": NULLABLE_TIME,
            "status": {"type": "string", "enum": list(SCRAPE_STATUSES)},
            "items_found": COUNT, "items_new": COUNT,
            "error": {"type": "string", "nullable": True, "minLength": 1,
                      "maxLength": MAX_ERROR_LENGTH,
                      "description": "null, or non-blank text without control characters"}}},
    "MetricsPage": {
        "type": "object", "required": ["items", "next_cursor", "next_url", "truncated", "limit"],
        "properties": {
            "items": {"type": "array", "items": _ref("Metric")},
            "next_cursor": {"type": "string", "nullable": True,
                            "description": "Pass back as `cursor` (with the same filters)."},
            "next_url": {"type": "string", "nullable": True},
            "truncated": {"type": "boolean", "description": "More rows follow this page."},
            "limit": {"type": "integer"}}},
    "SeriesPoint": {
        "type": "object",
        "required": ["bucket_start", "bucket", "source", "metric", "attempts", "successes",
                     "rate", "volume", "value", "status", "hours"],
        "properties": {
            "bucket_start": TIME, "bucket": {"type": "string", "enum": list(BUCKETS)},
            "source": {"type": "string", "nullable": True},
            "metric": {"type": "string", "enum": list(METRICS)},
            "attempts": {"type": "integer"}, "successes": {"type": "integer"}, "rate": RATE,
            "volume": {"type": "integer"}, "value": {"type": "number", "nullable": True},
            "status": {"type": "string", "enum": STATUS, "nullable": True},
            "hours": {"type": "integer"},
            "geocoding_attempts": {"type": "integer"}, "geocoding_successes": {"type": "integer"},
            "validation_attempts": {"type": "integer"}, "validation_passes": {"type": "integer"}}},
    "Series": {
        "type": "object", "required": ["metric", "bucket", "start", "end", "sources", "items"],
        "properties": {
            "metric": {"type": "string", "enum": list(METRICS)},
            "bucket": {"type": "string", "enum": list(BUCKETS)},
            "start": TIME, "end": TIME,
            "sources": {"type": "array", "items": {"type": "string"}, "nullable": True},
            "items": {"type": "array", "items": _ref("SeriesPoint")}}},
    "Alert": {
        "type": "object", "required": ["key", "severity", "title", "message", "source", "since"],
        "properties": {"key": {"type": "string"},
                       "severity": {"type": "string", "enum": ["warning", "error"]},
                       "title": {"type": "string"}, "message": {"type": "string"},
                       "source": {"type": "string", "nullable": True}, "since": NULLABLE_TIME}},
    "AlertPeriod": {
        "type": "object", "required": ["key", "severity", "source", "start", "end", "title"],
        "properties": {"key": {"type": "string"},
                       "severity": {"type": "string", "enum": ["warning", "error"]},
                       "source": {"type": "string", "nullable": True}, "start": TIME,
                       "end": {**NULLABLE_TIME, "description": "null: still open"},
                       "title": {"type": "string"}}},
    "Anomaly": {
        "type": "object",
        "required": ["kind", "source", "detected_at", "value", "baseline", "score", "severity"],
        "properties": {"kind": {"type": "string", "enum": list(METRICS)},
                       "source": {"type": "string"}, "detected_at": TIME,
                       "value": {"type": "number"}, "baseline": {"type": "number"},
                       "score": {"type": "number"},
                       "severity": {"type": "string", "enum": ["warning", "error"]},
                       "start": TIME, "end": TIME}},
    "Sources": {
        "type": "object", "required": ["timestamp", "seq", "items"],
        "properties": {
            "timestamp": TIME, "seq": {"type": "integer"},
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["source", "status", "scraping", "data_quality", "alerts"],
                "properties": {
                    "source": {"type": "string"},
                    "status": {"type": "string", "enum": STATUS},
                    "scraping": {**ANY_OBJECT, "nullable": True,
                                 "description": "scraping_health.sources entry (no scrape "
                                                "runs seen: null)"},
                    "data_quality": {**ANY_OBJECT, "nullable": True,
                                     "description": "data_quality.by_source entry"},
                    "alerts": {"type": "array", "items": _ref("Alert")}}}}}},
    "Alerts": {
        "type": "object", "required": ["start", "end", "sources", "current", "items"],
        "properties": {"start": TIME, "end": TIME,
                       "sources": {"type": "array", "items": {"type": "string"},
                                   "nullable": True},
                       "current": {"type": "array", "items": _ref("Alert")},
                       "items": {"type": "array", "items": _ref("AlertPeriod")}}},
    "Anomalies": {
        "type": "object", "required": ["start", "end", "sources", "current", "items"],
        "properties": {"start": TIME, "end": TIME,
                       "sources": {"type": "array", "items": {"type": "string"},
                                   "nullable": True},
                       "current": {"type": "array", "items": _ref("Anomaly")},
                       "items": {"type": "array", "items": _ref("Anomaly")}}},
    "PipelineStatus": {
        "type": "object",
        "required": ["timestamp", "overall_status", "seq", "scraping_health", "data_quality",
                     "anomalies", "alerts", "freshness"],
        "properties": {
            "timestamp": TIME, "overall_status": {"type": "string", "enum": STATUS},
            "seq": {"type": "integer"}, "scraping_health": ANY_OBJECT,
            "data_quality": ANY_OBJECT, "anomalies": {"type": "array", "items": ANY_OBJECT},
            "alerts": {"type": "array", "items": ANY_OBJECT}, "freshness": ANY_OBJECT}},
}


def _query(name: str, schema: dict[str, Any], description: str, *, array: bool = False,
           required: bool = False, empty_is_absent: bool = True) -> dict[str, Any]:
    """An optional parameter sent empty (`?start=`, as an HTML form does) counts as absent, and
    the document says so (`allowEmptyValue`); `source=` is a 422 instead (not a usable name)."""
    if array:
        schema = {"type": "array", "items": schema}
    empty = {"allowEmptyValue": True} if empty_is_absent and not required else {}
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema, **empty, **({"style": "form", "explode": True} if array else {})}


START = _query("start", TIME, "From this time (ISO 8601 with a zone; naive is refused).")
END = _query("end", TIME, "Up to this time (ISO 8601 with a zone).")
SOURCES = _query("source", SOURCE, "Only these sources (repeatable).", array=True,
                 empty_is_absent=False)
READ_ERRORS = {"401": _error("PIPEWATCH_READ_TOKEN is set and the bearer token (or the /login "
                             "cookie) is missing or wrong"),
               "422": _error("A query parameter is invalid; `details.problems` lists each")}
WRITE_ERRORS = {
    "400": _error("The body is not JSON"), "401": _error("Bearer token missing or wrong"),
    "403": _error("Writes are disabled: no PIPEWATCH_INGEST_TOKEN is configured"),
    "409": _error("The Idempotency-Key was used before with another body"),
    "413": _error("The body is larger than MAX_BODY_BYTES"),
    "415": _error("Content-Type is not application/json"),
    "422": _error("The body is invalid; `details.problems` lists every problem (path, message); "
                  "nothing was written")}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "A retry with the same key and body returns the first response "
                              "without writing again.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 255}}


def _write(summary: str, item: str, stored: str) -> dict[str, Any]:
    body = {"oneOf": [_ref(item), {"type": "array", "minItems": 1, "items": _ref(item)}]}
    return {"post": {
        "summary": summary, "security": [{"bearer": []}], "parameters": [IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"201": _json({"type": "object", "required": ["items"],
                                    "properties": {"items": {"type": "array",
                                                             "items": _ref(stored)}}},
                                   "Stored: every row, in the order given"),
                      **WRITE_ERRORS}}}


PATHS: dict[str, Any] = {
    "/api/v1/metrics": {
        "get": {
            "summary": "Metric rows: a JSON page with a cursor, or the whole range as CSV/NDJSON",
            "security": [{}, {"bearer": []}],
            "parameters": [
                START, END,
                _query("metric_type", {"type": "string", "enum": list(METRIC_TYPES)},
                       "Only these metric types (repeatable).", array=True),
                SOURCES,
                _query("status", {"type": "string", "enum": STATUS},
                       "Only rows with these statuses (repeatable).", array=True),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                       "Rows per JSON page (default 100; more is a 422). With format=csv or "
                       "ndjson: optional, uncapped."),
                _query("cursor", {"type": "string", "maxLength": 512},
                       "`next_cursor` of the previous page; repeat the same filters."),
                _query("format", {"type": "string", "enum": ["json", "csv", "ndjson"]},
                       "Output; or send Accept: text/csv or application/x-ndjson."),
            ],
            "responses": {
                "200": {"description": "Rows ordered by (timestamp, id); start <= timestamp < end",
                        "content": {"application/json": {"schema": _ref("MetricsPage")},
                                    "text/csv": {"schema": {"type": "string"}},
                                    "application/x-ndjson": {"schema": {"type": "string"}}}},
                "400": _error("The cursor was altered, damaged, or belongs to other filters"),
                **READ_ERRORS}},
        **_write("Store one metric row or a list of them (all or nothing)", "MetricInput",
                 "Metric"),
    },
    "/api/v1/scrape-runs": _write("Store one scrape run or a list of them (all or nothing)",
                                  "ScrapeRunInput", "ScrapeRun"),
    "/api/v1/metrics/series": {"get": {
        "summary": "The aggregated trend: hour or day buckets of hourly rows, weighted rates",
        "security": [{}, {"bearer": []}],
        "parameters": [
            _query("metric", {"type": "string", "enum": list(METRICS)}, "What to aggregate.",
                   required=True),
            _query("bucket", {"type": "string", "enum": ["hour", "day", "auto"]},
                   "Bucket size; auto (default) keeps each trace at most 2,000 points."),
            _query("start", TIME, "From (default: 7 days before end)."),
            _query("end", TIME, "To (default: now)."),
            _query("source", SOURCE, "One trace per listed source; none: the all-sources "
                                     "trace.", array=True, empty_is_absent=False)],
        "responses": {"200": _json(_ref("Series"), "The buckets, by source then time"),
                      **READ_ERRORS}}},
    "/api/v1/sources": {"get": {
        "summary": "Every known source with its current scraping and data-quality status",
        "security": [{}, {"bearer": []}],
        "responses": {"503": _error("The database is unavailable"),
                      "200": _json(_ref("Sources"), "One item per source, by name"),
                      "401": READ_ERRORS["401"]}}},
    "/api/v1/alerts": {"get": {
        "summary": "Alerts open now (`current`) and alert periods overlapping the range "
                   "(`items`, newest first); at most 92 days",
        "security": [{}, {"bearer": []}],
        "parameters": [_query("start", TIME, "From (default: 1 day before end)."),
                       _query("end", TIME, "To (default: now)."), SOURCES],
        "responses": {"200": _json(_ref("Alerts"), "Alerts"), **READ_ERRORS}}},
    "/api/v1/anomalies": {"get": {
        "summary": "Anomalies of the newest hour (`current`) and every anomalous hour in the "
                   "range (`items`, newest first); at most 92 days",
        "security": [{}, {"bearer": []}],
        "parameters": [_query("start", TIME, "From (default: 1 day before end)."),
                       _query("end", TIME, "To (default: now)."), SOURCES],
        "responses": {"200": _json(_ref("Anomalies"), "Anomalies"), **READ_ERRORS}}},
    "/api/v1/monitoring/pipeline-status": {"get": {
        "summary": "The pipeline status document (the same JSON the WebSocket pushes)",
        "security": [{}, {"bearer": []}],
        "responses": {"200": _json(_ref("PipelineStatus"), "The current status"),
                      "401": READ_ERRORS["401"],
                      "503": _error("The database is unavailable")}}},
    "/api/v1/ws/monitoring/pipeline-status": {"get": {
        "summary": "WebSocket: the status document on connect, then on every change and at "
                   "least every 5 s. Connect with ws:// or wss://; not plain HTTP.",
        "x-websocket": True,
        "responses": {"101": {"description": "Switching to the WebSocket protocol"},
                      "400": {"description": "Not a WebSocket handshake"},
                      "401": {"description": "PIPEWATCH_READ_TOKEN is set and neither the "
                                             "bearer token nor the /login cookie matches"},
                      "403": {"description": "Origin not allowed"}}}},
    "/api/v1/openapi.json": {"get": {
        "summary": "This document",
        "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")}}},
    "/healthz": {"get": {"summary": "Liveness: the process serves",
                         "responses": {"200": _json(ANY_OBJECT, "Alive")}}},
    "/readyz": {"get": {"summary": "Readiness: the database answers at the newest migration",
                        "responses": {"200": _json(ANY_OBJECT, "Ready"),
                                      "503": _error("Not ready, and why")}}},
    "/metrics": {"get": {"summary": "pipewatch's own counters, Prometheus text format",
                         "security": [{}, {"bearer": []}],
                         "responses": {"200": {"description": "Prometheus exposition",
                                               "content": {"text/plain": {
                                                   "schema": {"type": "string"}}}},
                                       "401": READ_ERRORS["401"]}}},
}


def flask_rule_to_path(rule: str) -> str:
    """`/a/<int:id>` -> `/a/{id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def registered_paths(app: Flask) -> set[str]:
    return {flask_rule_to_path(rule.rule) for rule in app.url_map.iter_rules()}


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for the paths `app` serves."""
    present = registered_paths(app)
    return {
        "openapi": "3.0.3",
        "info": {"title": "pipewatch", "version": "1",
                 "description": "Live pipeline health and data quality. Times are ISO 8601 UTC "
                                "with Z. Every error is {\"error\": {code, message, details}}."},
        "paths": {path: copy.deepcopy(item) for path, item in PATHS.items() if path in present},
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "PIPEWATCH_INGEST_TOKEN for writes; PIPEWATCH_READ_TOKEN for "
                               "reads when it is set (browsers: the cookie /login sets)."}}},
    }


def openapi_document():
    """The OpenAPI 3.0 document of this app's routes."""
    return jsonify(build_document(current_app))
