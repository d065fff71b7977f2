"""The status vocabulary and the threshold rules every part of the status shares."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

# Worst last: `worst()` picks the highest rank. `pending` (no data yet) ranks below healthy so
# one quiet part never hides a healthy pipeline, but an all-pending pipeline stays pending.
STATUS_RANK = {"pending": 0, "healthy": 1, "warning": 2, "error": 3}
SEVERITIES = ("warning", "error")
"""The statuses that need someone: an alert's or an anomaly's severity is one of these."""


def worst(statuses: Iterable[str]) -> str:
    """The worst status of `statuses`; `pending` when there are none."""
    return max(statuses, key=STATUS_RANK.__getitem__, default="pending")


def rate_status(rate: float | None, config: Mapping[str, Any]) -> str:
    """healthy at or above HEALTHY_RATE, warning at or above WARNING_RATE, else error;
    pending when there is no rate (zero attempts)."""
    if rate is None:
        return "pending"
    if rate >= config["HEALTHY_RATE"]:
        return "healthy"
    if rate >= config["WARNING_RATE"]:
        return "warning"
    return "error"


def quality_status(geocoding_rate: float | None, validation_rate: float | None,
                   config: Mapping[str, Any]) -> str:
    """A metric row's status: the worse of its two rates (pending only if both are missing)."""
    return worst([rate_status(geocoding_rate, config), rate_status(validation_rate, config)])


def staleness_status(age_seconds: float | None, config: Mapping[str, Any]) -> str:
    """A source's status by the age of its last successful scrape (None: never succeeded)."""
    if age_seconds is None or age_seconds >= config["SOURCE_STALE_ERROR_SECONDS"]:
        return "error"
    if age_seconds >= config["SOURCE_STALE_WARNING_SECONDS"]:
        return "warning"
    return "healthy"


def rate(successes: int, attempts: int) -> float | None:
    """successes / attempts, None with no attempts: the same rule as the database's columns."""
    return successes / attempts if attempts > 0 else None
