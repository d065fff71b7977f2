"""Acting on alerts from the page, in headless Chromium against the app in its own process:
acknowledge with a note and see it on a second page over the socket; silence and see the card
greyed "silenced until"; the API's refusals shown in the dialog; the history panel listing the
stored transitions, and reloading when one more is stored.

The app runs with ALERT_EVALUATE_SECONDS=0: the test evaluates the lifecycle itself (another
process on the same SQLite file, as a second worker would), with ALERT_FOR_SECONDS=0 so the
seeded incidents fire at once; the app hears the commit and pushes it.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from api.timeutil import parse_iso, utcnow
from dashboard import ids
from tests.browser.conftest import FIX, pytest_setup_options
from tests.browser.fixtures import screenshot, seeded_database, text
from tests.browser.support import AppProcess, wait_for, write_aggregate
from tests.status_fixtures import config, evaluate_alerts

REALTIME = "Real-time Updates"
LIFECYCLE = config(ALERT_FOR_SECONDS=0, ALERT_KEEP_FIRING_SECONDS=0)
SILENCED = "source_stale:sahara_reporters"  # the seeded silent source: the silence test's alert


def open_after_evaluating(database_url: str) -> int:
    """Evaluate now (the seed may have left a pending alert due to fire), then count the open
    occurrences: the seed records its incidents' history, so an evaluation right after it may
    rightly write nothing, but the incidents must be open."""
    from sqlalchemy import func, select

    from api.storage.db import Database
    from api.storage.models import OPEN_ALERT_STATES, AlertOccurrence

    evaluate(database_url)
    db = Database(database_url)
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(AlertOccurrence).where(
                AlertOccurrence.state.in_(OPEN_ALERT_STATES)))
    finally:
        db.dispose()


def evaluate(database_url: str) -> int:
    """One evaluation of the lifecycle now, from this process (what an evaluator writes)."""
    from api.storage.db import Database

    db = Database(database_url)
    try:
        return evaluate_alerts(db, utcnow(), LIFECYCLE)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def app(tmp_path_factory, chrome_available):
    url = seeded_database(tmp_path_factory.mktemp("browser-alerts"))
    served = AppProcess(url, settings={"ALERT_EVALUATE_SECONDS": "0"}).start()
    assert open_after_evaluating(url) > 0, "the seeded incidents are open alerts"
    yield served
    served.stop()


@pytest.fixture
def second_browser(chrome_available):
    """Another Chromium: a second person's page, with its own socket."""
    from selenium import webdriver

    try:
        driver = webdriver.Chrome(options=pytest_setup_options())
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"could not start a second headless Chromium ({exc}); `{FIX}`", pytrace=False)
    yield driver
    driver.quit()


def open_page(driver, app) -> None:
    driver.get(app.url + "/")
    wait_for(lambda: text(driver, ids.CONN_PILL) == REALTIME, 20, "the page is live")


def open_alerts(app) -> dict[str, dict]:
    doc = requests.get(app.url + "/api/v1/monitoring/pipeline-status", timeout=10).json()
    return {alert["key"]: alert for alert in doc["alerts"]}


def unacknowledged(alerts, *taken: str) -> dict:
    """A firing alert nobody acknowledged (the seeded history acknowledges one), other than the
    keys other tests act on."""
    return next(alert for alert in alerts if alert["state"] == "firing" and alert["ack"] is None
                and alert["silenced"] is None and alert["key"] not in taken)


def card(driver, alert_id: int):
    return driver.find_element(By.CSS_SELECTOR, f'li[data-alert="{alert_id}"]')


def press(driver, alert_id: int, action: str) -> None:
    wait_for(lambda: card(driver, alert_id).find_elements(By.CSS_SELECTOR, f".pw-alert-{action}"),
             20, f"the card of alert {alert_id} has its {action} button")
    card(driver, alert_id).find_element(By.CSS_SELECTOR, f".pw-alert-{action}").click()


def type_into(driver, element_id: str, value: str) -> None:
    field = wait_for(lambda: driver.find_element(By.ID, element_id), 5, f"#{element_id} shows")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    if value:
        field.send_keys(value)


