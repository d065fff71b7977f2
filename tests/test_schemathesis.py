"""schemathesis itself, its CLI, against /api/v1/openapi.json of the app on a real socket.

The app serves a little demo history (two days, so the reads have rows, alerts and anomalies
to show) with PIPEWATCH_INGEST_TOKEN set, and `schemathesis run` drives every documented
HTTP operation through its examples, coverage and fuzzing phases with a fixed seed and a
bounded number of cases per operation (deterministic: the same cases every run). The run
fails on any 5xx, any response that does not match its documented status, content type,
headers or schema, any request that breaks the schema yet is accepted, any method the
document does not list that is not a 405 with a true Allow header, and any write that works
without its token. Every response body is checked against the schemas generated from
api/schemas (`response_schema_conformance`; the models forbid undocumented fields). Both
databases, each without and with PIPEWATCH_READ_TOKEN (the reads then carrying it).

To reproduce a failure by hand: serve the app (`python app.py demo`), then run the command
`run_schemathesis` builds against it; its report prints `st replay` and curl lines per case.

Not checked: `positive_data_acceptance` (every schema-valid request accepted). The API has
rules no JSON Schema in the document can state: an hourly row covers exactly 3600 s, a rate
must equal its counts, times lie in years 1970-9000, a cursor must be one this server signed
for the same filters, a series range is capped at 2,000 buckets. Those answers are documented
4xx, and tests/test_hostile.py and the area tests pin them.

Runs the CLI rather than schemathesis' pytest plugin (which does not run under pytest 9 here)
in a subprocess, with one worker: with two, hypothesis' lambda-source reader raced in the
same process and failed the run with "AST constructor recursion depth mismatch".
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from api.demo.seed import seed_demo
from tests.conftest import BASE_OVERRIDES, ServerThread
from tests.export_fixtures import TOKEN

SEED = 20261125
READ_TOKEN = "test-read-token-0123456789"
MAX_EXAMPLES = 20
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "missing_required_header", "unsupported_method",
          "allow_header_conformance", "ignored_auth"]
# Every documented HTTP operation but the document itself, which schemathesis leaves out of the
# operations it loads from that same URL.
DOCUMENTED_HTTP = {"/api/v1/metrics", "/api/v1/scrape-runs", "/api/v1/metrics/series",
                   "/api/v1/sources", "/api/v1/alerts", "/api/v1/anomalies",
                   "/api/v1/alerts/events", "/api/v1/alerts/{alert_id}/ack",
                   "/api/v1/silences", "/api/v1/silences/{silence_id}", "/api/v1/rules",
                   "/api/v1/rules/changes", "/api/v1/notifications", "/api/v1/notifications/test",
                   "/api/v1/monitoring/pipeline-status", "/healthz", "/readyz", "/metrics"}
WITH_INPUTS = {"/api/v1/metrics", "/api/v1/scrape-runs", "/api/v1/metrics/series",
               "/api/v1/alerts", "/api/v1/anomalies", "/api/v1/alerts/events",
               "/api/v1/alerts/{alert_id}/ack", "/api/v1/silences",
               "/api/v1/silences/{silence_id}", "/api/v1/rules", "/api/v1/rules/changes",
               "/api/v1/notifications"}


@pytest.fixture
def app(make_app):
    """The app with writes on and two days of demo history (now-relative, like `app.py seed`)."""
    # AUTH_FAILURE_LIMIT=0: generated wrong tokens would otherwise turn later answers into
    # 429s (the throttle has its own tests in tests/test_sign_in.py).
    return seeded(make_app(PIPEWATCH_INGEST_TOKEN=TOKEN, MAX_BODY_BYTES=65536,
                           AUTH_FAILURE_LIMIT=0))


def seeded(app):
    runtime = app.server.extensions["pipewatch"]
    summary = seed_demo(runtime.db, runtime.config, days=2, seed=7)
    assert summary["metrics"] > 0 and summary["scrape_runs"] > 0
    app.server.extensions["pipewatch.evaluator"].run_once()  # open the seeded incidents' alerts
    return app


def run_schemathesis(schema_url: str, workdir: Path, token: str = TOKEN
                     ) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`schemathesis run` on `schema_url`; the process and its NDJSON event stream."""
    events_path = workdir / "events.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", schema_url,
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--generation-deterministic",
        "--workers", "1", "--request-timeout", "20", "--continue-on-failure",
        # The WebSocket route is described for people; its own tests use a WebSocket client.
        "--exclude-path", "/api/v1/ws/monitoring/pipeline-status",
        "--header", f"Authorization: Bearer {token}",
        "--report", "ndjson", "--report-ndjson-path", str(events_path),
        "--no-color", "--output-truncate", "false"]
    # cwd: schemathesis writes its report directory where it runs, not into the checkout.
    process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert events_path.exists(), process.stdout + process.stderr
    events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    return process, events


def _passed_paths(events: list[dict], phase: str) -> set[str]:
    """Paths of the operations that passed `phase` (ScenarioFinished events' labels)."""
    paths = set()
    for event in events:
        finished = event.get("ScenarioFinished")
        if finished and finished["phase"] == phase and finished["status"] == "success":
            paths.add(finished["recorder"]["label"].split(" ", 1)[1])
    return paths


def test_schemathesis_finds_no_failure_on_any_operation(live_server, tmp_path):
    process, events = run_schemathesis(live_server.url + "/api/v1/openapi.json", tmp_path)
    report = process.stdout + process.stderr
    assert process.returncode == 0, report
    assert _passed_paths(events, "fuzzing") == DOCUMENTED_HTTP, report
    # The coverage phase's boundary and wrong-type values, for every operation with inputs.
    assert WITH_INPUTS <= _passed_paths(events, "coverage"), report


@pytest.fixture
def guarded_server(db_url):
    """The app with PIPEWATCH_READ_TOKEN set too, on both databases: the answers behind the
    guard are the same documents, and must conform on each."""
    from app import create_app

    app = seeded(create_app({**BASE_OVERRIDES, "DATABASE_URL": db_url,
                             "PIPEWATCH_INGEST_TOKEN": TOKEN,
                             "PIPEWATCH_READ_TOKEN": READ_TOKEN, "AUTH_FAILURE_LIMIT": 0}))
    server = ServerThread(app.server).start()
    yield server
    server.stop()
    app.server.extensions["pipewatch"].close()


def test_schemathesis_finds_no_failure_behind_the_read_token(guarded_server, tmp_path):
    """Reads with the read token (writes, holding another token, are documented 401s)."""
    process, events = run_schemathesis(guarded_server.url + "/api/v1/openapi.json", tmp_path,
                                       token=READ_TOKEN)
    report = process.stdout + process.stderr
    assert process.returncode == 0, report
    assert _passed_paths(events, "fuzzing") == DOCUMENTED_HTTP, report
    sources = guarded_server.url + "/api/v1/sources"
    assert requests.get(sources, timeout=10).status_code == 401
    answer = requests.get(sources, headers={"Authorization": f"Bearer {READ_TOKEN}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["items"]
