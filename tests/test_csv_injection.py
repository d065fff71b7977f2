"""CSV formula injection (issue 10, item 3): every CSV path escapes cells a spreadsheet would
run, the way OWASP recommends, and ingest only takes source names of the documented shape.

The names are the issue's own examples. Rows carrying them are written straight to the table,
as rows written before the name rule (or by the tracker) would be: they stay readable, and
every CSV hands them to a spreadsheet as text.
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from api.csvcell import csv_text
from dashboard import figures
from tests.export_fixtures import T0, TOKEN, add, auth, count_metrics, metric

FORMULAS = ['=HYPERLINK("http://x")', "@SUM(1)", "+1+2", "=cmd|' /C calc'!A0", "-2+3",
            "\tTAB", "\r=1"]
# Each name as RFC 4180 text: a leading ' so a spreadsheet shows text, the cell quoted.
ESCAPED = ['"\'=HYPERLINK(""http://x"")"', '"\'@SUM(1)"', '"\'+1+2"', '"\'=cmd|\' /C calc\'!A0"',
           '"\'-2+3"', '"\'\tTAB"', '"\'\r=1"']


def test_cells_that_begin_like_a_formula_are_quoted_text():
    assert [csv_text(name) for name in FORMULAS] == ESCAPED
    assert csv_text("punch") == "punch"
    assert csv_text("a,b") == '"a,b"' and csv_text(' lead') == '" lead"'
    assert csv_text("1-2") == "1-2" and csv_text("x=1") == "x=1"  # only the first character


@pytest.fixture
def app(make_app):
    return make_app(PIPEWATCH_INGEST_TOKEN=TOKEN)


def test_the_export_escapes_them_on_both_databases(client, runtime):
    """On PostgreSQL this is the COPY path (EXPORT_CSV_VIA_COPY is on by default)."""
    add(runtime.db, [metric(T0 + timedelta(minutes=i), source=name)
                     for i, name in enumerate(FORMULAS + ["punch"])])
    raw = client.get("/api/v1/metrics?format=csv").get_data(as_text=True)
    lines = raw.split("\n")[1:]
    for name, escaped in zip(FORMULAS, ESCAPED):
        assert f",hourly,{escaped}," in raw, name
    assert ",hourly,punch," in lines[-2]
    table = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert [row["source"] for row in table] == ["'" + name for name in FORMULAS] + ["punch"]


def test_the_page_download_escapes_them_too():
    rows = [{"bucket_start": T0, "bucket": "hour", "source": name, "geocoding_attempts": 4,
             "geocoding_successes": 3, "validation_attempts": 0, "validation_passes": 0}
            for name in FORMULAS]
    text = figures.to_csv(figures.shown_rows(rows))
    for escaped in ESCAPED:
        assert f",hour,{escaped},4,3,0.75,0,0,,4\n" in text
    table = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["source"] for row in table] == ["'" + name for name in FORMULAS]


def _metric_body(source):
    return {"timestamp": "2026-11-25T20:00:00Z", "window_seconds": 3600,
            "metric_type": "hourly", "source": source, "geocoding_attempts": 3,
            "geocoding_successes": 3, "validation_attempts": 1, "validation_passes": 1}


def _run_body(source):
    return {"source": source, "started_at": "2026-11-25T20:00:00Z", "status": "success",
            "items_found": 1, "items_new": 1}


@pytest.mark.parametrize("source", FORMULAS + ["<script>x</script>", "a,b", 'say "hi"',
                                               "trail ", "_hidden", ".dot", "a/b", "x;y"])
def test_ingest_refuses_names_outside_the_pattern(client, runtime, source):
    for path, body in (("/api/v1/metrics", _metric_body), ("/api/v1/scrape-runs", _run_body)):
        response = client.post(path, json=body(source), headers=auth())
        assert response.status_code == 422, (path, source)
        [problem] = response.get_json()["error"]["details"]["problems"]
        assert problem["path"] == "source"
        assert problem["message"].startswith("source must")
    assert count_metrics(runtime.db) == 0


def test_ingest_takes_names_of_the_pattern(client):
    names = ["punch", "daily_trust", "Premium Times", "legit.ng", "the-cable", "ñandú 北京",
             "9ja", "a" * 100]
    response = client.post("/api/v1/metrics", json=[_metric_body(n) for n in names],
                           headers=auth())
    assert response.status_code == 201
    assert [item["source"] for item in response.get_json()["items"]] == names
