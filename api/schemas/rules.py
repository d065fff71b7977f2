"""The body of `PUT /api/v1/rules` (`RulesInput`), and the setting types its answer shares.

Checked like the other operator bodies: unknown fields refused, every problem listed at once
(paths such as `rules[2].healthy_rate`), nothing written unless all is well. Beyond each
field's range, the rules must make sense together with the environment's defaults: no two
rules share a scope, a setting only goes where it judges something (`healthy_rate` on an
`anomaly` rule would never be read), and wherever rules combine, the warning rate stays at or
below the healthy rate and the staleness warning at or before the error.
"""
from __future__ import annotations

import math
import re
from itertools import product
from typing import Annotated, Any, Literal, Mapping, Optional

from pydantic import BeforeValidator, Field, StringConstraints, ValidationError

from api.schemas.fields import MAX_SOURCE_LENGTH, check_source
from api.schemas.ingest import IngestContext, InputModel, problems_of
from api.schemas.problems import Invalid
from api.status.alerts import KINDS as ALERT_KINDS
from api.status.rules import SETTINGS, SOURCELESS_KINDS, Rule, RuleBook

MAX_RULES = 1000
"""Rules in one PUT: one per source and kind is already 8 x 5 in the demo."""
MAX_STALE_SECONDS = 30 * 86400
MAX_HOLD_SECONDS = 86400
"""`for` and `keep_firing_for` longer than a day would hide or prolong an alert for days."""
MAX_RULES_BY_LENGTH = 100
MAX_RULES_COMMENT_LENGTH = 1000


def _nullable(rule) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else rule(value))


def _number(low: float, high: float, *, whole: bool = False, above: bool = False):
    """A JSON number in [low, high] ((low, high] with `above`); booleans and numeric strings
    are refused, not converted; `whole`: seconds, 3600 or 3600.0 but not 3600.5."""
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ValueError("must be a number or null")
        if whole and not float(value).is_integer():
            raise ValueError("must be a whole number of seconds")
        if value < low or (above and value == low) or value > high:
            bound = "above" if above else "at least"
            raise ValueError(f"must be {bound} {low:g} and at most {high:g}")
        return int(value) if whole else float(value)
    return _nullable(check)


RuleRate = Annotated[Optional[float], Field(ge=0, le=1), _number(0, 1)]
StaleSeconds = Annotated[Optional[int], Field(ge=60, le=MAX_STALE_SECONDS),
                         _number(60, MAX_STALE_SECONDS, whole=True)]
HoldSeconds = Annotated[Optional[int], Field(ge=0, le=MAX_HOLD_SECONDS),
                        _number(0, MAX_HOLD_SECONDS, whole=True)]
Threshold = Annotated[Optional[float], Field(gt=0, le=100), _number(0, 100, above=True)]
RuleSource = Annotated[Optional[str], Field(min_length=1, max_length=MAX_SOURCE_LENGTH),
                       _nullable(check_source)]
RuleKind = Optional[Literal[ALERT_KINDS]]


class RuleInput(InputModel):
    """Overrides for the alerts of `source` (null: every source) of `kind` (null: every kind);
    null settings are not overridden."""

    source: RuleSource = None
    """The source it tunes; null: every source (and the all-sources numbers)."""
    kind: RuleKind = None
    """The alert kind it tunes (the first part of an alert key); null: every kind."""
    healthy_rate: RuleRate = None
    """`quality`: a rate below this is a warning (HEALTHY_RATE)."""
    warning_rate: RuleRate = None
    """`quality`: a rate below this is an error (WARNING_RATE)."""
    stale_warning_seconds: StaleSeconds = None
    """`source_stale`: no successful scrape for this long is a warning."""
    stale_error_seconds: StaleSeconds = None
    """`source_stale`: no successful scrape for this long is an error."""
    anomaly_threshold: Threshold = None
    """`anomaly`: the robust z-score an hour must pass (higher: fewer anomalies)."""
    for_seconds: HoldSeconds = None
    """Every kind: how long a condition holds before its alert fires (ALERT_FOR_SECONDS)."""
    keep_firing_for_seconds: HoldSeconds = None
    """Every kind: how long a fired alert's condition stays clear before it resolves."""

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        """At least one setting; each where it judges something; pairs in order."""
        broken = []
        kind, source = values.get("kind"), values.get("source")
        if not any(name in given and values.get(name, "invalid") is not None
                   for name in SETTINGS):
            broken.append(("$", f"set at least one of {', '.join(SETTINGS)}"))
        if kind in SOURCELESS_KINDS and source is not None:
            broken.append(("source", f"{kind} alerts are about no one source: leave source "
                                     "null"))
        for name, (_, kinds) in SETTINGS.items():
            if values.get(name) is not None and kind is not None and kinds is not None \
                    and kind not in kinds:
                broken.append((name, f"judges {' and '.join(kinds)} alerts only; this rule's "
                                     f"kind is {kind}"))
        broken += [(low, f"must not exceed {high} ({numbers})")
                   for low, high, numbers in _disorders(values)]
        return broken


