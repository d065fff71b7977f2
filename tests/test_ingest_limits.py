"""The body limit and the item limit agree (issue 10, item 5): the longest list ingest allows,
of items as large as a writer sends them, goes through over real HTTP with the default
settings, for both row kinds and on both databases."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from api.settings import INGEST_ITEM_BYTES, load_config
from api.storage.models import ScrapeRun
from api.timeutil import utcnow
from tests.export_fixtures import TOKEN, auth, count_metrics

DEFAULTS = load_config({}, environ={})
MAX_ITEMS = DEFAULTS["INGEST_MAX_ITEMS"]
MAX_BODY = DEFAULTS["MAX_BODY_BYTES"]
BIG = 2**31 - 1


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_INGEST_TOKEN=TOKEN)  # MAX_BODY_BYTES, INGEST_MAX_ITEMS: defaults


def _moment(hours_ago: int) -> str:
    return (utcnow() - timedelta(hours=hours_ago)).isoformat(timespec="microseconds")


def largest_metric() -> dict:
    """Every field, counts at their largest, a 100-letter source (each letter \\u-escaped)."""
    return {"timestamp": _moment(2), "window_seconds": 366 * 86400, "metric_type": "source",
            "source": "ñ" * 100, "geocoding_attempts": BIG, "geocoding_successes": BIG - 1,
            "validation_attempts": BIG, "validation_passes": BIG - 1,
            "geocoding_success_rate": (BIG - 1) / BIG, "validation_pass_rate": (BIG - 1) / BIG,
            "status": "healthy"}


def largest_run() -> dict:
    """Every field, and an error as long as INGEST_ITEM_BYTES leaves room for."""
    run = {"source": "s" * 100, "started_at": _moment(3), "finished_at": _moment(2),
           "status": "partial", "items_found": BIG, "items_new": BIG, "error": ""}
    run["error"] = "x" * (INGEST_ITEM_BYTES - 2 - len(json.dumps(run)) - 1)
    return run


def test_the_defaults_leave_room_for_the_longest_list():
    assert MAX_BODY >= MAX_ITEMS * INGEST_ITEM_BYTES
    assert len(json.dumps(largest_metric())) + 2 <= INGEST_ITEM_BYTES
    assert len(json.dumps(largest_run())) + 2 <= INGEST_ITEM_BYTES


@pytest.mark.parametrize("path, item", [("/api/v1/metrics", largest_metric),
                                        ("/api/v1/scrape-runs", largest_run)])
def test_the_longest_list_of_large_items_is_written_over_http(live_server, runtime, path, item):
    body = json.dumps([item()] * MAX_ITEMS).encode()
    assert 0.9 * MAX_BODY < len(body) <= MAX_BODY
    response = requests.post(live_server.url + path, data=body, timeout=120,
                             headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["items"]) == MAX_ITEMS
    with runtime.db.session() as session:
        runs = session.scalar(select(func.count()).select_from(ScrapeRun))
    assert count_metrics(runtime.db) + runs == MAX_ITEMS


def test_one_item_more_is_422_and_a_body_too_large_is_413(live_server, runtime):
    small = {"timestamp": _moment(1), "window_seconds": 3600, "metric_type": "hourly",
             "geocoding_attempts": 0, "geocoding_successes": 0, "validation_attempts": 0,
             "validation_passes": 0}
    url = live_server.url + "/api/v1/metrics"
    over = requests.post(url, json=[small] * (MAX_ITEMS + 1), headers=auth(), timeout=60)
    assert over.status_code == 422
    assert over.json()["error"]["details"]["problems"] == [
        {"path": "$", "message": f"at most {MAX_ITEMS} items per request"}]
    huge = requests.post(url, data=b"[" + b" " * MAX_BODY + b"]", timeout=60,
                         headers={**auth(), "Content-Type": "application/json"})
    assert huge.status_code == 413
    error = huge.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["message"] == (f"body larger than {MAX_BODY} bytes (MAX_BODY_BYTES): split the "
                                f"list (at most {MAX_ITEMS} items per request)")
    assert count_metrics(runtime.db) == 0
