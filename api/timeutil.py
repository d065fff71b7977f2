"""UTC time in and out: every timestamp pipewatch accepts or emits is ISO 8601 UTC with `Z`."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC = timezone.utc


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """`2026-11-25T21:05:00Z` (microseconds kept only when present); None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pipewatch only handles timezone-aware UTC times")
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time that names its zone; naive times are rejected, never guessed."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an ISO 8601 timestamp such as 2026-11-25T21:05:00Z")
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {text[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError("timestamp has no zone: add Z (UTC) or an offset such as +01:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
        raise ValueError(f"timestamp out of range: {text[:40]!r}") from None


def age_seconds(text: object, now: datetime | None = None) -> float | None:
    """Seconds from the ISO time `text` to `now`; None when `text` is not such a time (it may
    come from a client: never an error)."""
    try:
        moment = parse_iso(text)  # type: ignore[arg-type]
    except ValueError:
        return None
    return ((now or utcnow()) - moment).total_seconds()


def floor_time(moment: datetime, seconds: int) -> datetime:
    """The start of the `seconds`-long slot (aligned to the Unix epoch) holding `moment`."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
