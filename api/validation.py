"""Validators for the ingest bodies (`POST /api/v1/metrics`, `POST /api/v1/scrape-runs`).

Pure functions (no Flask, no database): data in, either clean values or EVERY problem found,
each as {"path", "message"}. Routes turn problems into one 422; property tests (hypothesis)
drive these functions directly with hostile input. Messages quote at most a short prefix of a
caller's value, so an error never echoes a whole hostile payload back.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from api.storage.models import (METRIC_TYPES, QUALITY_STATUSES, SCRAPE_STATUSES,
                                SOURCE_MAX_LENGTH, SOURCE_PATTERN, SOURCE_RULE)
from api.status.thresholds import quality_status, rate
from api.timeutil import parse_iso

INT32_MAX = 2**31 - 1
MAX_SOURCE_LENGTH = SOURCE_MAX_LENGTH
_SOURCE = re.compile(SOURCE_PATTERN)
MAX_ERROR_LENGTH = 10_000
MAX_WINDOW_SECONDS = 366 * 86400
RATE_TOLERANCE = 1e-9


class Invalid(ValueError):
    """Input that cannot be used; `problems` lists every reason with its field path."""

    def __init__(self, problems: list[dict[str, str]], message: str = "invalid input"):
        super().__init__(message)
        self.problems = problems
        self.message = message


class MalformedJSON(ValueError):
    """The body is not JSON at all (a 400, unlike a JSON body with wrong values: a 422)."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no absurd nesting; MalformedJSON otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJSON("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedJSON("JSON nested too deeply") from None
    except ValueError as exc:
        raise MalformedJSON(f"body is not valid JSON: {str(exc)[:120]}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# region Field checks: each returns (value, problem message or None)

class _Fields:
    """Collects problems while reading one object's fields."""

    def __init__(self, obj: Mapping[str, Any], prefix: str) -> None:
        self.obj = obj
        self.prefix = prefix
        self.problems: list[dict[str, str]] = []

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}" if not self.prefix else f"{self.prefix}.{name}"

    def problem(self, name: str, message: str) -> None:
        self.problems.append({"path": self.path(name), "message": message})

    def unknown(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in self.obj:
            if name not in allowed:
                self.problems.append({"path": self.path(str(name)[:60]),
                                      "message": "unknown field"})

    def get(self, name: str, check: Callable[[Any], Any], *, required: bool = True,
            nullable: bool = False) -> Any:
        if name not in self.obj:
            if required:
                self.problem(name, "required")
            return None
        value = self.obj[name]
        if value is None:
            if not nullable:
                self.problem(name, "must not be null")
            return None
        try:
            return check(value)
        except ValueError as exc:
            self.problem(name, str(exc))
            return None


def check_count(value: Any) -> int:
    """A count: a JSON integer from 0 to 2^31-1 (booleans and 3.0 are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {_short(value)}")
    if value < 0:
        raise ValueError("must not be negative")
    if value > INT32_MAX:
        raise ValueError(f"must be at most {INT32_MAX}")
    return value


def check_text(value: Any, max_length: int, what: str = "text") -> str:
    """Non-blank text without control characters; unicode is welcome, stored as given."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_short(value)}")
    if not value.strip():
        raise ValueError(f"{what} must not be blank")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError(f"{what} must not contain control characters or lone surrogates")
    return value


def check_source_filter(value: Any) -> str:
    """A name to filter reads by (`?source=`): any name a row may hold, since rows written
    before SOURCE_PATTERN (or by the tracker) keep theirs and stay readable."""
    return check_text(value, MAX_SOURCE_LENGTH, "source")


def check_source(value: Any) -> str:
    """A source name to write: `check_source_filter`, and of the SOURCE_PATTERN shape."""
    value = check_source_filter(value)
    if not _SOURCE.fullmatch(value):
        raise ValueError(f"source {SOURCE_RULE}")
    return value


def check_choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value
    return check


EARLIEST_YEAR, LATEST_YEAR = 1970, 9000


def parse_moment(text: str) -> datetime:
    """parse_iso, plus a sane year range (arithmetic near year 1 or 9999 overflows)."""
    try:
        moment = parse_iso(text)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"timestamp out of range (years {EARLIEST_YEAR} to {LATEST_YEAR})")
    return moment


def check_time(now: datetime, max_future: timedelta) -> Callable[[Any], datetime]:
    """ISO 8601 with a zone, and not later than `now + max_future`."""
    def check(value: Any) -> datetime:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 string such as 2026-11-25T21:00:00Z")
        moment = parse_moment(value)
        if moment > now + max_future:
            raise ValueError(f"is in the future (more than {int(max_future.total_seconds())} s "
                             "ahead of the server's clock)")
        return moment
    return check


def check_rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number or null, got {_short(value)}")
    return float(value)

# endregion

# region Ingest bodies

METRIC_FIELDS = ("timestamp", "window_seconds", "metric_type", "source", "geocoding_attempts",
                 "geocoding_successes", "validation_attempts", "validation_passes",
                 "geocoding_success_rate", "validation_pass_rate", "status")
SCRAPE_RUN_FIELDS = ("source", "started_at", "finished_at", "status", "items_found",
                     "items_new", "error")


