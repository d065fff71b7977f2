"""`component_schemas()`: the OpenAPI 3.1 `components.schemas` of every document pipewatch
sends or accepts, generated from the pydantic models (JSON Schema 2020-12: nullable fields are
`anyOf [..., {"type": "null"}]`). The OpenAPI document refers to them by name
(`#/components/schemas/PipelineStatus`); nothing there is written by hand.
"""
from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from api.schemas import actions, documents, ingest, notifications, rules

REF_TEMPLATE = "#/components/schemas/{model}"
MODELS: tuple[type[BaseModel], ...] = (
    documents.Error, documents.Metric, documents.MetricsPage, documents.MetricsCreated,
    documents.ScrapeRun, documents.ScrapeRunsCreated, documents.Series, documents.Sources,
    documents.Alerts, documents.AlertEvents, documents.Anomalies, documents.PipelineStatus, documents.Liveness,
    documents.Readiness, documents.Silence, documents.Silences, documents.Rules,
    documents.RuleChanges, ingest.MetricInput, ingest.ScrapeRunInput, actions.AckInput,
    actions.SilenceInput, rules.RulesInput, notifications.Deliveries,
    notifications.WebhookNotification, notifications.DemoWebhooks)
"""The documents the API's operations name; the models they hold are generated with them."""


class _Generator(GenerateJsonSchema):
    """pydantic's generator, minus what would mislead a reader of the document: a title per
    field (the property's name says it) and `default: null` on optional fields (an absent
    field is not the same as null: a rate sent as null is checked, an omitted one is not)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])


def _tidy(node: Any) -> Any:
    """Docstring descriptions on one line each."""
    if isinstance(node, dict):
        return {key: " ".join(value.split()) if key == "description" and isinstance(value, str)
                else _tidy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


@cache
def _generated() -> dict[str, Any]:
    _, top = models_json_schema([(model, "validation") for model in MODELS],
                                ref_template=REF_TEMPLATE, schema_generator=_Generator)
    return _tidy(top["$defs"])


def component_schemas() -> dict[str, Any]:
    """{name: JSON Schema} of every model in MODELS and every model they hold (a fresh copy:
    callers may edit theirs)."""

    return copy.deepcopy(_generated())


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model`'s component."""
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}
