"""The aggregated time series behind the trend charts and `GET /api/v1/metrics/series`.

One query, shared by the dashboard and the REST route, so a chart and a download never
disagree. It reads only `hourly` metric rows (one per closed clock hour, per source and for all
sources) and aggregates them IN SQL into hour or day buckets: the database returns at most one
row per bucket and trace, never the raw rows. Rates are weighted properly: a bucket's rate is
the sum of its successes over the sum of its attempts, never a mean of hourly rates.

A row's bucket is the bucket holding the START of the window it covers (an hourly row stamped
10:00 covers 09:00-10:00 and lands in the 09:00 hour, and in that day). Rows are selected by
their window's end: `start < timestamp <= end`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from api.storage.models import COUNTS, RATES
from api.storage.models import DataQualityMetric as M
from api.status.rules import scoped
from api.status.thresholds import rate, rate_status
from api.timeutil import UTC

METRICS = (*RATES, "volume")
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_POINTS = 2000
"""No trace carries more points than this (a chart cannot show more, and must not load more)."""


class SeriesError(ValueError):
    """The request cannot be answered as asked (bad metric, bucket or range): a 422."""


def choose_bucket(start: datetime, end: datetime, bucket: str | None = None,
                  max_points: int = MAX_POINTS) -> str:
    """`bucket` if given and small enough; otherwise the finest that keeps ≤ max_points."""
    if end <= start:
        raise SeriesError("end must be after start")
    if bucket is not None and bucket not in BUCKETS:
        raise SeriesError(f"bucket must be one of {', '.join(BUCKETS)} (or omitted for auto)")
    candidates = [bucket] if bucket else list(BUCKETS)
    for name in candidates:
        if (end - start) / BUCKETS[name] <= max_points:
            return name
    raise SeriesError(
        f"range too long: more than {max_points} {candidates[-1]} buckets per trace; "
        "shorten it" + ("" if bucket is None or bucket == "day" else " or use bucket=day"))


def fetch_series(session: Session, *, metric: str, start: datetime, end: datetime,
                 sources: Iterable[str] | None = None, bucket: str | None = None,
                 config: Mapping[str, Any] | None = None,
                 max_points: int = MAX_POINTS) -> list[dict[str, Any]]:
    """Aggregated buckets of `metric` between `start` and `end` (aware datetimes).

    `sources=None` gives the all-sources trace (rows with source None); a list of names gives
    one trace per listed source. `bucket` is "hour", "day", or None to pick the finest that
    keeps every trace at or under `max_points`. Each row:
    {bucket_start (aware UTC), bucket, source, metric, attempts, successes, rate, volume,
    value (the rate, or the volume for metric="volume"), status (with `config`, judged by the
    source's own rule when `config` carries the stored rules; else None),
    hours (hourly rows summed), then each count of api.storage.models.COUNTS}. Ordered by
    source (all-sources first), then time. Buckets with no data are absent, so a chart shows
    a gap rather than a line across missing hours.
    `volume` is the number of events that reached geocoding in the bucket.
    """
    if metric not in METRICS:
        raise SeriesError(f"metric must be one of {', '.join(METRICS)}")
    for moment in (start, end):
        if moment.tzinfo is None:
            raise SeriesError("start and end must carry a zone (naive times are not guessed)")
    chosen = choose_bucket(start, end, bucket, max_points)
    wanted = None if sources is None else sorted(set(sources))
    dialect = session.get_bind().dialect.name
    bucket_expr = _bucket_expression(dialect, chosen).label("bucket_start")
    query = (
        select(bucket_expr, M.source, *(func.sum(getattr(M, name)) for name in COUNTS),
               func.count())
        .where(M.metric_type == "hourly", M.timestamp > start, M.timestamp <= end)
        .group_by(M.source, bucket_expr)
        .order_by(M.source.asc().nulls_first(), bucket_expr)
    )
    if wanted is None:
        query = query.where(M.source.is_(None))
    elif not wanted:
        return []
    else:
        query = query.where(M.source.in_(wanted))
    starts: dict[Any, datetime] = {}  # traces share their buckets: parse each label once
    result = []
    for values in session.execute(query):
        label = values[0]
        start_of = starts.get(label)
        if start_of is None:
            start_of = starts[label] = _as_utc(label)
        result.append(_row(start_of, values, metric, chosen, config))
    return result


def _bucket_expression(dialect: str, bucket: str):
    """SQL for the start of the bucket holding each row's window start, in UTC."""
    if dialect == "sqlite":
        # SQLite stores these columns as naive UTC text; strftime shifts and truncates it.
        pattern = "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00"
        shift = literal("-") + cast(M.window_seconds, String) + literal(" seconds")
        return func.strftime(pattern, M.timestamp, shift)
    if dialect == "postgresql":
        # AT TIME ZONE 'UTC' first: date_trunc on timestamptz would truncate in the session's zone.
        window_start = M.timestamp - M.window_seconds * literal(timedelta(seconds=1))
        return func.date_trunc(bucket, func.timezone("UTC", window_start))
    raise SeriesError(f"series are not supported on the {dialect} dialect")


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(bucket_start: datetime, values: Sequence[Any], metric: str, bucket: str,
         config: Mapping[str, Any] | None) -> dict[str, Any]:
    _, source, *sums, hours = values
    counts = {name: int(total or 0) for name, total in zip(COUNTS, sums, strict=True)}
    volume = counts["geocoding_attempts"]  # the events that reached geocoding
    # a rate's own counts; volume's attempts and successes are geocoding's, as it counts those
    successes_name, attempts_name = RATES.get(metric, RATES["geocoding_success_rate"])
    successes, attempts = counts[successes_name], counts[attempts_name]
    value_rate = rate(successes, attempts) if metric != "volume" else None
    return {
        "bucket_start": bucket_start,
        "bucket": bucket,
        "source": source,
        "metric": metric,
        "attempts": attempts,
        "successes": successes,
        "rate": value_rate,
        "volume": volume,
        "value": volume if metric == "volume" else value_rate,
        "status": (rate_status(value_rate, scoped(config, source, "quality"))
                   if config is not None and metric != "volume" else None),
        "hours": int(hours),
        **counts,
    }
