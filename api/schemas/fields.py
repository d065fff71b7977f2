"""The rules of one value a caller sends, with the messages the caller reads.

Each rule takes the raw JSON value and returns the clean one, or raises ValueError with a
message written for the caller. The pydantic input models (`api.schemas.ingest`) apply them,
and the query-string parsers reuse the same ones, so a source name or a time means the same
thing, and is refused with the same words, everywhere. A message quotes at most a short prefix
of the value (`short`): an error never echoes a hostile payload back.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from api.timeutil import parse_iso

INT32_MAX = 2**31 - 1
"""The largest count: the database's INTEGER columns hold no more."""
MAX_SOURCE_LENGTH = 100
"""The `source` columns are VARCHAR(100)."""
MAX_ERROR_LENGTH = 10_000
"""A scrape run's error text beyond this is a log, not a message."""
MAX_WINDOW_SECONDS = 366 * 86400
"""A metric row covers at most a (leap) year."""
HOUR_SECONDS = 3600
"""An `hourly` metric row covers one clock hour."""
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000
"""Times outside these years are refused: arithmetic near year 1 or 9999 overflows."""
TIME_EXAMPLE = "2026-11-25T21:00:00Z"


def short(value: Any) -> str:
    """`repr(value)`, cut to 40 characters: enough to recognise, never the whole payload."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_count(value: Any) -> int:
    """A count: a JSON integer from 0 to INT32_MAX (booleans and 3.0 are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {short(value)}")
    if value < 0:
        raise ValueError("must not be negative")
    if value > INT32_MAX:
        raise ValueError(f"must be at most {INT32_MAX}")
    return value


def check_text(value: Any, max_length: int, what: str = "text") -> str:
    """Non-blank text without control characters; unicode is welcome, stored as given."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {short(value)}")
    if not value.strip():
        raise ValueError(f"{what} must not be blank")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError(f"{what} must not contain control characters or lone surrogates")
    return value


def check_source(value: Any) -> str:
    """A source name: non-blank text of at most MAX_SOURCE_LENGTH characters."""
    return check_text(value, MAX_SOURCE_LENGTH, "source")


def check_error_text(value: Any) -> str:
    """A scrape run's error: non-blank text of at most MAX_ERROR_LENGTH characters."""
    return check_text(value, MAX_ERROR_LENGTH, "error")


def check_choice(choices: Sequence[str]) -> Callable[[Any], str]:
    """One of `choices` (an enum such as api.storage.models.METRIC_TYPES)."""
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value
    return check


def parse_moment(text: str) -> datetime:
    """timeutil.parse_iso, plus a sane year range (EARLIEST_YEAR to LATEST_YEAR)."""
    try:
        moment = parse_iso(text)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"timestamp out of range (years {EARLIEST_YEAR} to {LATEST_YEAR})")
    return moment


def check_time(value: Any, now: datetime, max_future: timedelta) -> datetime:
    """An ISO 8601 string with a zone, no later than `now + max_future` (clocks drift a little,
    a row from the future is a bug in its writer)."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string such as {TIME_EXAMPLE}")
    moment = parse_moment(value)
    if moment > now + max_future:
        raise ValueError(f"is in the future (more than {int(max_future.total_seconds())} s "
                         "ahead of the server's clock)")
    return moment


def check_rate(value: Any) -> float:
    """A finite JSON number (a rate a caller repeats; whether it is right is the counts' call)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number or null, got {short(value)}")
    return float(value)
