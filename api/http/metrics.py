"""`/api/v1/metrics`: the metric rows. GET exports them (JSON pages with a signed cursor, or the
whole range streamed as CSV or NDJSON), POST stores new ones, `/series` aggregates them into the
buckets the trend charts draw.
"""
from __future__ import annotations

from datetime import datetime

from flask import Response, jsonify, request

from api import queries
from api.errors import ApiError
from api.http.cursors import decode_cursor, encode_cursor, next_page_url, signer
from api.http.formats import MEDIA_TYPES, capped, csv_chunks, encoded, ndjson_chunks
from api.http.query import (ExportQuery, parse_export_query, parse_range, parse_sources,
                            raise_problems, single_value)
from api.http.writes import ingest
from api.runtime import get_runtime
from api.schemas.ingest import MetricInput
from api.status.series import BUCKETS, METRICS, SeriesError, choose_bucket
from api.storage.db import Database
from api.storage.export import copy_csv_chunks, fetch_page, stream_rows
from api.storage.rows import row_dict
from api.storage.writes import insert_metrics
from api.timeutil import isoformat, utcnow

DEFAULT_SERIES_DAYS = 7


def list_metrics():
    """Filtered metric rows: a JSON page with a cursor, or the whole range as CSV/NDJSON."""
    runtime = get_runtime()
    config = runtime.config
    query = parse_export_query(request.args, request.headers.get("Accept"),
                               default_limit=config["EXPORT_DEFAULT_LIMIT"],
                               max_limit=config["EXPORT_MAX_LIMIT"])
    serializer = signer(config)
    after = decode_cursor(query.cursor, query.filters, serializer) if query.cursor else None
    if query.format == "json":
        return _json_page(runtime.db, query, after, serializer)
    return _stream(runtime.db, query, after, via_copy=config["EXPORT_CSV_VIA_COPY"])


def _json_page(db: Database, query: ExportQuery, after, serializer):
    with db.session() as session:
        rows, next_position = fetch_page(session, query.filters, after, query.limit)
    next_cursor = (encode_cursor(next_position, query.filters, serializer)
                   if next_position else None)
    return jsonify({"items": [row_dict(row) for row in rows], "next_cursor": next_cursor,
                    "next_url": next_page_url(next_cursor) if next_cursor else None, "truncated": next_cursor is not None,
                    "limit": query.limit})


def _stream(db: Database, query: ExportQuery, after, *, via_copy: bool) -> Response:
    if query.format == "csv" and db.dialect == "postgresql" and via_copy:
        chunks = copy_csv_chunks(db, query.filters, after, query.limit)
    else:
        partitions = stream_rows(db, query.filters, after)
        if query.limit is not None:
            partitions = capped(partitions, query.limit)
        chunks = csv_chunks(partitions) if query.format == "csv" else ndjson_chunks(partitions)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    response = Response(encoded(chunks), mimetype=MEDIA_TYPES[query.format])
    response.headers["Content-Type"] = MEDIA_TYPES[query.format]
    response.headers["Content-Disposition"] = (
        f'attachment; filename="pipewatch-metrics-{stamp}.{query.format}"')
    response.headers["Cache-Control"] = "no-store"
    return response


def post_metrics():
    """Store one metric row or a list of them (all or nothing); 201 with the stored rows."""
    return ingest(MetricInput, insert_metrics)


def series():
    """The aggregated trend the charts draw: hour or day buckets, weighted rates."""
    problems: list[dict[str, str]] = []
    metric = single_value(request.args, "metric", problems) or ""
    bucket = single_value(request.args, "bucket", problems) or None
    if metric not in METRICS:
        problems.append({"path": "metric", "message": f"must be one of {', '.join(METRICS)}"})
    if bucket not in (None, "auto", *BUCKETS):
        problems.append({"path": "bucket",
                         "message": f"must be one of {', '.join(BUCKETS)}, auto"})
    start, end = parse_range(request.args, problems, default_days=DEFAULT_SERIES_DAYS)
    sources = parse_sources(request.args.getlist("source"), problems)
    raise_problems(problems)
    wanted = None if bucket == "auto" else bucket
    try:
        rows = queries.series(get_runtime(), metric, start, end, sources, wanted)
    except SeriesError as exc:
        raise ApiError(422, str(exc), {"problems": [{"path": "bucket", "message": str(exc)}]}
                       ) from None
    chosen = rows[0]["bucket"] if rows else choose_bucket(start, end, wanted)
    return jsonify({"metric": metric, "bucket": chosen, "start": isoformat(start),
                    "end": isoformat(end), "sources": sources or None,
                    "items": [{**row, "bucket_start": isoformat(row["bucket_start"])}
                              for row in rows]})
