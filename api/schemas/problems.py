"""What a refused request is told: every problem found, each as {"path", "message"}.

Routes turn `Invalid` into one 422 (`details.problems`). A message quotes at most a short prefix
of what the caller sent (`fields.short`), so an error never echoes a hostile payload back.
"""
from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    path: str
    message: str


class Invalid(ValueError):
    """Input that cannot be used; `problems` lists every reason with its field path."""

    def __init__(self, problems: list[Problem], message: str = "invalid input"):
        super().__init__(message)
        self.problems = problems
        self.message = message


def item_path(prefix: str, name: str) -> str:
    """`name` inside the item at `prefix` (`[2]` in a list body, "" for a lone object)."""
    return f"{prefix}.{name}" if prefix else name