def test_an_ack_with_a_note_shows_on_a_second_page_over_the_socket(browser, second_browser, app):
    alerts = open_alerts(app)
    target = unacknowledged(alerts.values(), SILENCED, "quality:geocoding_success_rate")
    open_page(browser, app)
    open_page(second_browser, app)
    second_browser.execute_script("window.__samePage = true")
    assert "Firing" in card(second_browser, target["id"]).text

    press(browser, target["id"], "ack")
    wait_for(lambda: text(browser, ids.ACT_TITLE).startswith("Acknowledge"), 5, "the dialog opens")
    type_into(browser, ids.ACT_ACTOR, "amina")
    type_into(browser, ids.ACT_NOTE, "rerunning the geocoder")
    browser.find_element(By.ID, ids.ACT_SUBMIT).click()
    wait_for(lambda: "Acknowledged" in text(browser, ids.ACT_FEEDBACK), 20, "the page says done")

    acked = r"Acknowledged by amina at \d{4}-\d\d-\d\d \d\d:\d\d UTC: rerunning the geocoder"
    wait_for(lambda: re.search(acked, card(second_browser, target["id"]).text), 20,
             "the second page shows the ack with its note")
    assert second_browser.execute_script("return window.__samePage") is True, "no reload"
    assert browser.execute_script("return localStorage.getItem('pipewatch.operator')") == "amina"
    assert "via socket" in text(second_browser, ids.UPDATED)
    assert open_alerts(app)[target["key"]]["ack"]["note"] == \
        "rerunning the geocoder"
    screenshot(second_browser, "alerts-acked-second-page")

    # The second person takes the ack back; the first page sees the button come back.
    press(second_browser, target["id"], "unack")
    wait_for(lambda: "Took the ack back" in text(second_browser, ids.ACT_FEEDBACK), 20,
             "the second page says the ack is taken back")
    wait_for(lambda: "Acknowledged by" not in card(browser, target["id"]).text
             and card(browser, target["id"]).find_elements(By.CSS_SELECTOR, ".pw-alert-ack"),
             20, "the first page shows it unacknowledged again")


def test_silence_from_the_page_greys_the_card_until_a_time(browser, app):
    target = open_alerts(app)[SILENCED]
    open_page(browser, app)
    press(browser, target["id"], "silence")
    wait_for(lambda: text(browser, ids.ACT_TITLE).startswith("Silence"), 5, "the dialog opens")
    type_into(browser, ids.ACT_ACTOR, "tunde")
    type_into(browser, ids.ACT_COMMENT, "")

    # No comment: the API's 422 is shown in the dialog, problem by problem; nothing written.
    browser.find_element(By.ID, ids.ACT_SUBMIT).click()
    error = wait_for(lambda: text(browser, ids.ACT_ERROR), 20, "the refusal is shown")
    assert "HTTP 422" in error and "comment" in error, error
    assert requests.get(app.url + "/api/v1/silences", timeout=10).json()["items"] == []
    screenshot(browser, "alerts-silence-refused")

    type_into(browser, ids.ACT_COMMENT, "sahara_reporters maintenance, CHG-1142")
    before = utcnow()
    browser.find_element(By.ID, ids.ACT_SUBMIT).click()
    wait_for(lambda: "Silenced" in text(browser, ids.ACT_FEEDBACK), 20, "the page says done")
    greyed = wait_for(lambda: "pw-silenced" in card(browser, target["id"]).get_attribute("class")
                      and card(browser, target["id"]), 20, "the card is greyed")
    until = re.search(r"Silenced until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC by tunde: "
                      r"sahara_reporters maintenance, CHG-1142", greyed.text)
    assert until, greyed.text
    (silence,) = requests.get(app.url + "/api/v1/silences", timeout=10).json()["items"]
    assert silence["matchers"] == {"source": None, "kind": None, "key": target["key"]}
    ends = parse_iso(silence["ends_at"])
    assert before + timedelta(minutes=59) < ends < utcnow() + timedelta(minutes=61)
    assert until.group(1) == ends.strftime("%Y-%m-%d %H:%M")
    filtered = browser.execute_script("return getComputedStyle(arguments[0].firstChild).filter",
                                      greyed)
    assert "grayscale" in filtered
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", greyed)
    screenshot(browser, "alerts-silenced")

    press(browser, target["id"], "unsilence")
    wait_for(lambda: "pw-silenced" not in card(browser, target["id"]).get_attribute("class"), 20,
             "ending the silence ungreys the card")

    # Until a chosen time, typed into the time field as a person would (read as UTC).
    tomorrow = (utcnow() + timedelta(days=1)).date()
    press(browser, target["id"], "silence")
    wait_for(lambda: text(browser, ids.ACT_TITLE).startswith("Silence"), 5, "the dialog opens")
    assert not browser.find_element(By.ID, ids.ACT_UNTIL).is_displayed()
    browser.find_element(By.XPATH, f'//*[@id="{ids.ACT_FOR}"]//label[contains(., "until")]').click()
    until_field = wait_for(lambda: browser.find_element(By.ID, ids.ACT_UNTIL).is_displayed()
                           and browser.find_element(By.ID, ids.ACT_UNTIL), 5, "the time field")
    until_field.send_keys(tomorrow.strftime("%m%d%Y"), Keys.TAB, "0630PM")
    type_into(browser, ids.ACT_COMMENT, "until tomorrow evening")
    browser.find_element(By.ID, ids.ACT_SUBMIT).click()
    wait_for(lambda: f"Silenced until {tomorrow.isoformat()} 18:30 UTC by tunde: until tomorrow "
                     "evening" in card(browser, target["id"]).text, 20,
             "the card is silenced until the chosen time")


