"""The expected band beside a trend: what each hourly point of a source's series was expected
to be, and the range that would not have been an anomaly.

Each point of an hour-bucketed, per-source series gets `expected` (the seasonal slot's median),
`lower` and `upper` (api.status.anomalies.band: where the robust score reaches
ANOMALY_THRESHOLD, with the same floors), from the very model that judged that hour's
anomalies (api/status/seasonal.py: the model of the hour's day). The fields are null where no
band applies: day buckets (a day mixes slots), the all-sources trace (anomalies are judged per
source), ANOMALY_SEASONALITY=none, too little history, or a range longer than BAND_MAX_DAYS
(one model per source and day is trained for the range: a month of them would cost more than
the chart).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy.orm import Session

from api.status import seasonal
from api.status.anomalies import band, train_models
from api.timeutil import HOUR

BAND_FIELDS = ("expected", "lower", "upper")
BAND_MAX_DAYS = 14
"""Longer hour-bucketed ranges carry no band (null fields)."""


def with_band(session: Session, config: Mapping[str, Any], rows: Sequence[dict[str, Any]],
              metric: str) -> list[dict[str, Any]]:
    """`rows` (api.status.series.fetch_series) with BAND_FIELDS added to each (null if none)."""
    rows = [{**row, **dict.fromkeys(BAND_FIELDS)} for row in rows]
    judged = [row for row in rows if row["bucket"] == "hour" and row["source"] is not None]
    if not judged or config["ANOMALY_SEASONALITY"] == "none":
        return rows
    ends = [row["bucket_start"] + HOUR for row in judged]
    if max(ends) - min(ends) > timedelta(days=BAND_MAX_DAYS):
        return rows
    days = sorted({seasonal.day_of(end) for end in ends})
    models = train_models(session, config, days, {row["source"] for row in judged}, (metric,))
    for row, end in zip(judged, ends):
        model = models.get(row["source"], {}).get(seasonal.day_of(end))
        if model is None:
            continue
        found = band(model[metric], end, row["attempts"], config)
        if found is not None:
            row.update({name: round(found[name], 4) for name in BAND_FIELDS})
    return rows
