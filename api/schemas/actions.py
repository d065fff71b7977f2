"""The bodies operators send to act on alerts: `AckInput` (`POST /api/v1/alerts/{id}/ack`).

Checked like the ingest bodies: unknown fields refused, every problem listed at once in the
words of api.schemas.ingest.problems_of, the input never echoed back.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from api.schemas.ingest import problems_of
from api.schemas.problems import Invalid

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
