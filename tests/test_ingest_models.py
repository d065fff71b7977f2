"""The ingest models (api.schemas.ingest): the rules and messages writers have always had.

The table below pins what `check_body` tells a writer for each kind of mistake, word for word:
the messages were those of the hand-written checks the models replaced, and a writer's tooling
may match on them. Beyond the table: every problem of an item is reported at once (relations
included, even when another field failed), nothing of the payload is echoed, and the rows
handed to the database carry the derived status, not the caller's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from api.schemas.ingest import (IngestContext, MetricInput, ScrapeRunInput, check_body,
                                checked_rows)
from api.schemas.problems import Invalid
from api.timeutil import UTC

NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
CONTEXT = IngestContext(now=NOW, max_future=timedelta(minutes=5),
                        config={"HEALTHY_RATE": 0.9, "WARNING_RATE": 0.75})
METRIC = {"timestamp": "2026-11-25T20:00:00Z", "window_seconds": 3600, "metric_type": "hourly",
          "source": "punch", "geocoding_attempts": 10, "geocoding_successes": 8,
          "validation_attempts": 20, "validation_passes": 19}
RUN = {"source": "punch", "started_at": "2026-11-25T10:00:00Z",
       "finished_at": "2026-11-25T10:05:00Z", "status": "failed", "items_found": 3,
       "items_new": 1, "error": "HTTP 503"}


def m(**changes):
    return {**METRIC, **changes}


def r(**changes):
    return {**RUN, **changes}


def without(item, *names):
    return {key: value for key, value in item.items() if key not in names}


def problems(body, model, max_items=10):
    try:
        check_body(body, model, max_items=max_items, context=CONTEXT)
    except Invalid as exc:
        return [(problem["path"], problem["message"]) for problem in exc.problems]
    return []


RATE_CONTRADICTS = ("contradicts the counts (geocoding_successes/geocoding_attempts = {}); "
                    "rates are derived from counts, omit it")
METRIC_CASES = [
    ({}, [("timestamp", "required"), ("window_seconds", "required"), ("metric_type", "required"),
          ("geocoding_attempts", "required"), ("geocoding_successes", "required"),
          ("validation_attempts", "required"), ("validation_passes", "required")]),
    (m(extra=1, **{"x" * 80: 2}), [("extra", "unknown field"), ("x" * 60, "unknown field")]),
    (m(timestamp="2026-11-25T10:00:00"),
     [("timestamp", "timestamp has no zone: add Z (UTC) or an offset such as +01:00")]),
    (m(timestamp=123),
     [("timestamp", "must be an ISO 8601 string such as 2026-11-25T21:00:00Z")]),
    (m(timestamp="2026-11-25T21:06:00Z"),
     [("timestamp", "is in the future (more than 300 s ahead of the server's clock)")]),
    (m(timestamp="1960-01-01T00:00:00Z"),
     [("timestamp", "timestamp out of range (years 1970 to 9000)")]),
    (m(timestamp="garbage"), [("timestamp", "not an ISO 8601 timestamp: 'garbage'")]),
    (m(window_seconds=0), [("window_seconds", "must be between 1 and 31622400"),
                           ("window_seconds", "an hourly row covers one hour: 3600")]),
    (m(window_seconds=-1), [("window_seconds", "must not be negative")]),
    (m(window_seconds=True), [("window_seconds", "must be an integer, got True")]),
    (m(window_seconds=2**31), [("window_seconds", "must be at most 2147483647")]),
    (m(window_seconds=3.0), [("window_seconds", "must be an integer, got 3.0")]),
    (m(window_seconds=7200), [("window_seconds", "an hourly row covers one hour: 3600")]),
    (m(metric_type="aggregate", source=None, window_seconds=40_000_000),
     [("window_seconds", "must be between 1 and 31622400")]),
    (m(metric_type="weekly"), [("metric_type", "must be one of aggregate, source, hourly")]),
    (m(metric_type="aggregate", window_seconds=86400),
     [("source", "an aggregate row covers all sources: must be null")]),
    (m(metric_type="source", source=None), [("source", "a source row names its source")]),
    (without(m(metric_type="source"), "source"), [("source", "a source row names its source")]),
    (m(source=""), [("source", "source must not be blank")]),
    (m(source="   "), [("source", "source must not be blank")]),
    (m(source="a" * 101), [("source", "source must be at most 100 characters")]),
    (m(source="tab\there"),
     [("source", "source must not contain control characters or lone surrogates")]),
    (m(source=5), [("source", "must be a string, got 5")]),
    (m(geocoding_successes=11), [("geocoding_successes", "must not exceed geocoding_attempts")]),
    (m(validation_passes=21), [("validation_passes", "must not exceed validation_attempts")]),
    (m(geocoding_attempts=None), [("geocoding_attempts", "must not be null")]),
    (m(geocoding_attempts="10"), [("geocoding_attempts", "must be an integer, got '10'")]),
    (m(geocoding_attempts=-3), [("geocoding_attempts", "must not be negative")]),
    (m(geocoding_success_rate=0.95), [("geocoding_success_rate", RATE_CONTRADICTS.format(0.8))]),
    (m(geocoding_success_rate=0.8), []),
    (m(geocoding_success_rate="x"),
     [("geocoding_success_rate", "must be a number or null, got 'x'")]),
    (m(geocoding_success_rate=None), [("geocoding_success_rate", RATE_CONTRADICTS.format(0.8))]),
    (m(geocoding_attempts=0, geocoding_successes=0, geocoding_success_rate=0.0),
     [("geocoding_success_rate", RATE_CONTRADICTS.format("null"))]),
    (m(geocoding_attempts=0, geocoding_successes=0, geocoding_success_rate=None), []),
    (m(validation_pass_rate=True),
     [("validation_pass_rate", "must be a number or null, got True")]),
    (m(status="healthy"), [("status", "contradicts the counts (they give warning); omit it")]),
    (m(status="warning"), []),
    (m(status=None), [("status", "must not be null")]),
    (m(status="bogus"), [("status", "must be one of pending, healthy, warning, error")]),
    ("not an object", [("$", "must be a JSON object")]),
    ([1], [("[0]", "must be a JSON object")]),
    (None, [("$", "must be a JSON object")]),
]
RUN_CASES = [
    ({}, [("source", "required"), ("started_at", "required"), ("status", "required"),
          ("items_found", "required"), ("items_new", "required")]),
    (r(extra=True), [("extra", "unknown field")]),
    (r(source=None), [("source", "must not be null")]),
    (r(started_at="2026-11-25T10:00:00"),
     [("started_at", "timestamp has no zone: add Z (UTC) or an offset such as +01:00")]),
    (r(finished_at=None), []),
    (without(r(), "finished_at", "error"), []),
    (r(finished_at="2026-11-25T09:00:00Z"), [("finished_at", "must not be before started_at")]),
    (r(status="ok"), [("status", "must be one of success, failed, partial")]),
    (r(items_found=-1), [("items_found", "must not be negative")]),
    (r(items_new=4), [("items_new", "must not exceed items_found")]),
    (r(items_found="3"), [("items_found", "must be an integer, got '3'")]),
    (r(error=""), [("error", "error must not be blank")]),
    (r(error="x" * 10_001), [("error", "error must be at most 10000 characters")]),
    (r(error="line\nbreak"),
     [("error", "error must not contain control characters or lone surrogates")]),
    (r(error=None), []),
    (r(error=7), [("error", "must be a string, got 7")]),
    (r(started_at="2026-11-26T00:00:00Z"),
     [("started_at", "is in the future (more than 300 s ahead of the server's clock)")]),
]


@pytest.mark.parametrize("body, expected", METRIC_CASES)
def test_metric_messages_are_the_ones_writers_know(body, expected):
    assert problems(body, MetricInput) == expected


@pytest.mark.parametrize("body, expected", RUN_CASES)
def test_scrape_run_messages_are_the_ones_writers_know(body, expected):
    assert problems(body, ScrapeRunInput) == expected


def test_body_level_problems():
    assert problems([], MetricInput) == [("$", "must not be an empty list")]
    assert problems([METRIC] * 3, MetricInput, max_items=2) == [
        ("$", "at most 2 items per request")]
    batch = [METRIC, m(source=None, metric_type="source"), m(geocoding_successes=11), "x"]
    assert problems(batch, MetricInput) == [
        ("[1].source", "a source row names its source"),
        ("[2].geocoding_successes", "must not exceed geocoding_attempts"),
        ("[3]", "must be a JSON object")]


def test_relations_are_checked_even_when_another_field_failed():
    """pydantic stops before model-level rules once a field fails; a writer still hears about
    every problem of the item in one answer."""
    body = m(timestamp="garbage", metric_type="aggregate", geocoding_successes=11,
             status="healthy", validation_pass_rate="x")
    assert problems(body, MetricInput) == [
        ("timestamp", "not an ISO 8601 timestamp: 'garbage'"),
        ("validation_pass_rate", "must be a number or null, got 'x'"),
        ("source", "an aggregate row covers all sources: must be null"),
        ("geocoding_successes", "must not exceed geocoding_attempts")]
    assert problems(r(status="ok", items_new=5), ScrapeRunInput) == [
        ("status", "must be one of success, failed, partial"),
        ("items_new", "must not exceed items_found")]


def test_nothing_of_the_payload_is_echoed():
    secret = "s3cr3t-" + "y" * 500
    body = m(source=secret, timestamp=secret, status=secret, **{secret: 1})
    found = problems(body, MetricInput)
    assert len(found) == 4
    for path, message in found:  # at most a prefix: 60 characters of a name, 40 of a value
        assert secret[:61] not in path and secret[:41] not in message


def test_rows_carry_the_derived_status_and_no_rates():
    [row] = checked_rows(m(status="warning", geocoding_success_rate=0.8),
                         MetricInput, {**CONTEXT.config, "INGEST_MAX_ITEMS": 5,
                                       "INGEST_MAX_FUTURE_SECONDS": 300}, now=NOW)
    assert row == {"timestamp": datetime(2026, 11, 25, 20, tzinfo=UTC), "window_seconds": 3600,
                   "metric_type": "hourly", "source": "punch", "geocoding_attempts": 10,
                   "geocoding_successes": 8, "validation_attempts": 20,
                   "validation_passes": 19, "status": "warning"}
    [run] = checked_rows(r(finished_at="2026-11-25T11:05:00+01:00"), ScrapeRunInput,
                         {"INGEST_MAX_ITEMS": 5, "INGEST_MAX_FUTURE_SECONDS": 300}, now=NOW)
    assert run["finished_at"] == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert run["error"] == "HTTP 503" and set(run) == set(RUN)


def test_the_models_alone_apply_every_rule():
    """Validating a model directly (a script, no request) applies the relations too, against
    the settings' defaults at the current time."""
    with pytest.raises(ValidationError) as caught:
        MetricInput.model_validate(m(metric_type="aggregate"))
    assert [error["loc"] for error in caught.value.errors()] == [("source",)]
    assert MetricInput.model_validate(m(), context=CONTEXT).source == "punch"
