"""The notifications panel's config: what assets/notifications.js shows and where it sends,
decided here; tests/browser/test_browser_notifications.py drives it in Chromium."""
from __future__ import annotations

import re
from pathlib import Path

from api.http.routes import ROUTES
from api.settings import load_config
from api.storage.models import NOTIFICATION_EVENTS, NOTIFICATION_STATES
from dashboard import ids, notify_panel, pageconfig

JS = (Path(__file__).resolve().parents[1] / "assets" / "notifications.js").read_text()


def panel(access=None, requests_prefix="/", routes_prefix="/"):
    page = pageconfig.page_config(load_config(environ={}), requests_prefix, routes_prefix,
                                  access)
    return notify_panel.panel_config(page["site_root"], page["acting"])


def test_the_paths_are_the_routes_and_follow_a_prefix():
    cfg = panel()
    served = {route.path for route in ROUTES}
    assert "/" + notify_panel.LIST_PATH in served and "/" + notify_panel.TEST_PATH in served
    assert cfg["list_path"] == "/api/v1/notifications"
    assert cfg["test_path"] == "/api/v1/notifications/test"
    prefixed = panel(requests_prefix="/watch/", routes_prefix="/")
    assert prefixed["list_path"] == "/watch/api/v1/notifications"
    assert cfg["root"] == ids.NOTIFY_ROOT


def test_the_test_button_follows_the_alert_buttons_and_a_reader_is_told_why():
    assert panel({"allowed": True})["may_test"] is True
    assert panel({"allowed": True})["reason"] is None
    refused = panel({"allowed": False, "status": 403, "code": "forbidden",
                     "message": "signed in to read, not to act", "sign_in": "/login"})
    assert refused["may_test"] is False
    assert refused["reason"] == "signed in to read, not to act"
    assert refused["sign_in"] == "/login"
    assert panel(None)["may_test"] is False  # outside a request nobody may act


def test_every_event_and_state_has_words_and_refreshes_are_modest():
    cfg = panel()
    assert set(cfg["events"]) == set(NOTIFICATION_EVENTS)
    assert set(cfg["state_classes"]) == set(NOTIFICATION_STATES)
    assert cfg["refresh_ms"] >= 10_000 > cfg["pending_refresh_ms"] > 0


def test_the_script_holds_no_paths_or_ids_of_its_own():
    code = re.sub(r"/\*.*?\*/|^\s*//.*$", "", JS, flags=re.S | re.M)
    assert not re.search(r"/api/v1|pw-notify-root|pw-status", code)
