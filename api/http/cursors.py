"""Page cursors (the metrics export, the alert events): opaque, signed, bound to the filters
they were issued for.

A cursor carries the keyset position of the last row sent, (timestamp, id), and a digest of the
query's filters, serialized and signed by itsdangerous (the signer Flask itself uses). A cursor
that was altered, forged or issued for other filters is a 400 naming why, never a silent jump to
another place in the data.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Mapping

from urllib.parse import urlencode

from flask import request
from itsdangerous import BadPayload, BadSignature, URLSafeSerializer

from api.errors import ApiError
from api.storage.alert_store import EventFilters
from api.storage.export import MetricFilters
from api.timeutil import parse_iso

SALT = "pipewatch.export-cursor"


def signer(config: Mapping[str, Any]) -> URLSafeSerializer:
    """Signs with CURSOR_SECRET, or else with a key derived from the database URL (the same in
    every worker and host on one database, so any of them continues a walk)."""
    secret = config.get("CURSOR_SECRET") or "pipewatch-cursor:" + config["DATABASE_URL"]
    return URLSafeSerializer(hashlib.sha256(secret.encode()).digest(), salt=SALT)


Filters = MetricFilters | EventFilters
"""Anything with `canonical()`: the filters a cursor is bound to."""


def _filters_digest(filters: Filters) -> str:
    return hashlib.sha256(json.dumps(filters.canonical()).encode()).hexdigest()[:16]


def encode_cursor(position: tuple[datetime, int], filters: Filters,
                  serializer: URLSafeSerializer) -> str:
    moment, row_id = position
    return serializer.dumps([moment.isoformat(), row_id, _filters_digest(filters)])


def decode_cursor(cursor: str, filters: Filters,
                  serializer: URLSafeSerializer) -> tuple[datetime, int]:
    """The keyset position in `cursor`; ApiError 400 if forged, damaged or from other filters."""
    try:
        moment_text, row_id, digest = serializer.loads(cursor)
        position = parse_iso(moment_text), int(row_id)
    except BadPayload:
        raise _bad_cursor("cursor is damaged") from None
    except BadSignature:
        raise _bad_cursor("cursor signature does not match: it was altered or is not ours"
                          ) from None
    except (ValueError, TypeError, OverflowError):
        raise _bad_cursor("cursor is damaged") from None
    if digest != _filters_digest(filters):
        raise _bad_cursor("cursor belongs to a query with other filters; "
                          "repeat the same filters with it")
    return position


def next_page_url(cursor: str) -> str:
    """This request's URL with `cursor` in place of its own (its filters kept)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    return f"{request.path}?{urlencode(params + [('cursor', cursor)])}"


def _bad_cursor(reason: str) -> ApiError:
    return ApiError(400, "invalid cursor", {"problems": [{"path": "cursor", "message": reason}]},
                    code="invalid_cursor")
