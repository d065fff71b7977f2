"""The Notifications panel in headless Chromium, against the app in its own process with the
demo's built-in receiver (DEMO_RECEIVER, what `python app.py demo` sets with no receiver): an
alert that fires is listed with its delivery, delivered, without a reload; "Send test
notification" delivers a signed test to the receiver and the panel shows it; a reader sees the
receivers and deliveries but no button, and why; an operator on a server with no receiver is
shown the API's 409 as it is.

As in test_browser_alerts.py, the app runs with ALERT_EVALUATE_SECONDS=0 and the test evaluates
the lifecycle itself (another process on the same SQLite file, with the same receiver
settings, so its transitions write the outbox rows the app's sender delivers).
"""
from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from api.timeutil import utcnow
from dashboard import ids
from tests.browser.fixtures import screenshot, seeded_database, text
from tests.browser.support import AppProcess, free_port, wait_for, write_aggregate
from tests.status_fixtures import config, evaluate_alerts

SECRET = "browser-demo-secret-5530"
REALTIME = "Real-time Updates"


@pytest.fixture(scope="module")
def app(tmp_path_factory, chrome_available):
    url = seeded_database(tmp_path_factory.mktemp("browser-notify"))
    port = free_port()
    hook = f"http://127.0.0.1:{port}/api/v1/demo/webhooks"
    served = AppProcess(url, port=port, settings={
        "ALERT_EVALUATE_SECONDS": "0", "DEMO_RECEIVER": "1", "WEBHOOK_URLS": hook,
        "WEBHOOK_SECRET": SECRET, "NOTIFY_POLL_SECONDS": "0.2"}).start()
    served.lifecycle = config(ALERT_FOR_SECONDS=0, ALERT_KEEP_FIRING_SECONDS=0,
                              WEBHOOK_URLS=(hook,), WEBHOOK_SECRET=SECRET)
    evaluate(served)
    yield served
    served.stop()


def evaluate(app) -> int:
    from api.storage.db import Database

    db = Database(app.database_url)
    try:
        return evaluate_alerts(db, utcnow(), app.lifecycle)
    finally:
        db.dispose()


def open_page(driver, app, live: bool = True) -> None:
    driver.get(app.url + "/")
    if live:
        wait_for(lambda: text(driver, ids.CONN_PILL) == REALTIME, 20, "the page is live")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".pw-notify-panel[data-loaded]"), 20,
             "the notifications panel loaded")


def row(driver, uid: str):
    found = driver.find_elements(By.CSS_SELECTOR, f'tr.pw-notify-row[data-id="{uid}"]')
    return found[0] if found else None


def press_test(driver) -> None:
    """Press "Send test notification" from the keyboard (focus, Enter), as a keyboard user
    does: the panel is the page's last, and the charts and history above it fill in as they
    load and move it, which a pointer click at a computed point can miss."""
    button = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, ".pw-notify-test"), 20,
                      "the test button shows")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.send_keys(Keys.ENTER)


def shot(driver, name: str) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", ids.NOTIFY)
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    screenshot(driver, name)


def test_a_fired_alert_is_listed_and_delivered_without_a_reload(browser, app):
    open_page(browser, app)
    assert "webhook http://127.0.0.1:" in text(browser, ids.NOTIFY)
    # The all-sources geocoding rate collapses: its alert fires (for 0 s), and the transition's
    # notification is written with it; the page hears the change and lists the delivery.
    write_aggregate(app.database_url, (500, 1000), (995, 1000), app.lifecycle)
    assert evaluate(app) > 0
    log = requests.get(app.url + "/api/v1/notifications", timeout=10).json()
    firing = next(item for item in log["items"] if item["event"] == "firing"
                  and item["alert_key"].startswith("quality:geocoding_success_rate"))
    wait_for(lambda: row(browser, firing["id"]) is not None
             and row(browser, firing["id"]).get_attribute("data-state") == "delivered", 20,
             "the firing notification is listed, delivered")
    shown = row(browser, firing["id"]).text
    assert "firing" in shown and f"#{firing['alert_id']}" in shown and "delivered" in shown
    got = requests.get(app.url + "/api/v1/demo/webhooks", timeout=10).json()["items"]
    assert firing["id"] in [item["notification"]["id"] for item in got]
    write_aggregate(app.database_url, (990, 1000), (995, 1000), app.lifecycle)
    assert evaluate(app) > 0  # resolves: its notification is listed the same way
    wait_for(lambda: browser.find_elements(
        By.CSS_SELECTOR, 'tr.pw-notify-row[data-event="resolved"][data-state="delivered"]'), 20,
        "the resolved notification is listed, delivered")
    shot(browser, "notifications-fired")


def test_the_test_button_delivers_to_the_receiver_and_the_panel_shows_it(browser, app):
    open_page(browser, app)
    press_test(browser)
    said = wait_for(lambda: "Test notification written for 1 receiver" in text(browser, ids.NOTIFY)
                    and text(browser, ids.NOTIFY), 20, "the 202 is shown")
    assert "webhook http://127.0.0.1:" in said
    wait_for(lambda: browser.find_elements(
        By.CSS_SELECTOR, 'tr.pw-notify-row[data-event="test"][data-state="delivered"]'), 20,
        "the test is listed, delivered")
    uid = browser.find_element(
        By.CSS_SELECTOR, 'tr.pw-notify-row[data-event="test"]').get_attribute("data-id")
    got = requests.get(app.url + "/api/v1/demo/webhooks", timeout=10).json()["items"]
    assert [item["notification"]["event"] for item in got
            if item["notification"]["id"] == uid] == ["test"]
    shot(browser, "notifications-test")


def test_a_reader_sees_no_button_and_an_operator_sees_the_409(browser, tmp_path):
    read, operate = "notify-read-2207", "notify-operate-6618"
    app = AppProcess(seeded_database(tmp_path), settings={
        "ALERT_EVALUATE_SECONDS": "0", "PIPEWATCH_READ_TOKEN": read,
        "PIPEWATCH_OPERATOR_TOKEN": operate}).start()
    try:
        browser.get(app.url + "/healthz")
        browser.delete_all_cookies()
        for token in (read, operate):
            browser.get(app.url + "/login?next=/")
            field = wait_for(lambda: browser.find_element(By.ID, "token"), 20, "the sign-in form")
            field.send_keys(token)
            browser.find_element(By.ID, "sign-in").click()
            wait_for(lambda: browser.find_elements(By.CSS_SELECTOR,
                                                   ".pw-notify-panel[data-loaded]"), 20,
                     "the notifications panel loaded")
            assert "No receiver configured" in text(browser, ids.NOTIFY)
            if token == read:
                assert not browser.find_elements(By.CSS_SELECTOR, ".pw-notify-test")
                note = browser.find_element(By.CSS_SELECTOR, ".pw-notify-read-only").text
                assert "needs an operator" in note and "signed in to read" in note
                shot(browser, "notifications-reader")
        assert not browser.find_elements(By.CSS_SELECTOR, ".pw-notify-read-only")
        press_test(browser)
        wait_for(lambda: "HTTP 409 conflict: no receiver configured: set WEBHOOK_URLS, "
                         "ALERTMANAGER_URLS or APPRISE_URLS" in text(browser, ids.NOTIFY), 20,
                 "the 409 is shown as the API says it")
    finally:
        app.stop()
