"""The shape of a stored row as every output shows it: shared by the write path and the read path.

Ingest's INSERT ... RETURNING and the export's SELECT render the same columns the same way, so
a 201 shows each row exactly as `GET /api/v1/metrics` will. Both import this module; neither
imports the other.
"""
from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import String, case, func, type_coerce

from api.storage.models import RATES
from api.storage.models import DataQualityMetric as M
from api.timeutil import isoformat

COLUMNS = ("id", "timestamp", "window_seconds", "metric_type", "source",
           *(name for rate_name, (successes, attempts) in RATES.items()
             for name in (attempts, successes, rate_name)),
           "status", "created_at")
"""A metric row's columns as every output lists them; each rate follows its two counts.
(The CSV, NDJSON and COPY renderers spell this order out positionally, for speed; the export
tests hold them to it byte for byte.)"""

SCRAPE_RUN_COLUMNS = ("id", "source", "started_at", "finished_at", "status", "items_found",
                      "items_new", "error")


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


def row_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A fetched row as the JSON object the API documents (rates always floats: SQLite may
    hand back an integral rate as 1)."""
    item = dict(zip(COLUMNS, row))
    for name in RATES:
        if item[name] is not None:
            item[name] = float(item[name])
    return item


def scrape_run_dict(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(SCRAPE_RUN_COLUMNS, row))
    item["started_at"] = isoformat(item["started_at"])
    item["finished_at"] = isoformat(item["finished_at"])
    return item
