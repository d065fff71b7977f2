"""The bodies writers send: `MetricInput` (`POST /api/v1/metrics`) and `ScrapeRunInput`
(`POST /api/v1/scrape-runs`), and `check_body`, which validates a body of one or many.

A field's rule lives in api.schemas.fields (with the message the caller reads); here each field
states its rule and its JSON Schema keywords from the same constants, so the OpenAPI document
says what the rule enforces without retyping a limit. The rules between fields (an hourly row
covers 3600 s, successes never exceed attempts, a given rate or status must agree with the
counts, a run does not finish before it starts) are each model's `relations`.

Every problem is reported at once: a body's items are all checked, and within an item the
relations are checked on every field that passed its own rule even when another field failed
(pydantic alone would stop at the field errors), so a writer fixes a batch in one go. Messages
never echo the payload: pydantic's `input` is never read, and the rules quote at most a prefix.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, Callable, Literal, Mapping, Optional, TypeVar

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter,
                      ValidationError, ValidationInfo, model_validator)
from pydantic.json_schema import SkipJsonSchema

from api.schemas.fields import (HOUR_SECONDS, INT32_MAX, MAX_ERROR_LENGTH, MAX_SOURCE_LENGTH,
                                MAX_WINDOW_SECONDS, TIME_EXAMPLE, check_choice, check_count,
                                check_error_text, check_rate, check_source, check_time)
from api.schemas.problems import Invalid, Problem, item_path
from api.settings import SETTINGS
from api.status.thresholds import quality_status, rate
from api.storage.models import METRIC_TYPES, QUALITY_STATUSES, RATES, SCRAPE_STATUSES
from api.timeutil import utcnow

RATE_TOLERANCE = 1e-9
"""A rate a writer repeats may differ from successes/attempts by float rounding, no more."""
UNKNOWN_FIELD_PREFIX = 60
"""An unknown field is named by at most this many characters of its name."""


@dataclass(frozen=True)
class IngestContext:
    """What the rules need beyond the body: the server's clock and settings."""

    now: datetime
    max_future: timedelta
    config: Mapping[str, Any]

    @classmethod
    def of(cls, config: Mapping[str, Any], now: datetime | None = None) -> "IngestContext":
        """The context of a request to an app with `config`, at `now` (default: now)."""
        return cls(now=now or utcnow(),
                   max_future=timedelta(seconds=config["INGEST_MAX_FUTURE_SECONDS"]),
                   config=config)


def _context(info: ValidationInfo) -> IngestContext:
    """The request's context; a model validated without one (a script, a test) is judged
    against the settings' defaults at the current time."""
    if isinstance(info.context, IngestContext):
        return info.context
    return IngestContext.of({setting.name: setting.default for setting in SETTINGS})


# region Field types: a rule for the value, keywords for the document