def _pairs(fields: _Fields, name_pairs: Iterable[tuple[str, str, str]],
           values: dict[str, Any]) -> None:
    """successes <= attempts, and a given rate must equal successes/attempts."""
    for attempts, successes, rate_name in name_pairs:
        a, s = values.get(attempts), values.get(successes)
        if a is None or s is None:
            continue
        if s > a:
            fields.problem(successes, f"must not exceed {attempts}")
            continue
        derived = rate(s, a)
        if rate_name in fields.obj:
            given = fields.get(rate_name, check_rate, required=False, nullable=True)
            if given is None and fields.obj[rate_name] is not None:
                continue  # already reported as not a number
            if (given is None) != (derived is None) or (
                    given is not None and abs(given - derived) > RATE_TOLERANCE):
                fields.problem(rate_name, f"contradicts the counts ({successes}/{attempts} = "
                                          f"{'null' if derived is None else round(derived, 6)}); "
                                          "rates are derived from counts, omit it")


def check_metric(obj: Any, prefix: str, *, now: datetime, max_future: timedelta,
                 config: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """One metric object -> (row values ready to insert, problems)."""
    if not isinstance(obj, dict):
        return None, [{"path": prefix or "$", "message": "must be a JSON object"}]
    fields = _Fields(obj, prefix)
    fields.unknown(METRIC_FIELDS)
    values = {
        "timestamp": fields.get("timestamp", check_time(now, max_future)),
        "window_seconds": fields.get("window_seconds", check_count),
        "metric_type": fields.get("metric_type", check_choice(METRIC_TYPES)),
        "source": fields.get("source", check_source, required=False, nullable=True),
    }
    for name in ("geocoding_attempts", "geocoding_successes", "validation_attempts",
                 "validation_passes"):
        values[name] = fields.get(name, check_count)
    window = values["window_seconds"]
    if window is not None and not 0 < window <= MAX_WINDOW_SECONDS:
        fields.problem("window_seconds", f"must be between 1 and {MAX_WINDOW_SECONDS}")
    if values["metric_type"] == "hourly" and window not in (None, 3600):
        fields.problem("window_seconds", "an hourly row covers one hour: 3600")
    if values["metric_type"] == "aggregate" and values["source"] is not None:
        fields.problem("source", "an aggregate row covers all sources: must be null")
    if values["metric_type"] == "source" and obj.get("source") is None:
        fields.problem("source", "a source row names its source")
    _pairs(fields, (("geocoding_attempts", "geocoding_successes", "geocoding_success_rate"),
                    ("validation_attempts", "validation_passes", "validation_pass_rate")), values)
    if fields.problems:
        return None, fields.problems
    status = quality_status(rate(values["geocoding_successes"], values["geocoding_attempts"]),
                            rate(values["validation_passes"], values["validation_attempts"]),
                            config)
    given = fields.get("status", check_choice(QUALITY_STATUSES), required=False)
    if "status" in obj and given is not None and given != status:
        fields.problem("status", f"contradicts the counts (they give {status}); omit it")
    values["status"] = status
    return (None, fields.problems) if fields.problems else (values, [])


def check_scrape_run(obj: Any, prefix: str, *, now: datetime, max_future: timedelta,
                     config: Mapping[str, Any] | None = None
                     ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """One scrape-run object -> (row values ready to insert, problems)."""
    if not isinstance(obj, dict):
        return None, [{"path": prefix or "$", "message": "must be a JSON object"}]
    fields = _Fields(obj, prefix)
    fields.unknown(SCRAPE_RUN_FIELDS)
    when = check_time(now, max_future)
    values = {
        "source": fields.get("source", check_source),
        "started_at": fields.get("started_at", when),
        "finished_at": fields.get("finished_at", when, required=False, nullable=True),
        "status": fields.get("status", check_choice(SCRAPE_STATUSES)),
        "items_found": fields.get("items_found", check_count),
        "items_new": fields.get("items_new", check_count),
        "error": fields.get("error", lambda v: check_text(v, MAX_ERROR_LENGTH, "error"),
                            required=False, nullable=True),
    }
    started, finished = values["started_at"], values["finished_at"]
    if started is not None and finished is not None and finished < started:
        fields.problem("finished_at", "must not be before started_at")
    found, new = values["items_found"], values["items_new"]
    if found is not None and new is not None and new > found:
        fields.problem("items_new", "must not exceed items_found")
    return (None, fields.problems) if fields.problems else (values, [])


def check_body(body: Any, check_one: Callable[..., tuple[dict | None, list]], *,
               max_items: int, **kwargs: Any) -> tuple[list[dict[str, Any]], bool]:
    """A body of one object or a non-empty list of them -> (rows, was_list); Invalid otherwise.

    Every item is checked and every problem reported, so a caller fixes a batch in one go.
    """
    was_list = isinstance(body, list)
    items = body if was_list else [body]
    if was_list and not items:
        raise Invalid([{"path": "$", "message": "must not be an empty list"}])
    if len(items) > max_items:
        raise Invalid([{"path": "$", "message": f"at most {max_items} items per request"}])
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    for index, item in enumerate(items):
        row, found = check_one(item, f"[{index}]" if was_list else "", **kwargs)
        problems.extend(found)
        if row is not None:
            rows.append(row)
    if problems:
        raise Invalid(problems, f"{len(problems)} problem(s) in the body; nothing was written")
    return rows, was_list

# endregion
