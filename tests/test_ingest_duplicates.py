"""The same metric row posted twice (issue 10, item 8): what a writer gets, as the README says.

Without an Idempotency-Key every POST is a new fact and is stored, even when it repeats an
earlier row; a retry that must not count twice carries an Idempotency-Key and is stored once.
"""
from __future__ import annotations

import pytest

from tests.export_fixtures import TOKEN, auth, count_metrics

ROW = {"timestamp": "2026-11-25T20:00:00Z", "window_seconds": 3600, "metric_type": "hourly",
       "source": "punch", "geocoding_attempts": 40, "geocoding_successes": 37,
       "validation_attempts": 40, "validation_passes": 39}


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_INGEST_TOKEN=TOKEN)


def test_without_a_key_a_repeated_row_is_stored_again(client, runtime):
    first = client.post("/api/v1/metrics", json=ROW, headers=auth())
    second = client.post("/api/v1/metrics", json=ROW, headers=auth())
    assert first.status_code == second.status_code == 201
    assert first.get_json()["items"][0]["id"] != second.get_json()["items"][0]["id"]
    assert count_metrics(runtime.db) == 2


def test_with_a_key_the_retry_is_stored_once(client, runtime):
    headers = {**auth(), "Idempotency-Key": "punch-2026-11-25T20"}
    first = client.post("/api/v1/metrics", json=ROW, headers=headers)
    retry = client.post("/api/v1/metrics", json=ROW, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotency-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert count_metrics(runtime.db) == 1
