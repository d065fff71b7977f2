"""The live page in headless Chromium: real time, fallback to polling, recovery, restarts.

Between the browser and the app (its own process) sits a TCP proxy that can refuse WebSocket
upgrades and cut the open socket while plain HTTP still passes.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from api.settings import load_config
from dashboard import ids
from tests.browser.fixtures import screenshot, start_app, text
from tests.browser.support import TcpProxy, wait_for, write_aggregate

REALTIME, POLLING = "Real-time Updates", "Polling Mode"
RECONNECTING, DISCONNECTED = "Reconnecting…", "Disconnected"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chrome_available):
    app = start_app(tmp_path_factory.mktemp("browser-live"))
    proxy = TcpProxy(app.port)
    yield app, proxy
    proxy.close()
    app.stop()


@pytest.fixture
def page(browser, stack):
    """The dashboard opened through the proxy, live over the socket."""
    app, proxy = stack
    proxy.block_websockets = False
    browser.get(proxy.url + "/")
    wait_for(lambda: text(browser, ids.CONN_PILL) == REALTIME, 15, "the pill says Real-time Updates")
    return browser


def pill(driver) -> str:
    return text(driver, ids.CONN_PILL)


def card_value(driver, key: str) -> str:
    return text(driver, ids.card(key, "value"))


def test_live_page_shows_data_and_a_new_metric_within_two_seconds(page, stack):
    app, _ = stack
    assert re.fullmatch(r"\d{1,3}\.\d%", card_value(page, "geocoding"))
    assert re.fullmatch(r"\d{1,3}\.\d%", card_value(page, "validation"))
    assert text(page, ids.OVERALL_PILL).startswith("Pipeline ")
    assert "via socket" in text(page, ids.UPDATED) or "via page" in text(page, ids.UPDATED)
    wait_for(lambda: len(page.find_elements("css selector", f"#{ids.SOURCES_TABLE} tbody tr")) > 3,
             5, "the per-source table has rows")
    screenshot(page, "state-realtime")

    write_aggregate(app.database_url, (873, 1000), (941, 1000), load_config())
    wait_for(lambda: card_value(page, "geocoding") == "87.3%", 2.0,
             "the new geocoding rate 87.3% is on the page")
    assert card_value(page, "validation") == "94.1%"
    assert pill(page) == REALTIME
    # The report the page sends on its socket every `report_s` ticks: the shown timestamp only.
    shown = page.execute_script(
        "return window.dash_clientside.pipewatch.report("
        "60, {state: 'connected'}, {doc: {timestamp: 'T'}}, {report_s: 30})")
    assert json.loads(shown) == {"type": "report", "shown": "T", "tick": 60}
    assert page.execute_script("var pw = window.dash_clientside; return pw.pipewatch.report("
                               "61, {state: 'connected'}, null, {report_s: 30}) === pw.no_update")
    assert page.execute_script("var pw = window.dash_clientside; return pw.pipewatch.report("
                               "60, {state: 'connected'}, null, {report_s: 30}, {readyState: 3})"
                               " === pw.no_update"), "never sent on a closed socket"


def test_socket_down_polls_then_returns_to_real_time(page, stack):
    app, proxy = stack
    proxy.block_websockets = True
    assert proxy.cut_websockets() >= 1
    wait_for(lambda: pill(page) == POLLING, 10, "the pill says Polling Mode")
    screenshot(page, "state-polling")

    write_aggregate(app.database_url, (512, 1000), (777, 1000), load_config())
    wait_for(lambda: card_value(page, "geocoding") == "51.2%", 12,
             "a metric written while polling appears")
    assert card_value(page, "validation") == "77.7%"
    assert app.polls_total() > 0
    # Each timer poll was the polling page's report (README "Self-metrics").
    assert app.counter(re.escape('pipewatch_page_seconds_total{mode="polling"}')) > 0
    assert proxy.refused_upgrades > 0, "the page kept trying the socket while polling"

    reconnects = app.counter("pipewatch_ws_reconnects_total")
    proxy.block_websockets = False
    wait_for(lambda: pill(page) == REALTIME, 35, "the pill returns to Real-time Updates")
    # The socket that came back was a reconnect attempt (`?attempt=N`, counted by the server).
    assert app.counter("pipewatch_ws_reconnects_total") == reconnects + 1
    screenshot(page, "state-realtime-again")
    before = app.polls_total()
    time.sleep(7)  # more than one poll interval: a running poll timer would have fired
    assert app.polls_total() == before, "polling stopped once the socket was back"


def test_server_restart_shows_disconnected_then_recovers(page, stack):
    app, _ = stack
    app.stop()
    wait_for(lambda: pill(page) in (RECONNECTING, DISCONNECTED), 5, "the page notices the loss")
    if pill(page) == RECONNECTING:
        screenshot(page, "state-reconnecting")
    wait_for(lambda: pill(page) == DISCONNECTED, 20, "the pill says Disconnected")
    panels = page.find_elements("css selector", ".pw-panel")
    assert panels and all("pw-stale" in p.get_attribute("class") for p in panels)
    assert "does not answer" in text(page, ids.BANNER)
    screenshot(page, "state-disconnected")

    app.start()
    wait_for(lambda: pill(page) == REALTIME, 45, "back to Real-time Updates by itself")
    wait_for(lambda: not page.find_elements("css selector", ".pw-panel.pw-stale")
             or all("pw-stale" not in p.get_attribute("class")
                    for p in page.find_elements("css selector", f"#{ids.SOURCES}, #{ids.HEALTH}")),
             5, "live panels are no longer stale")
    assert text(page, ids.BANNER) == ""
