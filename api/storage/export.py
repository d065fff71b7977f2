"""The metric rows `GET /api/v1/metrics` reads: one statement for every format, streaming, COPY.

One fetch (`metrics_statement`: filters + keyset position, ordered by (timestamp, id)) feeds
every format; the renderers (api/http/formats.py) only shape rows. A keyset position names the
last row's (timestamp, id), so walking pages yields every row that existed when the walk
started exactly once, however many rows arrive meanwhile. CSV and NDJSON stream the whole
filtered range from a server-side cursor (`stream_rows`, fetched in partitions), so memory
stays flat at any size; on PostgreSQL the CSV comes straight from COPY (`copy_csv_chunks`),
byte-identical to the generic path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence

from sqlalchemy import Select, String, case, cast, func, literal, or_, select

from api.csvcell import FORMULA_PREFIXES
from api.storage.db import Database
from api.storage.models import DataQualityMetric as M
from api.storage.models import after_position
from api.storage.rows import COLUMNS, rendered_columns
from api.timeutil import parse_iso

STREAM_PARTITION = 5000


@dataclass(frozen=True)
class MetricFilters:
    """The filters of `GET /api/v1/metrics` (range `start <= timestamp < end`); `canonical()`
    binds a cursor to them."""

    start: datetime | None = None
    end: datetime | None = None
    metric_types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def canonical(self) -> list[Any]:
        return [self.start.isoformat() if self.start else None,
                self.end.isoformat() if self.end else None,
                sorted(self.metric_types), sorted(self.sources), sorted(self.statuses)]


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
        query = query.where(after_position(M.timestamp, M.id, after))
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


# PostgreSQL CSV through COPY


# Every character Python's str.strip() removes (str.isspace): `csv_text` quotes a source with
# one at either end, so the SQL rendering trims the very same set.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                 "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")

COPY_CHUNK_BYTES = 1 << 16

_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}

_COPY_ESCAPED = re.compile(rb"\\(.)", re.S)


def _pg_csv_source(column):
    """api/csvcell.py `csv_text` in SQL: '' for NULL; a formula-like start (FORMULA_PREFIXES)
    prefixed with ' and quoted; else quoted (quotes doubled) if it holds , " CR LF, is empty,
    or starts/ends with whitespace; else as is."""
    doubled = func.replace(column, '"', '""')
    formula = func.substr(column, 1, 1).in_(FORMULA_PREFIXES)
    needs_quotes = or_(column.regexp_match('[,"\r\n]'), column == "",
                       func.btrim(column, literal(PY_WHITESPACE, String)) != column)
    return case((column.is_(None), ""),
                (formula, "\"'" + doubled + '"'),
                (needs_quotes, '"' + doubled + '"'),
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
            # One COPY streams the whole export, at the pace of the client reading it: no
            # PG_STATEMENT_TIMEOUT_SECONDS for it (a client that goes away ends it instead).
            cursor.execute("SET LOCAL statement_timeout = 0")
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