PAIRS = (("warning_rate", "healthy_rate"), ("stale_warning_seconds", "stale_error_seconds"))
"""(lower, upper): the first must not exceed the second wherever both apply."""


def _disorders(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(lower, upper, "0.8 > 0.7") for each pair out of order in `values`."""
    return [(low, high, f"{values[low]:g} > {values[high]:g}") for low, high in PAIRS
            if values.get(low) is not None and values.get(high) is not None
            and values[low] > values[high]]


def _at_most_max_rules(value: Any) -> Any:
    """The cap, said in words rather than as maxItems: a list that long is over MAX_BODY_BYTES
    first, and its 413 is not what a schema violation is answered with."""
    if isinstance(value, list) and len(value) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    return value


class RulesInput(InputModel):
    """The whole set of rules (it replaces the stored one), who changes it and why."""

    rules: Annotated[list[RuleInput], BeforeValidator(_at_most_max_rules)]
    """Every rule, at most 1000; [] removes them all (the environment's settings apply
    everywhere)."""
    by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=MAX_RULES_BY_LENGTH)]
    """Who changes them (kept in the change log)."""
    comment: Annotated[str, StringConstraints(strip_whitespace=True,
                                              max_length=MAX_RULES_COMMENT_LENGTH)] = ""
    """Why (kept in the change log)."""

    @classmethod
    def relations(cls, values: Mapping[str, Any], given: set[str],
                  context: IngestContext) -> list[tuple[str, str]]:
        """One rule per scope; at every scope where rules combine, pairs stay in order."""
        rules = values.get("rules")
        if not isinstance(rules, list):
            return []
        broken, first = [], {}
        for index, rule in enumerate(rules):
            scope = (rule.source, rule.kind)
            if scope in first:
                broken.append(("rules", f"rules[{index}] has the same source and kind as "
                                        f"rules[{first[scope]}]"))
            first.setdefault(scope, index)
        if broken:
            return broken
        return [("rules", message) for message in combined_disorders(rules, context.config)]


def to_rules(items: list[RuleInput]) -> list[Rule]:
    return [Rule(item.source, item.kind,
                 {name: getattr(item, name) for name in SETTINGS
                  if getattr(item, name) is not None}) for item in items]


def combined_disorders(items: list[RuleInput], config: Mapping[str, Any]) -> list[str]:
    """Pairs out of order where the rules combine with each other and the defaults: at every
    named source (and all sources) for the kinds the pairs judge."""
    book = RuleBook(to_rules(items))
    defaults = {name: config[setting] for name, (setting, _) in SETTINGS.items()}
    sources = [None, *sorted({item.source for item in items if item.source is not None})]
    broken = []
    for source, kind in product(sources, ("quality", "source_stale")):
        overrides = book.overrides(source, kind)
        if not overrides:
            continue
        effective = {name: overrides.get(setting, defaults[name])
                     for name, (setting, _) in SETTINGS.items()}
        who = f"{source}'s" if source else "all sources'"
        broken += [f"{who} {kind} alerts would get {low} above {high} ({numbers}) from these "
                   f"rules and the defaults; set both in the most specific rule"
                   for low, high, numbers in _disorders(effective)
                   if (low == "warning_rate") == (kind == "quality")]
    return broken


_INDEX = re.compile(r"^rules\.(\d+)")


def checked_rules(body: Any, config: Mapping[str, Any]) -> RulesInput:
    """The body as a RulesInput judged with the app's defaults; Invalid listing every
    problem otherwise."""
    if not isinstance(body, dict):
        raise Invalid([{"path": "$", "message": "must be a JSON object"}])
    try:
        return RulesInput.model_validate(body, context=IngestContext.of(config))
    except ValidationError as exc:
        problems = [{**problem, "path": _INDEX.sub(r"rules[\1]", problem["path"])
                     .replace(".$", "")} for problem in problems_of(exc, depth=3)]
        raise Invalid(problems, f"{len(problems)} problem(s) in the body; nothing was written"
                      ) from None
