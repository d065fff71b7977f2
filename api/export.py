"""`GET /api/v1/metrics`: filtered metric rows as JSON pages, or streamed whole as CSV/NDJSON.

One fetch (`metrics_statement`: filters + keyset position, ordered by (timestamp, id)) feeds
every format; the renderers only shape rows. JSON pages carry at most `limit` rows and an
opaque `next_cursor`; a cursor names the last row's (timestamp, id), so walking the pages yields
every row that existed when the walk started exactly once, however many rows arrive meanwhile.
Cursors are HMAC-signed and bound to the filters: a tampered cursor, or one from another
query, is a 400 rather than a silent jump. CSV and NDJSON stream the whole filtered range from
a server-side cursor (`stream_results`, fetched in partitions), so memory stays flat at any size.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
from datetime import datetime
from json.encoder import encode_basestring as _string
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlencode

from flask import Response, jsonify, request
from sqlalchemy import (Select, String, and_, case, cast, func, literal, or_, select,
                        type_coerce)

from api.storage.db import Database
from api.errors import ApiError
from api.storage.models import DataQualityMetric as M
from api.runtime import get_runtime
from api.timeutil import parse_iso, utcnow
from api.validation import ExportQuery, Invalid, MetricFilters, parse_export_query

log = logging.getLogger(__name__)

COLUMNS = ("id", "timestamp", "window_seconds", "metric_type", "source", "geocoding_attempts",
           "geocoding_successes", "geocoding_success_rate", "validation_attempts",
           "validation_passes", "validation_pass_rate", "status", "created_at")
STREAM_PARTITION = 5000
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
# Set only by bench/export.py, to measure the generic row path on PostgreSQL as a baseline.
ROWS_NOT_COPY = os.environ.get("PIPEWATCH_BENCH_EXPORT_ROW_PATH") == "1"


# region The one fetch

def iso_text(column, dialect: str):
    """SQL rendering a UTC time column as ISO 8601 text with Z, as timeutil.isoformat does
    (microseconds only when present). Done by the database, in C: formatting two datetimes per
    row in Python was most of an export's cost."""
    if dialect == "sqlite":
        # Stored as naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff': '.' occurs once, in the fraction.
        raw = type_coerce(column, String)
        return func.replace(func.replace(raw, " ", "T"), ".000000", "") + "Z"
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        return (func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
                + case((func.date_trunc("second", column) == column, ""),
                       else_=func.to_char(utc, ".US")) + "Z")
    raise ValueError(f"export is not supported on the {dialect} dialect")


def rendered_columns(dialect: str) -> list:
    """The exported columns, times rendered as text: what every output shows of a row, and
    what ingest's INSERT returns (so its 201 shows each row as the export will)."""
    columns = []
    for name in COLUMNS:
        column = getattr(M, name)
        if name in ("timestamp", "created_at"):
            column = iso_text(column, dialect)
        columns.append(column.label(name))
    return columns


def metrics_statement(dialect: str, filters: MetricFilters,
                      after: tuple[datetime, int] | None = None,
                      limit: int | None = None) -> Select:
    """Rows matching `filters` after keyset position `after`, ordered by (timestamp, id).

    Every export output (JSON pages, CSV, NDJSON) is built from this statement's rows:
    `rendered_columns`, (id, timestamp, ..., created_at) with times already ISO 8601 text.
    The time range is half-open, `start <= timestamp < end`, so consecutive ranges never
    export a row twice.
    """
    query = select(*rendered_columns(dialect)).order_by(M.timestamp, M.id)
    if filters.start is not None:
        query = query.where(M.timestamp >= filters.start)
    if filters.end is not None:
        query = query.where(M.timestamp < filters.end)
    if filters.metric_types:
        query = query.where(M.metric_type.in_(filters.metric_types))
    if filters.sources:
        query = query.where(M.source.in_(filters.sources))
    if filters.statuses:
        query = query.where(M.status.in_(filters.statuses))
    if after is not None:
        moment, row_id = after
        # The `>=` prefix lets both databases range-scan the timestamp index.
        query = query.where(M.timestamp >= moment,
                            or_(M.timestamp > moment, and_(M.timestamp == moment, M.id > row_id)))
    if limit is not None:
        query = query.limit(limit)
    return query


