"""Alert rules per source and kind: which settings an operator may override, and which value
applies where. A pure rule (stored rules in, effective settings out).

The environment's settings (api/settings.py) are the defaults. A stored rule names a `source`,
a `kind` (the first part of an alert key, api/status/alerts.KINDS), or both, and overrides some
of the settings in SETTINGS. For an alert of source S and kind K each setting comes from the
most specific rule that sets it:

    (S, K)  >  (S, any kind)  >  (any source, K)  >  the environment's default

so "vanguard geocodes worse, accept 70 %" is one rule, and "anomalies must last 10 min before
they fire" another, and both apply to vanguard's anomaly alerts.

A computation (the status document, an evaluation) reads the stored rules once, in its own
snapshot, and carries them inside its settings (`with_rules`); the code that judges one source
asks `scoped(config, source, kind)`. Every process reads the table at every computation, so a
change made through any of them applies at the next evaluation everywhere, with no restart and
no cache to invalidate.
"""
from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

SETTINGS: dict[str, tuple[str, Optional[tuple[str, ...]]]] = {
    "healthy_rate": ("HEALTHY_RATE", ("quality",)),
    "warning_rate": ("WARNING_RATE", ("quality",)),
    "stale_warning_seconds": ("SOURCE_STALE_WARNING_SECONDS", ("source_stale",)),
    "stale_error_seconds": ("SOURCE_STALE_ERROR_SECONDS", ("source_stale",)),
    "anomaly_threshold": ("ANOMALY_THRESHOLD", ("anomaly",)),
    "for_seconds": ("ALERT_FOR_SECONDS", None),
    "keep_firing_for_seconds": ("ALERT_KEEP_FIRING_SECONDS", None),
}
"""A rule's setting -> (the environment setting it overrides, the alert kinds it judges;
None: every kind).
Thresholds also set the per-source statuses of the sections (a source's pill follows its
own healthy rate); `for` and `keep_firing_for` apply to every kind."""

SOURCELESS_KINDS = ("metrics_stale",)
"""Kinds whose alerts are about no one source: a rule naming a source never reaches them."""

RULES_KEY = "pipewatch.rules"
"""Where `with_rules` puts the stored rules inside a computation's settings."""


@dataclass(frozen=True)
class Rule:
    """One stored rule: its scope (None = any) and the settings it overrides (by name)."""

    source: Optional[str]
    kind: Optional[str]
    values: Mapping[str, Any] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        """The rule as GET /api/v1/rules lists it: every setting, null where not overridden."""
        return {"source": self.source, "kind": self.kind,
                **{name: self.values.get(name) for name in SETTINGS}}


def specificity(rule: Rule) -> int:
    """3 for (source, kind), 2 for a source, 1 for a kind, 0 for neither."""
    return (2 if rule.source is not None else 0) + (1 if rule.kind is not None else 0)


def applies(rule: Rule, source: Optional[str], kind: str) -> bool:
    """True when the rule's scope covers the `kind` alerts of `source` (None: all sources)."""
    return ((rule.source is None or rule.source == source)
            and (rule.kind is None or rule.kind == kind))


class RuleBook:
    """The stored rules of one moment, answering which overrides apply to a source and kind."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = sorted(rules, key=lambda r: (specificity(r), r.source or "", r.kind or ""))

    def overrides(self, source: Optional[str], kind: str) -> dict[str, Any]:
        """Environment setting name -> value, for what the rules override at this scope."""
        found: dict[str, Any] = {}
        for rule in self.rules:  # least specific first: the more specific ones win
            if applies(rule, source, kind):
                found.update({SETTINGS[name][0]: value for name, value in rule.values.items()
                              if value is not None})
        return found

    def fingerprint(self) -> tuple:
        """Changes whenever a rule does (part of the anomaly cache's key)."""
        return tuple((r.source, r.kind, tuple(sorted(r.values.items()))) for r in self.rules)


def book_of(rows: Iterable[Mapping[str, Any]]) -> RuleBook:
    """The rules of stored rows (api/storage/rule_store.py: `source`, `kind`, a column per
    setting, None where not overridden)."""
    return RuleBook([Rule(row["source"], row["kind"],
                          {name: row[name] for name in SETTINGS if row.get(name) is not None})
                     for row in rows])


def with_rules(config: Mapping[str, Any], book: RuleBook) -> dict[str, Any]:
    """The settings of one computation: the environment's, carrying the stored rules."""
    return {**config, RULES_KEY: book}


def rules_of(config: Mapping[str, Any]) -> Optional[RuleBook]:
    """The rules a computation carries (None: the environment's settings alone)."""
    return config.get(RULES_KEY)


def scoped(config: Mapping[str, Any], source: Optional[str], kind: str) -> Mapping[str, Any]:
    """The settings that judge `source`'s `kind` alerts, and the statuses behind them (a
    source's rate statuses are judged as `quality`, its staleness as `source_stale`): `config`
    itself when no rule applies, so the common case costs one dictionary lookup."""
    book = rules_of(config)
    if book is None or not book.rules:
        return config
    found = book.overrides(source, kind)
    return ChainMap(found, config) if found else config
