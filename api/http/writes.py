"""The gates every write passes, and the Idempotency-Key flow: shared by the ingest routes.

Every request passes the same gates, in order: the bearer token (403 when the server has none
configured, 401 when missing or wrong), the content type (415), the body size (413), JSON
syntax (400), then the body's model (api.schemas.ingest: 422 listing every problem). Only
then is anything written, and a list is written in one transaction: all rows or none. Rates
are never taken from the caller: the database derives them from the counts, and a body whose
rate contradicts its counts is refused. After the commit the live push is told (`runtime.notify_change()`).

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
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Response, request
from sqlalchemy.exc import IntegrityError

from api.auth import require_write_token
from api.errors import ApiError
from api.runtime import Runtime, get_runtime
from api.schemas.ingest import InputModel, checked_rows
from api.schemas.problems import Invalid
from api.storage.writes import remember_answer, stored_answer
from api.timeutil import utcnow

MAX_KEY_LENGTH = 255


class MalformedJSON(ValueError):
    """The body is not JSON at all (a 400, unlike a JSON body with wrong values: a 422)."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no absurd nesting; MalformedJSON otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJSON("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedJSON("JSON nested too deeply") from None
    except ValueError as exc:
        raise MalformedJSON(f"body is not valid JSON: {str(exc)[:120]}") from None


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


def ingest(model: type[InputModel],
           insert: Callable[[Any, list[dict]], list[dict]]) -> Response:
    """Run the gates, the body's items validated as `model`, then `insert(session, rows)` in
    one transaction; 201 with what it returns."""
    runtime = get_runtime()
    require_write_token()
    key = _idempotency_key()
    body = read_json_body()
    rows = _validated(runtime, body, model)
    if key is None:
        return _write(runtime, rows, insert, None)
    keyed = KeyedRequest(
        key=hashlib.sha256(f"{request.path}\n{key}".encode()).hexdigest(),
        body_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        cutoff=utcnow() - timedelta(seconds=runtime.config["IDEMPOTENCY_TTL_SECONDS"]))
    return _replay(runtime, keyed) or _write(runtime, rows, insert, keyed)


@dataclass(frozen=True)
class KeyedRequest:
    key: str  # sha256 of route and the client's key: the client's text is never stored
    body_hash: str
    cutoff: datetime  # keys older than this are forgotten


def _replay(runtime: Runtime, keyed: KeyedRequest) -> Response | None:
    """The stored response to this key, or None; 409 when the key came with another body."""
    with runtime.db.session() as session:
        earlier = stored_answer(session, keyed.key)
    if earlier is None or earlier.created_at < keyed.cutoff:
        return None
    if earlier.request_hash != keyed.body_hash:
        raise ApiError(409, "this Idempotency-Key was already used with another body",
                       code="idempotency_key_reused")
    response = Response(earlier.response, status=earlier.status_code, mimetype="application/json")
    response.headers["Idempotency-Replayed"] = "true"
    return response


def _validated(runtime: Runtime, body: Any, model: type[InputModel]) -> list[dict]:
    try:
        rows = checked_rows(body, model, runtime.config)
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    return rows


def _write(runtime: Runtime, rows: list[dict], insert: Callable,
           keyed: KeyedRequest | None) -> Response:
    """Write the rows (and the key with its response) in one transaction, then notify."""
    try:
        with runtime.db.session() as session:
            payload = json.dumps({"items": insert(session, rows)}, separators=(",", ":"))
            if keyed is not None:
                remember_answer(session, key=keyed.key, request_hash=keyed.body_hash,
                                payload=payload, cutoff=keyed.cutoff)
    except IntegrityError:
        # A concurrent retry of the same key committed first: answer as it did.
        replayed = _replay(runtime, keyed) if keyed is not None else None
        if replayed is not None:
            return replayed
        raise ApiError(422, "the database refused these rows; nothing was written",
                       code="constraint_violation") from None
    runtime.notify_change()
    return Response(payload, status=201, mimetype="application/json")