def fetch_page(session, filters: MetricFilters, after: tuple[datetime, int] | None,
               limit: int) -> tuple[list[Sequence[Any]], tuple[datetime, int] | None]:
    """Up to `limit` rows and the keyset position of the next page (None when none follows)."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(metrics_statement(dialect, filters, after, limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], (parse_iso(last[1]), last[0])


def stream_rows(db: Database, filters: MetricFilters, after: tuple[datetime, int] | None = None,
                partition: int = STREAM_PARTITION) -> Iterator[Sequence[Sequence[Any]]]:
    """Partitions of every matching row, from a server-side cursor (constant memory).

    On PostgreSQL `stream_results` makes it a named cursor fetched `partition` rows at a time;
    SQLite's cursor steps through the table as rows are asked for.
    """
    with db.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=partition).execute(
            metrics_statement(db.dialect, filters, after))
        yield from result.partitions(partition)

# endregion

# region PostgreSQL CSV through COPY

# Every character Python's str.strip() removes (str.isspace): `_csv_field` quotes a source with
# one at either end, so the SQL rendering trims the very same set.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                 "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
COPY_CHUNK_BYTES = 1 << 16
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_COPY_ESCAPED = re.compile(rb"\\(.)", re.S)


def _pg_csv_source(column):
    """`_csv_field` in SQL: '' for NULL; quoted (quotes doubled) if it holds , " CR LF, is empty,
    or starts/ends with whitespace; else as is."""
    needs_quotes = or_(column.regexp_match('[,"\r\n]'), column == "",
                       func.btrim(column, literal(PY_WHITESPACE, String)) != column)
    return case((column.is_(None), ""),
                (needs_quotes, '"' + func.replace(column, '"', '""') + '"'),
                else_=column)


def _pg_python_float(column):
    """repr() of a float8 in SQL: '' for NULL, shortest round-trip digits (extra_float_digits
    = 1, set for the COPY's transaction), '.0' after integral values as Python writes them."""
    text = cast(column, String)
    return case((column.is_(None), ""), (column == func.trunc(column), text + ".0"),
                else_=text)


def copy_csv_statement(filters: MetricFilters, after: tuple[datetime, int] | None = None,
                       limit: int | None = None) -> Select:
    """`metrics_statement` (same filters, position, order, limit) selecting one column: each
    row's CSV line as `csv_chunks` writes it, without the newline."""
    statement = metrics_statement("postgresql", filters, after, limit)
    c = statement.selected_columns
    fields = [cast(c.id, String), c.timestamp, cast(c.window_seconds, String), c.metric_type,
              _pg_csv_source(c.source), cast(c.geocoding_attempts, String),
              cast(c.geocoding_successes, String), _pg_python_float(c.geocoding_success_rate),
              cast(c.validation_attempts, String), cast(c.validation_passes, String),
              _pg_python_float(c.validation_pass_rate), c.status, c.created_at]
    separated = [part for field in fields for part in (",", field)][1:]
    # concat, not concat_ws: a NULL becomes an empty field rather than vanishing with its comma.
    return statement.with_only_columns(func.concat(*separated).label("line"),
                                       maintain_column_froms=True)


def _compiled_for_psycopg(statement: Select, dialect) -> tuple[str, dict[str, Any]]:
    """SQL text with psycopg placeholders and its parameters (each through its column type's
    bind processing). psycopg binds them into the COPY itself, quoting every value by its type:
    no user input is ever formatted into SQL here."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    processors = compiled._bind_processors  # what SQLAlchemy's own execute applies (UTCDateTime)
    return str(compiled), {name: processors[name](value) if name in processors else value
                           for name, value in params.items()}


def _unescape_copy_text(chunk: bytes) -> bytes:
    """Undo COPY's text-format escapes (backslash, control characters), which only a source
    holding them can produce."""
    if b"\\" not in chunk:
        return chunk
    return _COPY_ESCAPED.sub(lambda match: _COPY_ESCAPES.get(match[1], match[1]), chunk)


def copy_csv_chunks(db: Database, filters: MetricFilters,
                    after: tuple[datetime, int] | None = None, limit: int | None = None,
                    chunk_bytes: int = COPY_CHUNK_BYTES) -> Iterator[bytes]:
    """The CSV of `csv_chunks`, as UTF-8 chunks of about `chunk_bytes`, from PostgreSQL's COPY.

    The connection comes from the app's pool and goes back when the generator ends or is
    closed (a client that hangs up): psycopg then cancels the COPY and drains it, and the pool
    rolls the transaction back (taking the SET LOCALs with it).
    """
    sql, params = _compiled_for_psycopg(copy_csv_statement(filters, after, limit),
                                        db.engine.dialect)
    with db.engine.connect() as connection:
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET LOCAL extra_float_digits = 1")
            cursor.execute("SET LOCAL client_encoding = 'UTF8'")
            with cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
                yield (",".join(COLUMNS) + "\n").encode()
                lines: list = []
                size = 0
                for line in copy:
                    lines.append(line)
                    size += len(line)
                    if size >= chunk_bytes:
                        yield _unescape_copy_text(b"".join(lines))
                        lines, size = [], 0
                if lines:
                    yield _unescape_copy_text(b"".join(lines))

# endregion

# region Cursors


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cursor_key(config: Mapping[str, Any]) -> bytes:
    """CURSOR_SECRET, or else a key derived from the database URL (same for every worker)."""
    secret = config.get("CURSOR_SECRET") or "pipewatch-cursor:" + config["DATABASE_URL"]
    return hashlib.sha256(secret.encode()).digest()


def _filters_digest(filters: MetricFilters) -> str:
    return hashlib.sha256(json.dumps(filters.canonical()).encode()).hexdigest()[:16]


def encode_cursor(position: tuple[datetime, int], filters: MetricFilters, key: bytes) -> str:
    moment, row_id = position
    payload = json.dumps([moment.isoformat(), row_id, _filters_digest(filters)],
                         separators=(",", ":")).encode()
    signature = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def decode_cursor(cursor: str, filters: MetricFilters, key: bytes) -> tuple[datetime, int]:
    """The keyset position in `cursor`; ApiError 400 if forged, damaged or from other filters."""
    try:
        payload_text, signature_text = cursor.split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (ValueError, TypeError):
        raise _bad_cursor("not a cursor this server issued") from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(signature, expected):
        raise _bad_cursor("cursor signature does not match: it was altered or is not ours")
    try:
        moment_text, row_id, digest = json.loads(payload)
        position = parse_iso(moment_text), int(row_id)
    except (ValueError, TypeError, OverflowError):
        raise _bad_cursor("cursor is damaged") from None
    if digest != _filters_digest(filters):
        raise _bad_cursor("cursor belongs to a query with other filters; "
                          "repeat the same filters with it")
    return position


def _bad_cursor(reason: str) -> ApiError:
    return ApiError(400, "invalid cursor", {"problems": [{"path": "cursor", "message": reason}]},
                    code="invalid_cursor")

# endregion

# region Renderers


def row_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A fetched row as the JSON object the API documents (rates always floats: SQLite may
    hand back an integral rate as 1)."""
    item = dict(zip(COLUMNS, row))
    for name in ("geocoding_success_rate", "validation_pass_rate"):
        if item[name] is not None:
            item[name] = float(item[name])
    return item


def csv_chunks(partitions: Iterator[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """A header line, then one chunk of CSV (RFC 4180) per partition.

    Formatted directly, not by csv.writer (2x faster here): only `source` is free text, and it
    is quoted by the RFC's rule, once per distinct name; the other fields are numbers, fixed
    words and ISO times, which never need quotes. Empty field = null.
    """
    yield ",".join(COLUMNS) + "\n"
    quoted: dict[str | None, str] = {None: ""}
    for rows in partitions:
        lines = []
        for (row_id, timestamp, window, metric_type, source, g_att, g_ok, g_rate, v_att, v_ok,
             v_rate, status, created_at) in rows:
            text = quoted.get(source)
            if text is None:
                if len(quoted) > 10_000:  # many distinct names: keep the cache bounded
                    quoted = {None: ""}
                text = quoted[source] = _csv_field(source)
            lines.append(f"{row_id},{timestamp},{window},{metric_type},{text},{g_att},{g_ok},"
                         f"{'' if g_rate is None else repr(g_rate)},{v_att},{v_ok},"
                         f"{'' if v_rate is None else repr(v_rate)},{status},{created_at}\n")
        yield "".join(lines)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n') or value != value.strip() or value == "":
        return '"' + value.replace('"', '""') + '"'
    return value


def ndjson_chunks(partitions: Iterator[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """One JSON object per line (the keys and values of `row_dict`); one chunk per partition.

    Lines are formatted directly rather than through json.dumps of a dict per row (3x faster);
    every text value still goes through json's own string encoder, so any source name is
    escaped exactly as json.dumps would.
    """
    for rows in partitions:
        yield "".join([_ndjson_line(*row) for row in rows])


def _number(value: Any) -> str:
    return "null" if value is None else repr(value)


def _ndjson_line(row_id, timestamp, window, metric_type, source, g_att, g_ok, g_rate, v_att,
                 v_ok, v_rate, status, created_at) -> str:
    return (f'{{"id":{row_id},"timestamp":{_string(timestamp)},"window_seconds":{window},'
            f'"metric_type":{_string(metric_type)},'
            f'"source":{"null" if source is None else _string(source)},'
            f'"geocoding_attempts":{g_att},"geocoding_successes":{g_ok},'
            f'"geocoding_success_rate":{_number(g_rate)},'
            f'"validation_attempts":{v_att},"validation_passes":{v_ok},'
            f'"validation_pass_rate":{_number(v_rate)},"status":{_string(status)},'
            f'"created_at":{_string(created_at)}}}\n')


def _guarded(chunks: Iterator[str | bytes]) -> Iterator[bytes]:
    """Encode chunks; a failure mid-stream is logged (the status line is already sent)."""
    try:
        for chunk in chunks:
            yield chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
    except Exception:  # noqa: BLE001 - nothing else can be told to the client by now
        log.exception("export stream failed part-way; the client got a truncated file")
        raise

# endregion


def list_metrics():
    """Filtered metric rows: a JSON page with a cursor, or the whole range as CSV/NDJSON."""
    runtime = get_runtime()
    config = runtime.config
    try:
        query = parse_export_query(request.args, request.headers.get("Accept"),
                                   default_limit=config["EXPORT_DEFAULT_LIMIT"],
                                   max_limit=config["EXPORT_MAX_LIMIT"])
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    key = cursor_key(config)
    after = decode_cursor(query.cursor, query.filters, key) if query.cursor else None
    if query.format == "json":
        return _json_page(runtime.db, query, after, key)
    return _stream(runtime.db, query, after)


def _json_page(db: Database, query: ExportQuery, after, key: bytes):
    with db.session() as session:
        rows, next_position = fetch_page(session, query.filters, after, query.limit)
    next_cursor = encode_cursor(next_position, query.filters, key) if next_position else None
    next_url = None
    if next_cursor:
        params = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
        next_url = f"{request.path}?{urlencode(params + [('cursor', next_cursor)])}"
    return jsonify({"items": [row_dict(row) for row in rows], "next_cursor": next_cursor,
                    "next_url": next_url, "truncated": next_cursor is not None,
                    "limit": query.limit})


def _stream(db: Database, query: ExportQuery, after) -> Response:
    if query.format == "csv" and db.dialect == "postgresql" and not ROWS_NOT_COPY:
        chunks = copy_csv_chunks(db, query.filters, after, query.limit)
    else:
        partitions = stream_rows(db, query.filters, after)
        if query.limit is not None:
            partitions = _capped(partitions, query.limit)
        chunks = csv_chunks(partitions) if query.format == "csv" else ndjson_chunks(partitions)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    response = Response(_guarded(chunks), mimetype=MEDIA_TYPES[query.format])
    response.headers["Content-Type"] = MEDIA_TYPES[query.format]
    response.headers["Content-Disposition"] = (
        f'attachment; filename="pipewatch-metrics-{stamp}.{query.format}"')
    response.headers["Cache-Control"] = "no-store"
    return response


def _capped(partitions, limit: int):
    """At most `limit` rows; closes the database cursor as soon as they are out."""
    left = limit
    try:
        for rows in partitions:
            yield rows[:left]
            left -= len(rows)
            if left <= 0:
                return
    finally:
        partitions.close()
