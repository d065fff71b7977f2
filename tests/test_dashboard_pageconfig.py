"""The page's config: the browser's timings, panels, words and ids, decided from the settings.

assets/pipewatch.js has no defaults of its own, so these numbers are the page's behaviour; the
browser tests (tests/browser/test_browser_socket_trust.py) check the page follows them.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.settings import load_config
from dashboard import clientside, ids, pageconfig

JS = (Path(__file__).resolve().parents[1] / "assets" / "pipewatch.js").read_text()


def config(**overrides):
    return pageconfig.page_config(load_config(overrides, environ={}), "/", "/")


@pytest.mark.parametrize("heartbeat,silence", [(5, 15000), (1, 7000), (40, 85000), (0.5, 6000)])
def test_a_socket_is_trusted_for_two_heartbeats_and_five_seconds(heartbeat, silence):
    assert config(WS_HEARTBEAT_SECONDS=heartbeat)["silence_ms"] == silence


def test_a_slow_heartbeat_never_gets_a_healthy_socket_dropped():
    """The bug this replaced: a fixed 30 s silence timeout under a 40 s heartbeat."""
    for heartbeat in (5, 29, 30, 40, 120):
        assert config(WS_HEARTBEAT_SECONDS=heartbeat)["silence_ms"] > 2 * heartbeat * 1000


def test_metrics_go_stale_after_one_missed_collector_cycle():
    assert config(COLLECTOR_INTERVAL_SECONDS=300)["metrics_stale_ms"] == 660_000
    assert config(COLLECTOR_INTERVAL_SECONDS=60)["metrics_stale_ms"] == 180_000
    # No in-process collector (cron runs `collect`): the default cadence is assumed.
    assert config(COLLECTOR_INTERVAL_SECONDS=0)["metrics_stale_ms"] == 660_000


def test_polling_timings():
    page = config()
    assert page["poll_ms"] == 5000 and page["poll_stale_ms"] == 15000
    assert page["backoff_s"] == [1, 2, 4, 8, 16] and page["backoff_cap_s"] == 30
    assert page["connect_timeout_ms"] == 10000 and page["disconnect_ms"] == 12000


@pytest.mark.parametrize("requests_prefix,routes_prefix,root", [
    ("/", "/", "/"), ("/monitor/", "/", "/monitor/"), ("/monitor/dash/", "/dash/", "/monitor/")])
def test_paths_follow_where_the_app_is_mounted(requests_prefix, routes_prefix, root):
    page = pageconfig.page_config(load_config(environ={}), requests_prefix, routes_prefix)
    assert page["ws_path"] == root + "api/v1/ws/monitoring/pipeline-status"
    assert page["logout_path"] == root + "logout"


def test_every_panel_has_a_cadence_and_the_callback_wires_them_in_that_order():
    page = config()
    assert [(p["panel"], p["cadence"]) for p in page["panels"]] == [
        (ids.card("scraping", "panel"), "live"), (ids.card("geocoding", "panel"), "metrics"),
        (ids.card("validation", "panel"), "metrics"), (ids.HEALTH, "live"),
        (ids.ISSUES, "live"), (ids.SOURCES, "live")]
    assert [p["asof"] for p in page["panels"]][-1] == ids.asof(ids.SOURCES)
    assert clientside.PANELS == pageconfig.PANELS


def test_words_icons_and_kinds_cover_everything_the_document_can_say():
    page = config()
    assert set(page["status_icons"]) == {"pending", "healthy", "warning", "error"}
    assert set(page["connection_states"]) == {"connecting", "connected", "reconnecting",
                                              "polling-fallback", "disconnected"}
    assert page["connection_states"]["polling-fallback"]["method"] == "HTTP polling every 5 s"
    assert page["anomaly_kinds"] == {
        "geocoding_success_rate": {"label": "Geocoding success rate", "percent": True},
        "validation_pass_rate": {"label": "Validation pass rate", "percent": True},
        "volume": {"label": "Event volume", "percent": False}}
    assert page["triggers"]["socket_message"] == f"{ids.WS}.message"


def test_the_browser_code_retypes_no_id_threshold_or_timing():
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", JS, flags=re.S)
    component_ids = {value for value in vars(ids).values() if isinstance(value, str)
                     and value.startswith("pw-")}
    component_ids |= {ids.card(key, part) for key in ids.CARD_KEYS
                      for part in ("panel", "value", "status", "asof", "spark")}
    retyped = [name for name in component_ids if re.search(rf'"{name}[".]', code)]
    assert not retyped, "component ids come from the config"
    assert "0.9" not in code and "0.75" not in code, "rate thresholds are the server's"
    for number in ("30000", "15000", "12000", "10000", "5000", "660"):
        assert number not in code, f"{number}: timings come from the config"
    assert "bi-check-circle-fill" not in code and "Real-time Updates" not in code


def test_the_first_paint_targets_exist_in_the_layout_and_match_the_render_callback(app):
    """The page draws `render`'s outputs into the layout as it arrives: each target must be a
    component of the layout, and the callback must write them in the same order."""
    from dashboard.layout import build_layout
    from dashboard.urlstate import Selection

    runtime = app.server.extensions["pipewatch"]
    page = config()
    layout = build_layout(Selection("7d"), runtime.config, None, page)
    present = {getattr(node, "id", None) for node in layout._traverse()}
    assert page["first_paint"]["status_store"] == ids.STATUS in present
    assert [tuple(output) for output in page["first_paint"]["outputs"]] == \
        list(pageconfig.RENDER_OUTPUTS)
    assert {component for component, _prop in pageconfig.RENDER_OUTPUTS} <= present
    render = next(callback for callback in app._callback_list
                  if (callback.get("clientside_function") or {}).get("function_name") == "render")
    assert render["output"] == ".." + "...".join(
        f"{component}.{prop}" for component, prop in pageconfig.RENDER_OUTPUTS) + ".."
