"""What a refused request is told: every problem found, each as {"path", "message"}.

`Problem` is the one definition of that shape: the code builds them, and the error document
(api.schemas.documents.ErrorDetails) and so the OpenAPI document describe them with it. Routes
turn `Invalid` into one 422 (`details.problems`). A message quotes at most a short prefix of
what the caller sent (`fields.short`), so an error never echoes a hostile payload back.
"""
from __future__ import annotations

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict


@with_config(ConfigDict(extra="forbid", use_attribute_docstrings=True))
class Problem(TypedDict):
    """One thing wrong with a request."""

    path: str
    """Where: a field (`timestamp`, `[2].source` in a list body), a query parameter, or `$`
    for the whole body."""
    message: str
    """What is wrong, for the caller; never an echo of what was sent."""


class Invalid(ValueError):
    """Input that cannot be used; `problems` lists every reason with its field path."""

    def __init__(self, problems: list[Problem], message: str = "invalid input"):
        super().__init__(message)
        self.problems = problems
        self.message = message


def item_path(prefix: str, name: str) -> str:
    """`name` inside the item at `prefix` (`[2]` in a list body, "" for a lone object)."""
    return f"{prefix}.{name}" if prefix else name
