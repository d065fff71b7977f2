"""When the page trusts its socket, in headless Chromium: one decision, following the heartbeat.

A socket is trusted while a message came within dashboard/pageconfig.py's `silence_ms` (two
heartbeats and 5 s). These tests read the page's own trace (support.PAGE_TRACE: socket messages,
poll requests, the connection pill, a live panel's stale mark, on the page's clock), so the
order and timing of what it did is measured in the browser, not guessed from outside.
"""
from __future__ import annotations

import time

import pytest

from dashboard import ids
from dashboard.pageconfig import silence_ms
from tests.browser.fixtures import screenshot, seeded_database, text
from tests.browser.support import AppProcess, TcpProxy, page_trace, trace_page, wait_for

REALTIME = "Real-time Updates"
TICK_MS = 1000
"""The page checks its socket once a second (ids.TICK)."""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory, chrome_available) -> str:
    return seeded_database(tmp_path_factory.mktemp("browser-socket-trust"))


@pytest.fixture(scope="module")
def traced(browser):
    trace_page(browser)
    return browser


def app_with(database_url: str, heartbeat: float) -> AppProcess:
    return AppProcess(database_url, settings={"WS_HEARTBEAT_SECONDS": str(heartbeat)}).start()


def first_after(events, moment: float, value=None):
    """The time of the first [time, value] event after `moment` (with `value`, if given)."""
    return next((at for at, seen in events if at > moment and (value is None or seen == value)),
                None)


def first_time_after(times, moment: float):
    """The first of `times` after `moment`, or None."""
    return next((at for at in times if at > moment), None)


def test_a_stalled_socket_is_distrusted_and_polled_at_the_same_moment(traced, database_url):
    heartbeat = 1
    silence = silence_ms(heartbeat)
    app = app_with(database_url, heartbeat)
    proxy = TcpProxy(app.port)
    try:
        traced.get(proxy.url + "/")
        wait_for(lambda: text(traced, ids.CONN_PILL) == REALTIME, 15, "the page is live")
        wait_for(lambda: len(page_trace(traced)["messages"]) >= 3, 10, "heartbeats arrive")
        stalled_at = page_trace(traced)["now"]
        assert proxy.stall_websockets() == 1  # open, but nothing passes either way any more
        time.sleep(0.5)  # a frame already past the proxy may still land: let it
        settled_at = page_trace(traced)["now"]
        wait_for(lambda: text(traced, ids.CONN_PILL) != REALTIME, silence / 1000 + 5,
                 f"the page stops trusting a socket silent for {silence} ms")
        wait_for(lambda: first_time_after(page_trace(traced)["polls"], stalled_at), 5,
                 "the page polls")
        trace = page_trace(traced)
        last_message = max(trace["messages"])
        assert last_message <= settled_at, "nothing came through the stalled socket"
        distrusted = first_after(trace["pill"], stalled_at)
        greyed = first_after(trace["stale"], stalled_at, True)
        polled = first_time_after(trace["polls"], stalled_at)
        # Not before the heartbeat's silence rule allows, and at the first check after it.
        assert silence <= distrusted - last_message <= silence + TICK_MS + 500
        # One decision: panels grey, and polling starts, at the moment the socket is distrusted.
        assert greyed is not None and abs(greyed - distrusted) < 500, (greyed, distrusted)
        assert abs(polled - distrusted) < 500, (polled, distrusted)
        screenshot(traced, "socket-stalled")

        # New sockets pass the proxy: the page reconnects by itself and is live again.
        wait_for(lambda: text(traced, ids.CONN_PILL) == REALTIME, 20, "back to Real-time")
        wait_for(lambda: "pw-stale" not in traced.find_element("id", ids.SOURCES)
                 .get_attribute("class"), 5, "the live panels are fresh again")
    finally:
        proxy.close()
        app.stop()


def test_a_healthy_socket_under_a_40_s_heartbeat_is_kept_through_its_silence(traced,
                                                                            database_url):
    """The bug this replaced dropped every socket silent for 30 s, whatever the heartbeat."""
    app = app_with(database_url, 40)
    try:
        traced.get(app.url + "/")
        wait_for(lambda: text(traced, ids.CONN_PILL) == REALTIME, 15, "the page is live")
        opened = page_trace(traced)["now"]
        polls = app.polls_total()

        def silent_for() -> float:
            trace = page_trace(traced)
            return trace["now"] - max(trace["messages"])

        # Nothing changes in the database: the socket carries only the 40 s heartbeat.
        wait_for(lambda: silent_for() > 32_000, 80, "the socket stays silent for 32 s",
                 interval=0.5)
        trace = page_trace(traced)
        assert [seen for at, seen in trace["pill"] if at > opened] == [], "never left real time"
        assert first_after(trace["stale"], opened, True) is None, "live panels never greyed"
        assert first_time_after(trace["polls"], opened) is None
        assert app.polls_total() == polls
        assert text(traced, ids.CONN_PILL) == REALTIME
    finally:
        app.stop()


def test_the_first_numbers_are_drawn_from_the_layout_alone(traced, database_url):
    """The first paint is the status the layout carries, drawn by the page's one renderer into
    the layout as it arrives: the card has its number the moment it exists (before Dash runs
    any callback), with the socket hanging in "connecting" (no message, and no poll yet)."""
    app = app_with(database_url, 5)
    proxy = TcpProxy(app.port)
    proxy.hold_websockets = True
    try:
        traced.get(proxy.url + "/")
        wait_for(lambda: text(traced, ids.card("geocoding", "value")).endswith("%"), 8,
                 "the geocoding card shows a rate")
        trace = page_trace(traced)
        assert trace["first_value"].endswith("%"), trace["first_value"]
        assert trace["messages"] == [] and trace["polls"] == []
        assert text(traced, ids.CONN_PILL) == "Connecting…"
        assert text(traced, ids.OVERALL_PILL) in {"Pipeline Healthy", "Pipeline Warning",
                                                  "Pipeline Error"}
        for key in ids.CARD_KEYS:
            assert text(traced, ids.card(key, "value")).endswith("%"), key
            assert text(traced, ids.card(key, "status")) in {"Healthy", "Warning", "Error"}
        assert len(traced.find_elements("css selector", f"#{ids.SOURCES_TABLE} tbody tr")) > 3
        # The page's code has no defaults: a key it needed and did not get would throw here.
        errors = [entry["message"] for entry in traced.get_log("browser")
                  if entry["level"] == "SEVERE" and "pipewatch" in entry["message"]]
        assert errors == []
    finally:
        proxy.close()
        app.stop()