def _keywords(**keywords: Any) -> Callable[[dict[str, Any]], None]:
    """JSON Schema keywords for the non-null branch of a field's generated schema. The field's
    rule enforces them (with its own message), the document states them."""
    def add(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") != "null":
                branch.update(keywords)
    return add


def _applies(rule: Callable[[Any], Any], *, nullable: bool = False) -> BeforeValidator:
    """Run `rule` on the raw JSON value; null is refused unless the field is nullable."""
    def validate(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError("must not be null")
        return rule(value)
    return BeforeValidator(validate)


def _applies_time(*, nullable: bool = False) -> BeforeValidator:
    """fields.check_time against the request's clock."""
    def validate(value: Any, info: ValidationInfo) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError("must not be null")
        context = _context(info)
        return check_time(value, context.now, context.max_future)
    return BeforeValidator(validate)


TIME_TEXT = (f"ISO 8601 with a zone, such as {TIME_EXAMPLE} (naive times are refused); at "
             "most INGEST_MAX_FUTURE_SECONDS ahead of the server's clock.")
Count = Annotated[int, Field(json_schema_extra=_keywords(minimum=0, maximum=INT32_MAX)),
                  _applies(check_count)]
Time = Annotated[datetime, Field(description=TIME_TEXT), _applies_time()]
OptionalTime = Annotated[Optional[datetime], Field(description=TIME_TEXT),
                         _applies_time(nullable=True)]
SourceName = Annotated[str, Field(json_schema_extra=_keywords(minLength=1,
                                                              maxLength=MAX_SOURCE_LENGTH)),
                       _applies(check_source)]
Rate = Annotated[Optional[float], Field(json_schema_extra=_keywords(minimum=0, maximum=1)),
                 _applies(check_rate, nullable=True)]

# endregion

Model = TypeVar("Model", bound="InputModel")


class InputModel(BaseModel):
    """A body item: unknown fields refused, and every problem of it reported together."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        """(field, message) for each rule between fields that `values` break. `values` holds
        only the fields that passed their own rule (absent optional ones at their default);
        `given` names the fields the caller sent."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler, info: ValidationInfo):
        """The field errors and the broken relations in one ValidationError."""
        try:
            item, errors = handler(data), []
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise  # not an object at all: nothing to relate
            item, errors = None, exc.errors(include_url=False)
        if item is not None:
            values, given = dict(item), set(item.model_fields_set)
        else:
            failed = {error["loc"][0] for error in errors if error["loc"]}
            values = cls._passing(data, failed, info.context)
            given = set(data) & set(cls.model_fields)
        broken = cls.relations(values, given, _context(info))
        if not errors and not broken:
            return item
        raise ValidationError.from_exception_data(cls.__name__, [
            *errors, *({"type": "value_error", "loc": (name,), "input": data.get(name),
                        "ctx": {"error": ValueError(message)}} for name, message in broken)])

    @classmethod
    def _passing(cls, data: Mapping[str, Any], failed: set[Any], context: Any) -> dict[str, Any]:
        """The fields of `data` that pass their own rule, validated one by one."""
        values = {}
        for name, field in cls.model_fields.items():
            if name in failed:
                continue
            if name not in data:
                values[name] = field.get_default(call_default_factory=True)
                continue
            values[name] = _field_adapter(cls, name).validate_python(data[name], context=context)
        return values


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    """One field's type with its rule, to validate that field alone."""
    field = model.model_fields[name]
    if not field.metadata:  # a plain type (a nested model): Annotated needs an annotation
        return TypeAdapter(field.annotation)
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)])


PAIRS = tuple((attempts, successes, name) for name, (successes, attempts) in RATES.items())
"""(attempts, successes, rate) of each rate a metric row carries."""


