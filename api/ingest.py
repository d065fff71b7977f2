"""Writes from other programs: `POST /api/v1/metrics` and `POST /api/v1/scrape-runs`.

Every request passes the same gates, in order: the bearer token (403 when the server has none
configured, 401 when missing or wrong), the content type (415), the body size (413), JSON
syntax (400), then every field (422 listing every problem). Only then is anything written, and
a list is written in one transaction: all rows or none. Rates are never taken from the caller:
the database derives them from the counts, and a body whose rate contradicts its counts is
refused. After the commit the live push is told (`runtime.notify_change()`).

`Idempotency-Key`: the first response to a key is stored in `idempotency_keys`, in the same
transaction as the rows (IDEMPOTENCY_TTL_SECONDS), and a retry with the same key and body gets
it again without writing, whichever process or host it reaches; the same key with another body
is a 409. Two retries racing each other: the second commit fails on the key's primary key,
rolls back its rows, and replays the first one's response.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from flask import Response, request
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from api.auth import require_write_token
from api.errors import ApiError
from api.export import rendered_columns, row_dict
from api.storage.models import DataQualityMetric, IdempotencyKey, ScrapeRun
from api.runtime import Runtime, get_runtime
from api.timeutil import isoformat, utcnow
from api.validation import (Invalid, MalformedJSON, check_body, check_metric, check_scrape_run,
                            parse_json)


SCRAPE_RUN_COLUMNS = ("id", "source", "started_at", "finished_at", "status", "items_found",
                      "items_new", "error")
MAX_KEY_LENGTH = 255


def read_json_body() -> Any:
    """The request's JSON: 415 for another content type, 413 when too big, 400 when malformed."""
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as JSON with Content-Type: application/json",
                       {"content_type": (request.mimetype or None)})
    raw = request.get_data(cache=True)  # a declared length over MAX_BODY_BYTES: 413 here
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(raw) >= limit:
        # A chunked body has no declared length, and Werkzeug cuts it at the limit silently.
        raise ApiError(413, f"body larger than {limit} bytes")
    if not raw.strip():
        raise ApiError(400, "empty body: send a JSON object or a list of them", code="bad_json")
    try:
        return parse_json(raw)
    except MalformedJSON as exc:
        raise ApiError(400, str(exc), code="bad_json") from None


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(422, "invalid Idempotency-Key",
                       {"problems": [{"path": "Idempotency-Key",
                                      "message": f"1 to {MAX_KEY_LENGTH} printable ASCII characters"}]})
    return key


def _ingest(check_one: Callable, write: Callable[[Any, list[dict]], list[dict]]) -> Response:
    runtime = get_runtime()
    require_write_token()
    key = _idempotency_key()
    body = read_json_body()
    rows = _validated(runtime, body, check_one)
    if key is None:
        return _write(runtime, rows, write, None)
    keyed = KeyedRequest(
        key=hashlib.sha256(f"{request.path}\n{key}".encode()).hexdigest(),
        body_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        cutoff=utcnow() - timedelta(seconds=runtime.config["IDEMPOTENCY_TTL_SECONDS"]))
    return _replay(runtime, keyed) or _write(runtime, rows, write, keyed)


@dataclass(frozen=True)
class KeyedRequest:
    key: str  # sha256 of route and the client's key: the client's text is never stored
    body_hash: str
    cutoff: datetime  # keys older than this are forgotten


def _replay(runtime: Runtime, keyed: KeyedRequest) -> Response | None:
    """The stored response to this key, or None; 409 when the key came with another body."""
    with runtime.db.session() as session:
        earlier = session.get(IdempotencyKey, keyed.key)
    if earlier is None or earlier.created_at < keyed.cutoff:
        return None
    if earlier.request_hash != keyed.body_hash:
        raise ApiError(409, "this Idempotency-Key was already used with another body",
                       code="idempotency_key_reused")
    response = Response(earlier.response, status=earlier.status_code, mimetype="application/json")
    response.headers["Idempotency-Replayed"] = "true"
    return response


def _validated(runtime: Runtime, body: Any, check_one: Callable) -> list[dict]:
    config = runtime.config
    try:
        rows, _ = check_body(body, check_one, max_items=config["INGEST_MAX_ITEMS"],
                             now=utcnow(),
                             max_future=timedelta(seconds=config["INGEST_MAX_FUTURE_SECONDS"]),
                             config=config)
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    return rows


def _write(runtime: Runtime, rows: list[dict], write: Callable,
           keyed: KeyedRequest | None) -> Response:
    """Write the rows (and the key with its response) in one transaction, then notify."""
    try:
        with runtime.db.session() as session:
            payload = json.dumps({"items": write(session, rows)}, separators=(",", ":"))
            if keyed is not None:
                session.execute(delete(IdempotencyKey)
                                .where(IdempotencyKey.created_at < keyed.cutoff))
                session.add(IdempotencyKey(key=keyed.key, request_hash=keyed.body_hash,
                                           status_code=201, response=payload,
                                           created_at=utcnow()))
    except IntegrityError:
        # A concurrent retry of the same key committed first: answer as it did.
        replayed = _replay(runtime, keyed) if keyed is not None else None
        if replayed is not None:
            return replayed
        raise ApiError(422, "the database refused these rows; nothing was written",
                       code="constraint_violation") from None
    runtime.notify_change()
    return Response(payload, status=201, mimetype="application/json")


# One multi-row INSERT ... RETURNING per request, in the caller's transaction, rows returned in
# the body's order. Built once: it runs on every write, before the live push is told.


@cache
def _insert_metrics_statement(dialect: str):
    return insert(DataQualityMetric.__table__).returning(*rendered_columns(dialect),
                                                         sort_by_parameter_order=True)


@cache
def _insert_scrape_runs_statement():
    runs = ScrapeRun.__table__
    return insert(runs).returning(*(runs.c[name] for name in SCRAPE_RUN_COLUMNS),
                                  sort_by_parameter_order=True)


def _write_metrics(session, rows: list[dict]) -> list[dict]:
    """Insert, returning each row as the export renders it: the 201 shows each row exactly as
    GET /api/v1/metrics will (database-derived rates included), without reading it back."""
    created = utcnow()
    statement = _insert_metrics_statement(session.get_bind().dialect.name)
    return [row_dict(row) for row in session.execute(
        statement, [{**row, "created_at": created} for row in rows])]


def scrape_run_dict(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(SCRAPE_RUN_COLUMNS, row))
    item["started_at"] = isoformat(item["started_at"])
    item["finished_at"] = isoformat(item["finished_at"])
    return item


def _write_scrape_runs(session, rows: list[dict]) -> list[dict]:
    return [scrape_run_dict(row)
            for row in session.execute(_insert_scrape_runs_statement(), rows)]


def post_metrics():
    """Store one metric row or a list of them (all or nothing); 201 with the stored rows."""
    return _ingest(check_metric, _write_metrics)


def post_scrape_runs():
    """Store one scrape run or a list of them (all or nothing); 201 with the stored rows."""
    return _ingest(check_scrape_run, _write_scrape_runs)
