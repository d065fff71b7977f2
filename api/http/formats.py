"""Metric rows as CSV (RFC 4180) and NDJSON text, streamed partition by partition.

Both take the partitions of api/storage/export.py (rows in the column order of
api/storage/rows.COLUMNS) and only shape them: no query, no decision.
"""
from __future__ import annotations

import logging
from json.encoder import encode_basestring as _string
from typing import Any, Iterator, Sequence

from api.csvcell import csv_text
from api.storage.rows import COLUMNS

log = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def csv_chunks(partitions: Iterator[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """A header line, then one chunk of CSV (RFC 4180) per partition.

    Formatted directly, not by csv.writer (2x faster here): only `source` is free text, and it
    goes through `csv_text` (RFC 4180 quoting, formulas escaped), once per distinct name; the
    other fields are non-negative numbers, fixed words and ISO times, which never need quotes
    and never begin like a formula. Empty field = null.
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
                text = quoted[source] = csv_text(source)
            lines.append(f"{row_id},{timestamp},{window},{metric_type},{text},{g_att},{g_ok},"
                         f"{'' if g_rate is None else repr(g_rate)},{v_att},{v_ok},"
                         f"{'' if v_rate is None else repr(v_rate)},{status},{created_at}\n")
        yield "".join(lines)


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


def encoded(chunks: Iterator[str | bytes]) -> Iterator[bytes]:
    """Encode chunks; a failure mid-stream is logged (the status line is already sent)."""
    try:
        for chunk in chunks:
            yield chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
    except Exception:  # noqa: BLE001 - nothing else can be told to the client by now
        log.exception("export stream failed part-way; the client got a truncated file")
        raise


def capped(partitions, limit: int):
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
