"""The bodies operators send to act on alerts: `AckInput` (`POST /api/v1/alerts/{id}/ack`)
and `SilenceInput` (`POST /api/v1/silences`).

Checked like the ingest bodies: unknown fields refused, every problem listed at once in the
words of api.schemas.ingest.problems_of, the input never echoed back.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Mapping, Optional

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints,
                      ValidationError)

from api.schemas.fields import MAX_SOURCE_LENGTH, TIME_EXAMPLE, check_source, parse_moment
from api.schemas.ingest import IngestContext, InputModel, problems_of
from api.schemas.problems import Invalid
from api.status.alerts import KINDS as ALERT_KINDS

MAX_ACK_BY_LENGTH = 100
"""Who acknowledged: a name or handle (the `ack_by` column's width)."""
MAX_ACK_NOTE_LENGTH = 1000


class AckInput(BaseModel):
    """Someone is on it: who, and optionally why or what they are doing."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, strict=True)

    by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=MAX_ACK_BY_LENGTH)]
    """Who acknowledges (shown on every page)."""
    note: Annotated[str, StringConstraints(strip_whitespace=True,
                                           max_length=MAX_ACK_NOTE_LENGTH)] = Field(default="")
    """Why, or what they are doing about it."""


def checked_ack(body: Any) -> AckInput:
    """The body as an AckInput; Invalid listing every problem otherwise."""
    if not isinstance(body, dict):
        raise Invalid([{"path": "$", "message": "must be a JSON object"}])
    try:
        return AckInput.model_validate(body)
    except ValidationError as exc:
        problems = problems_of(exc)
        raise Invalid(problems, f"{len(problems)} problem(s) in the body; nothing was written"
                      ) from None


# region Silences

MAX_SILENCE_BY_LENGTH = 100
"""Who silences (the `created_by` column's width)."""
MAX_SILENCE_COMMENT_LENGTH = 1000
MAX_MATCHER_KEY_LENGTH = 200
"""An alert key's column width (alert_occurrences.key)."""


def _moment(value: Any) -> Any:
    """An ISO 8601 string with a zone (naive refused), in the years the API accepts."""
    if value is None:
        raise ValueError("must not be null")
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string such as {TIME_EXAMPLE}")
    return parse_moment(value)


def _nullable(rule) -> BeforeValidator:
    """`rule` on the raw JSON value; null passes as None (an unset matcher or start)."""
    return BeforeValidator(lambda value: None if value is None else rule(value))


TIME_TEXT = f"ISO 8601 with a zone, such as {TIME_EXAMPLE} (naive times are refused)."
SilenceTime = Annotated[datetime, BeforeValidator(_moment), Field(description=TIME_TEXT)]
OptionalSilenceTime = Annotated[Optional[datetime], _nullable(_moment),
                                Field(description=TIME_TEXT)]


class SilenceMatchers(InputModel):
    """Which alerts a silence covers: those equal to every matcher set (at least one)."""

    source: Annotated[Optional[str], Field(min_length=1, max_length=MAX_SOURCE_LENGTH),
                      _nullable(check_source)] = None
    """The alert's source (alerts about all sources have none, and never match this)."""
    kind: Optional[Literal[ALERT_KINDS]] = None
    """The alert's kind: the first part of its key (`quality`, `source_stale`, ...)."""
    key: Annotated[Optional[str], StringConstraints(min_length=1,
                                                    max_length=MAX_MATCHER_KEY_LENGTH)] = None
    """One alert's key exactly (`quality:geocoding_success_rate`)."""


class SilenceInput(InputModel):
    """Silence matching alerts from `starts_at` (default: now) until `ends_at`: they stay
    listed, marked silenced; their lifecycle and history do not change."""

    matchers: SilenceMatchers
    starts_at: OptionalSilenceTime = None
    """When it starts; omitted or null: now."""
    ends_at: SilenceTime
    """When it ends: after `starts_at`, and in the future."""
    created_by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=MAX_SILENCE_BY_LENGTH)]
    """Who silences (shown on every page)."""
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=MAX_SILENCE_COMMENT_LENGTH)]
    """Why: the planned outage, the ticket."""

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        """At least one matcher; `ends_at` in the future and after `starts_at`."""
        broken = []
        matchers = values.get("matchers")
        if isinstance(matchers, SilenceMatchers) and not any(
                getattr(matchers, name) is not None for name in SilenceMatchers.model_fields):
            broken.append(("matchers", "set at least one of source, kind, key"))
        ends = values.get("ends_at")
        if ends is None:  # missing or invalid: its own problem says so
            return broken
        starts = values.get("starts_at")
        if ends <= context.now:
            broken.append(("ends_at", "must be in the future"))
        elif starts is not None and ends <= starts:
            broken.append(("ends_at", "must be after starts_at"))
        return broken


def checked_silence(body: Any, config: Mapping[str, Any], now: datetime) -> SilenceInput:
    """The body as a SilenceInput judged at `now`; Invalid listing every problem otherwise."""
    if not isinstance(body, dict):
        raise Invalid([{"path": "$", "message": "must be a JSON object"}])
    try:
        return SilenceInput.model_validate(body, context=IngestContext.of(config, now))
    except ValidationError as exc:
        problems = problems_of(exc, depth=2)
        raise Invalid(problems, f"{len(problems)} problem(s) in the body; nothing was written"
                      ) from None

# endregion