class MetricInput(InputModel):
    """One data-quality metric row as a writer sends it. Rates and status are derived from
    the counts (the database computes the rates); a writer may repeat them, and they must
    then agree with the counts."""

    timestamp: Time
    """The end of the window the row covers."""
    window_seconds: Annotated[int, Field(json_schema_extra=_keywords(
        minimum=1, maximum=MAX_WINDOW_SECONDS)), _applies(check_count)]
    """The window's length; an hourly row covers one hour: 3600."""
    metric_type: Annotated[Literal[METRIC_TYPES], _applies(check_choice(METRIC_TYPES))]
    source: Annotated[Optional[str], Field(json_schema_extra=_keywords(
        minLength=1, maxLength=MAX_SOURCE_LENGTH)), _applies(check_source, nullable=True)] = None
    """The source, or null for all sources (an aggregate row's is null, a source row's is not)."""
    geocoding_attempts: Count
    geocoding_successes: Count
    validation_attempts: Count
    validation_passes: Count
    geocoding_success_rate: Rate = None
    """geocoding_successes / geocoding_attempts (null without attempts): omit it, or repeat it."""
    validation_pass_rate: Rate = None
    """validation_passes / validation_attempts (null without attempts): omit it, or repeat it."""
    status: Annotated[Literal[QUALITY_STATUSES] | SkipJsonSchema[None],
                      _applies(check_choice(QUALITY_STATUSES))] = None
    """The worse of the two rates' statuses: omit it, or repeat it."""

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        broken = []
        window, kind = values.get("window_seconds"), values.get("metric_type")
        if window is not None and not 0 < window <= MAX_WINDOW_SECONDS:
            broken.append(("window_seconds", f"must be between 1 and {MAX_WINDOW_SECONDS}"))
        if kind == "hourly" and window not in (None, HOUR_SECONDS):
            broken.append(("window_seconds", f"an hourly row covers one hour: {HOUR_SECONDS}"))
        if kind == "aggregate" and values.get("source") is not None:
            broken.append(("source", "an aggregate row covers all sources: must be null"))
        if kind == "source" and "source" in values and values["source"] is None:
            broken.append(("source", "a source row names its source"))
        counted = True
        for attempts, successes, name in PAIRS:
            if attempts not in values or successes not in values:
                counted = False
                continue
            if values[successes] > values[attempts]:
                broken.append((successes, f"must not exceed {attempts}"))
                counted = False
                continue
            derived = rate(values[successes], values[attempts])
            given_rate = values.get(name)
            if name in given and name in values and not _same_rate(given_rate, derived):
                shown = "null" if derived is None else round(derived, 6)
                broken.append((name, f"contradicts the counts ({successes}/{attempts} = "
                                     f"{shown}); rates are derived from counts, omit it"))
        if counted and "status" in given and values.get("status") is not None:
            derived_status = derive_status(values, context.config)
            if values["status"] != derived_status:
                broken.append(("status",
                               f"contradicts the counts (they give {derived_status}); omit it"))
        return broken

    def row(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The values to insert: the counts and the status they give (the database derives
        the rates itself)."""
        values = self.model_dump(exclude={*RATES, "status"})
        return {**values, "status": derive_status(values, config)}


def _same_rate(given: float | None, derived: float | None) -> bool:
    if given is None or derived is None:
        return given is None and derived is None
    return abs(given - derived) <= RATE_TOLERANCE


def derive_status(counts: Mapping[str, int], config: Mapping[str, Any]) -> str:
    """A metric row's status from its counts (api.status.thresholds.quality_status)."""
    return quality_status(rate(counts["geocoding_successes"], counts["geocoding_attempts"]),
                          rate(counts["validation_passes"], counts["validation_attempts"]),
                          config)


class ScrapeRunInput(InputModel):
    """One scrape run as a scraper reports it."""

    source: SourceName
    started_at: Time
    finished_at: OptionalTime = None
    """null while the run has not finished (or its end is unknown)."""
    status: Annotated[Literal[SCRAPE_STATUSES], _applies(check_choice(SCRAPE_STATUSES))]
    items_found: Count
    items_new: Count
    """Items not seen before; at most items_found."""
    error: Annotated[Optional[str], Field(json_schema_extra=_keywords(
        minLength=1, maxLength=MAX_ERROR_LENGTH)), _applies(check_error_text, nullable=True)] = None
    """null, or non-blank text without control characters."""

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        broken = []
        started, finished = values.get("started_at"), values.get("finished_at")
        if started is not None and finished is not None and finished < started:
            broken.append(("finished_at", "must not be before started_at"))
        found, new = values.get("items_found"), values.get("items_new")
        if found is not None and new is not None and new > found:
            broken.append(("items_new", "must not exceed items_found"))
        return broken

    def row(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The values to insert, as given."""
        return self.model_dump()


# region Bodies

MESSAGES = {"missing": "required", "extra_forbidden": "unknown field",
            "model_type": "must be a JSON object"}
"""pydantic's own error types, in the words the rules use."""


def problems_of(error: ValidationError, prefix: str = "", depth: int = 1) -> list[Problem]:
    """An item's ValidationError as problems under `prefix`; unknown fields first. A problem's
    path names at most `depth` levels (2: `matchers.kind` of a nested model). Only each error's
    type, location and our rule's message are read: never the input."""
    found = []
    for detail in error.errors(include_url=False, include_input=False, include_context=True):
        name = ".".join(str(part)[:UNKNOWN_FIELD_PREFIX] for part in detail["loc"][:depth])
        path = item_path(prefix, name) if name else (prefix or "$")
        if detail["type"] == "value_error":
            message = str(detail["ctx"]["error"])
        else:
            message = MESSAGES.get(detail["type"], detail["msg"])
        found.append({"path": path, "message": message})
    found.sort(key=lambda problem: problem["message"] != MESSAGES["extra_forbidden"])
    return found


def check_body(body: Any, model: type[Model], *, max_items: int,
               context: IngestContext) -> list[Model]:
    """A body of one object or a non-empty list of them -> the validated items; Invalid
    listing every problem of every item otherwise."""
    was_list = isinstance(body, list)
    items = body if was_list else [body]
    if was_list and not items:
        raise Invalid([{"path": "$", "message": "must not be an empty list"}])
    if len(items) > max_items:
        raise Invalid([{"path": "$", "message": f"at most {max_items} items per request"}])
    validated: list[Model] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        try:
            validated.append(model.model_validate(item, context=context))
        except ValidationError as exc:
            problems.extend(problems_of(exc, f"[{index}]" if was_list else ""))
    if problems:
        raise Invalid(problems, f"{len(problems)} problem(s) in the body; nothing was written")
    return validated


def checked_rows(body: Any, model: type[InputModel], config: Mapping[str, Any],
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """`check_body` with an app's settings, as the rows to insert."""
    context = IngestContext.of(config, now)
    return [item.row(config) for item in check_body(
        body, model, max_items=config["INGEST_MAX_ITEMS"], context=context)]

# endregion