def test_the_history_panel_lists_transitions_and_follows_new_ones(browser, app):
    open_page(browser, app)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".pw-history-row"), 20,
             "the history lists the stored transitions")
    assert "newest first" in text(browser, ids.HISTORY_NOTE)

    def newest() -> str:
        return browser.find_element(By.CSS_SELECTOR, ".pw-history-row").text

    # The all-sources geocoding rate collapses, then recovers: its alert fires, then resolves
    # (keep_firing_for 0); the panel lists each on top as it is stored, without a reload.
    write_aggregate(app.database_url, (500, 1000), (995, 1000), LIFECYCLE)
    assert evaluate(app.database_url) > 0
    wait_for(lambda: "All sources: geocoding success rate is 50.0 %" in newest(), 20,
             "the firing transition is listed first")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d firing error all sources #\d+ ", newest())
    write_aggregate(app.database_url, (990, 1000), (995, 1000), LIFECYCLE)
    assert evaluate(app.database_url) > 0
    wait_for(lambda: "resolved" in newest(), 20, "the resolution is listed first")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d resolved error all sources #\d+ "
                    r"All sources: geocoding success rate is 50.0 %", newest()), newest()
    browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", ids.HISTORY)
    screenshot(browser, "alerts-history")


def test_a_reader_sees_the_alerts_and_why_not_to_act_and_an_operator_acts(browser, tmp_path):
    """With both tokens set: signed in with the read token, the cards show their state but no
    buttons, and the page says why and where to sign in; signed in again with the operator
    token, the buttons act (through the browser's cookie, from the server's own page)."""
    read, operate = "browser-read-4471", "browser-operate-9925"
    url = seeded_database(tmp_path)
    assert open_after_evaluating(url) > 0
    app = AppProcess(url, settings={"ALERT_EVALUATE_SECONDS": "0", "PIPEWATCH_READ_TOKEN": read,
                                    "PIPEWATCH_OPERATOR_TOKEN": operate}).start()
    try:
        browser.get(app.url + "/healthz")
        browser.delete_all_cookies()
        for token in (read, operate):
            browser.get(app.url + "/login?next=/")
            field = wait_for(lambda: browser.find_element(By.ID, "token"), 20, "the sign-in form")
            field.send_keys(token)
            browser.find_element(By.ID, "sign-in").click()
            wait_for(lambda: text(browser, ids.CONN_PILL) == REALTIME, 20, "the page is live")
            wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "li[data-alert]"), 20,
                     "the alert cards show")
            if token == read:
                notice = text(browser, ids.READ_ONLY)
                assert "not act on them" in notice and "signed in to read" in notice
                assert "Firing" in browser.find_element(By.ID, ids.ISSUES_BODY).text
                assert not browser.find_elements(By.CSS_SELECTOR, ".pw-alert-actions")
                screenshot(browser, "alerts-reader")
        assert not browser.find_elements(By.ID, ids.READ_ONLY)
        headers = {"Authorization": f"Bearer {read}"}
        doc = requests.get(app.url + "/api/v1/monitoring/pipeline-status", headers=headers,
                           timeout=10).json()
        target = unacknowledged(doc["alerts"])
        press(browser, target["id"], "ack")
        type_into(browser, ids.ACT_ACTOR, "chika")
        browser.find_element(By.ID, ids.ACT_SUBMIT).click()
        wait_for(lambda: "Acknowledged by chika" in card(browser, target["id"]).text, 20,
                 "the operator's ack shows")

        # The sign-in ends elsewhere (a copy of the cookie signed out): the next action's 401
        # is shown where the person acted, with the way to sign in, not swallowed.
        (cookie,) = browser.get_cookies()
        signed_out = requests.post(app.url + "/logout", cookies={cookie["name"]: cookie["value"]},
                                   headers={"Origin": app.url}, allow_redirects=False, timeout=10)
        assert signed_out.status_code == 303
        press(browser, target["id"], "unack")
        refusal = wait_for(lambda: "HTTP 401" in text(browser, ids.ACT_FEEDBACK)
                           and text(browser, ids.ACT_FEEDBACK), 20, "the refusal is shown")
        assert "Sign in as an operator" in refusal, refusal
        assert "Acknowledged by chika" in card(browser, target["id"]).text
        screenshot(browser, "alerts-refused-401")
    finally:
        browser.delete_all_cookies()
        app.stop()
