"""Helpers shared by the export, series, ingest and hostile-input tests: metric rows on demand."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from api.storage.db import Database
from api.storage.models import DataQualityMetric
from api.status.thresholds import quality_status, rate
from api.timeutil import UTC

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOKEN = "test-ingest-token-0123456789"
THRESHOLDS = {"HEALTHY_RATE": 0.90, "WARNING_RATE": 0.75}


def metric(timestamp: datetime, *, source: str | None = None, metric_type: str = "hourly",
           window_seconds: int = 3600, geo: tuple[int, int] = (10, 9),
           val: tuple[int, int] = (10, 10)) -> DataQualityMetric:
    """One metric row; `geo`/`val` are (attempts, successes); status derived like a writer's."""
    status = quality_status(rate(geo[1], geo[0]), rate(val[1], val[0]), THRESHOLDS)
    return DataQualityMetric(
        timestamp=timestamp, window_seconds=window_seconds, metric_type=metric_type,
        source=source, geocoding_attempts=geo[0], geocoding_successes=geo[1],
        validation_attempts=val[0], validation_passes=val[1], status=status,
        created_at=timestamp)


def add(db: Database, rows: Iterable[DataQualityMetric]) -> list[int]:
    """Insert `rows` in one transaction; their ids."""
    rows = list(rows)
    with db.session() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def count_metrics(db: Database) -> int:
    from sqlalchemy import func, select

    with db.session() as session:
        return session.scalar(select(func.count()).select_from(DataQualityMetric))


def hours(n: int, start: datetime = T0) -> list[datetime]:
    """The ends of `n` consecutive hours after `start`."""
    return [start + timedelta(hours=i + 1) for i in range(n)]


def auth(token: str = TOKEN) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
