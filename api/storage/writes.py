"""The SQL of the write path: multi-row INSERTs and the stored answers to Idempotency-Keys.

One multi-row INSERT ... RETURNING per request, in the caller's transaction, rows returned in
the body's order and rendered as the export renders them (api/storage/rows.py). Statements are
built once: they run on every write, before the live push is told.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import delete, insert

from api.storage.models import DataQualityMetric, IdempotencyKey, ScrapeRun
from api.storage.rows import SCRAPE_RUN_COLUMNS, rendered_columns, row_dict, scrape_run_dict
from api.timeutil import utcnow


@cache
def _insert_metrics_statement(dialect: str):
    return insert(DataQualityMetric.__table__).returning(*rendered_columns(dialect),
                                                         sort_by_parameter_order=True)


@cache
def _insert_scrape_runs_statement():
    runs = ScrapeRun.__table__
    return insert(runs).returning(*(runs.c[name] for name in SCRAPE_RUN_COLUMNS),
                                  sort_by_parameter_order=True)


def insert_metrics(session, rows: list[dict]) -> list[dict]:
    """Insert, returning each row as the export renders it: the 201 shows each row exactly as
    GET /api/v1/metrics will (database-derived rates included), without reading it back."""
    created = utcnow()
    statement = _insert_metrics_statement(session.get_bind().dialect.name)
    return [row_dict(row) for row in session.execute(
        statement, [{**row, "created_at": created} for row in rows])]


def insert_scrape_runs(session, rows: list[dict]) -> list[dict]:
    return [scrape_run_dict(row)
            for row in session.execute(_insert_scrape_runs_statement(), rows)]


def stored_answer(session, key: str) -> IdempotencyKey | None:
    """The stored first answer to an Idempotency-Key (its sha256), or None."""
    return session.get(IdempotencyKey, key)


def remember_answer(session, *, key: str, request_hash: str, payload: str, cutoff: datetime) -> None:
    """Store the 201 `payload` under `key` in the caller's transaction (with the rows it
    announces), forgetting keys older than `cutoff` on the way."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.add(IdempotencyKey(key=key, request_hash=request_hash, status_code=201,
                               response=payload, created_at=utcnow()))
