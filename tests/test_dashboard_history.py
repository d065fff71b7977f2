"""The alert history panel on both databases: the stored transitions for the charts' selection,
newest first, a page at a time, and its callback as the browser calls it."""
from __future__ import annotations

from datetime import timedelta

from api import queries
from dashboard import history, ids
from dashboard.urlstate import Selection
from tests.status_fixtures import NOW, add_metrics, add_runs, config, evaluate_alerts, \
    metric, run

CONFIG = config(ALERT_FOR_SECONDS=120, ALERT_KEEP_FIRING_SECONDS=120)
STEP = timedelta(seconds=60)


def write_history(db) -> None:
    """All-sources geocoding bad for 3 minutes, then good (pending, firing, resolved); punch's
    newest run failed from minute 1 on (pending, firing): five transitions."""
    add_runs(db, [run("punch", NOW - timedelta(minutes=10)),
                  run("punch", NOW + STEP - timedelta(seconds=30), status="failed",
                      error="HTTP 500")])
    pattern = "bbbggggg"
    add_metrics(db, [metric(NOW + i * STEP, "aggregate", geo=(100, 80 if mark == "b" else 99),
                            val=(100, 100), window_seconds=86400)
                     for i, mark in enumerate(pattern)])
    for i in range(len(pattern)):
        evaluate_alerts(db, NOW + i * STEP, CONFIG)


def keys_and_states(rows):
    return [(row["key"], row["state"]) for row in rows]


def test_newest_first_in_pages_with_the_total(runtime):
    write_history(runtime.db)
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    rows, total = queries.newest_alert_events(runtime, start, end, None, 0, 2)
    assert total == 5
    assert keys_and_states(rows) == [("quality:geocoding_success_rate", "resolved"),
                                     ("scraper_failing:punch", "firing")]
    older, _ = queries.newest_alert_events(runtime, start, end, None, 2, 2)
    assert keys_and_states(older) == [("quality:geocoding_success_rate", "firing"),
                                      ("scraper_failing:punch", "pending")]
    last, _ = queries.newest_alert_events(runtime, start, end, None, 4, 2)
    assert keys_and_states(last) == [("quality:geocoding_success_rate", "pending")]
    punch, total = queries.newest_alert_events(runtime, start, end, ["punch"], 0, 10)
    assert total == 2 and {row["source"] for row in punch} == {"punch"}


def test_the_panel_follows_the_selection_and_says_what_it_shows(runtime, monkeypatch):
    write_history(runtime.db)
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    later = NOW + timedelta(minutes=30)
    shown = history.history_body(runtime, Selection("6h"), 0, now=later)
    assert shown["pages"] == 3 and shown["page"] == 0
    assert shown["note"].startswith("5 transitions · all sources · newest first · 1–2 shown")
    text = str(shown["table"])
    assert "resolved" in text and "2026-11-25 12:35:00" in text and "all sources" in text
    beyond = history.history_body(runtime, Selection("6h"), 9, now=later)
    assert beyond["page"] == 2 and "5–5 shown" in beyond["note"]  # the last page, not empty
    punch = history.history_body(runtime, Selection("6h", ("punch",)), 0, now=later)
    assert punch["note"].startswith("2 transitions · punch")
    empty = history.history_body(runtime, Selection("6h"), 0, now=NOW + timedelta(days=2))
    assert empty["note"] == "none · all sources"
    assert "No alert transitions in this range." in str(empty["table"])


def test_a_transition_stored_this_very_second_is_listed(runtime):
    """The panel reloads as soon as a transition is pushed, within the same second: a range
    ending "now" must include it (the charts' window ends at the whole second)."""
    write_history(runtime.db)
    resolved_at = NOW + 5 * STEP
    shown = history.history_body(runtime, Selection("6h"), 0,
                                 now=resolved_at + timedelta(milliseconds=500))
    assert shown["note"].startswith("5 transitions")


def test_the_history_callback_over_http_as_the_browser_calls_it(client, runtime):
    write_history(runtime.db)
    payload = {
        "output": "..{}.children...{}.children...{}.data...{}.disabled...{}.disabled..".format(
            ids.HISTORY_BODY, ids.HISTORY_NOTE, ids.HISTORY_PAGE, ids.HISTORY_NEWER,
            ids.HISTORY_OLDER),
        "outputs": [{"id": ids.HISTORY_BODY, "property": "children"},
                    {"id": ids.HISTORY_NOTE, "property": "children"},
                    {"id": ids.HISTORY_PAGE, "property": "data"},
                    {"id": ids.HISTORY_NEWER, "property": "disabled"},
                    {"id": ids.HISTORY_OLDER, "property": "disabled"}],
        "inputs": [{"id": ids.RANGE, "property": "value", "value": "custom"},
                   {"id": ids.CUSTOM_START, "property": "value", "value": "2026-11-25"},
                   {"id": ids.CUSTOM_END, "property": "value", "value": "2026-11-25"},
                   {"id": ids.SOURCES_PICK, "property": "value", "value": []},
                   {"id": ids.ALERTS_VERSION, "property": "data", "value": None},
                   {"id": ids.HISTORY_NEWER, "property": "n_clicks", "value": None},
                   {"id": ids.HISTORY_OLDER, "property": "n_clicks", "value": None}],
        "changedPropIds": [f"{ids.RANGE}.value"],
        "state": [{"id": ids.HISTORY_PAGE, "property": "data", "value": 3}],
    }
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()["response"]
    assert answer[ids.HISTORY_PAGE]["data"] == 0  # a new selection starts at the newest
    assert answer[ids.HISTORY_NOTE]["children"].startswith("5 transitions")
    assert answer[ids.HISTORY_NEWER]["disabled"] is True
    assert answer[ids.HISTORY_OLDER]["disabled"] is True
    assert "scraper_failing:punch" in str(answer[ids.HISTORY_BODY]["children"])
