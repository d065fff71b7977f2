"""The alert rules panel in headless Chromium, against the real app and its REST routes: an
operator adds a rule for a source and saves it (REST and the change log then show it, and the
page remembers who they are); a value the server refuses is shown beside its field and nothing
is saved; a change made through REST meanwhile makes Save answer 412, shown as such, and
Reload brings the current rules; a page not signed in as an operator is told so on Save (and
may save once signed in), a reader is told it may not."""
from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By

from dashboard import ids
from dashboard.rules_panel import OPERATOR_KEY
from tests.browser.fixtures import screenshot, seeded_database, start_app
from tests.browser.support import AppProcess, wait_for

OPERATOR_TOKEN = "browser-operator-token-3f9a"
READ_TOKEN = "browser-read-token-81c2"
UNSET = {"healthy_rate": None, "warning_rate": None, "stale_warning_seconds": None,
         "stale_error_seconds": None, "anomaly_threshold": None, "for_seconds": None,
         "keep_firing_for_seconds": None}


@pytest.fixture(scope="module")
def app(tmp_path_factory, chrome_available):
    app = start_app(tmp_path_factory.mktemp("browser-rules"))
    yield app
    app.stop()


def shot(driver, name: str) -> None:
    """A screenshot with the rules panel in view."""
    panel = driver.find_element(By.ID, ids.RULES)
    driver.execute_script("arguments[0].scrollIntoView()", panel)
    screenshot(driver, name)


def stored(app: AppProcess) -> dict:
    answer = requests.get(app.url + "/api/v1/rules", timeout=10)
    assert answer.status_code == 200
    return answer.json()


def changes(app: AppProcess) -> list[dict]:
    return requests.get(app.url + "/api/v1/rules/changes", timeout=10).json()["items"]


def put_over_rest(app: AppProcess, rules: list[dict], by: str, comment: str = "",
                  headers: dict | None = None) -> dict:
    """Replace the rules as a program on the server's machine would (no operator token set:
    the local machine may act)."""
    answer = requests.put(app.url + "/api/v1/rules", timeout=10, headers=headers or {},
                          json={"rules": rules, "by": by, "comment": comment})
    assert answer.status_code == 200, answer.text
    return answer.json()


def editor_version(driver) -> str | None:
    found = driver.find_elements(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-editor")
    return found[0].get_attribute("data-version") if found else None


def open_page(driver, app: AppProcess) -> None:
    """The dashboard, with the rules panel showing the stored rules."""
    driver.get(app.url + "/")
    version = str(stored(app)["version"])
    wait_for(lambda: editor_version(driver) == version, 15,
             f"the rules panel shows version {version}")


def rows(driver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} tr.pw-rule")


def field(row, name: str):
    if name in ("source", "kind"):
        return row.find_element(By.CSS_SELECTOR, f".pw-rule-{name}")
    return row.find_element(By.CSS_SELECTOR, f'input[data-setting="{name}"]')


def feedback(row, name: str) -> str:
    """The text shown beside a field (its cell's problem line)."""
    return field(row, name).find_element(By.XPATH, "./ancestor::td[1]").find_element(
        By.CSS_SELECTOR, ".invalid-feedback").text


def add_rule(driver, source: str = "", kind: str | None = None, **values) -> object:
    driver.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-add").click()
    row = rows(driver)[-1]
    if source:
        field(row, "source").send_keys(source)
    if kind:
        from selenium.webdriver.support.ui import Select
        Select(field(row, "kind")).select_by_value(kind)
    for name, value in values.items():
        field(row, name).send_keys(str(value))
    return row


def fill(driver, css: str, value: str) -> None:
    element = driver.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} {css}")
    element.clear()
    element.send_keys(value)


def save(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-save").click()


def message(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-message").text


def newest_change_text(driver) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-change")
    return found[0].text if found else ""


def test_an_operator_adds_a_rule_for_a_source_and_it_is_stored_and_logged(browser, app):
    put_over_rest(app, [], by="test setup", comment="start from the defaults")
    open_page(browser, app)
    version = stored(app)["version"]
    defaults = browser.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} tr.pw-rules-defaults")
    assert defaults.find_element(By.CSS_SELECTOR, 'td[data-setting="healthy_rate"]').text == "0.9"
    assert rows(browser) == []

    add_rule(browser, "vanguard", healthy_rate="0.7", warning_rate="0.5")
    fill(browser, ".pw-rules-by", "amina")
    fill(browser, ".pw-rules-comment", "vanguard's articles rarely name a town")
    save(browser)
    wait_for(lambda: editor_version(browser) == str(version + 1), 10, "the page saved a version")
    assert "Saved" in message(browser)

    doc = stored(app)
    assert doc["rules"] == [{**UNSET, "source": "vanguard", "kind": None,
                             "healthy_rate": 0.7, "warning_rate": 0.5}]
    assert doc["version"] == version + 1 and doc["updated_by"] == "amina"
    (change, *_) = changes(app)
    assert (change["by"], change["comment"]) == ("amina", "vanguard's articles rarely name a town")
    assert change["before"] == [] and change["after"] == doc["rules"]

    wait_for(lambda: "amina" in newest_change_text(browser), 10, "the change log lists it")
    logged = newest_change_text(browser)
    assert "vanguard's articles rarely name a town" in logged
    assert "Added vanguard · any kind: Healthy rate 0.7, Warning rate 0.5" in logged
    shot(browser, "rules-saved")

    # Who they are is remembered for the next visit (and the page's other operator forms).
    assert browser.execute_script("return localStorage.getItem(arguments[0])",
                                  OPERATOR_KEY) == "amina"
    open_page(browser, app)
    assert browser.find_element(By.CSS_SELECTOR, ".pw-rules-by").get_attribute("value") == "amina"
    (row,) = rows(browser)
    assert field(row, "source").get_attribute("value") == "vanguard"
    assert field(row, "healthy_rate").get_attribute("value") == "0.7"
    assert field(row, "for_seconds").get_attribute("value") == ""  # inherited

    # Changing a value and removing the row are changes too, with a readable before -> after.
    field(row, "healthy_rate").clear()
    field(row, "healthy_rate").send_keys("0.8")
    save(browser)
    wait_for(lambda: editor_version(browser) == str(version + 2), 10, "the change is saved")
    wait_for(lambda: "Healthy rate 0.7 → 0.8" in newest_change_text(browser), 10,
             "the log shows the value's before and after")
    rows(browser)[0].find_element(By.CSS_SELECTOR, ".pw-rule-remove").click()
    save(browser)
    wait_for(lambda: editor_version(browser) == str(version + 3), 10, "the removal is saved")
    assert stored(app)["rules"] == []
    wait_for(lambda: "Removed vanguard · any kind" in newest_change_text(browser), 10,
             "the log shows the removal")


def test_a_value_the_server_refuses_is_shown_beside_it_and_nothing_is_saved(browser, app):
    kept = put_over_rest(app, [{"source": "punch", "for_seconds": 60}], by="test setup")
    logged = len(changes(app))
    open_page(browser, app)
    (punch,) = rows(browser)

    too_high = add_rule(browser, "vanguard", "quality", healthy_rate="1.5")
    wrong_kind = add_rule(browser, kind="anomaly", healthy_rate="0.8")
    fill(browser, ".pw-rules-by", "amina")
    save(browser)

    wait_for(lambda: feedback(too_high, "healthy_rate"), 10, "the problem shows beside the field")
    assert feedback(too_high, "healthy_rate") == "must be at least 0 and at most 1"
    assert "is-invalid" in field(too_high, "healthy_rate").get_attribute("class")
    assert "judges quality alerts only" in feedback(wrong_kind, "healthy_rate")
    assert feedback(punch, "for_seconds") == ""
    assert "is-invalid" not in field(punch, "for_seconds").get_attribute("class")
    assert "Not saved" in message(browser)
    shot(browser, "rules-refused")

    assert stored(app) == kept
    assert len(changes(app)) == logged
    assert editor_version(browser) == str(kept["version"])


def test_a_change_made_over_rest_meanwhile_makes_save_answer_412(browser, app):
    put_over_rest(app, [], by="test setup")
    open_page(browser, app)
    opened = editor_version(browser)

    theirs = put_over_rest(app, [{"source": "punch", "for_seconds": 600}], by="rest-script",
                           comment="punch is slow to recover")
    add_rule(browser, "vanguard", anomaly_threshold="5")
    fill(browser, ".pw-rules-by", "amina")
    save(browser)

    wait_for(lambda: "The rules changed since you opened them: reload" in message(browser), 10,
             "the page says the rules changed")
    assert editor_version(browser) == opened
    assert stored(app) == theirs, "the page's rules were not saved over theirs"
    shot(browser, "rules-changed-meanwhile")

    browser.find_element(By.CSS_SELECTOR, ".pw-rules-reload-changed").click()
    wait_for(lambda: editor_version(browser) == str(theirs["version"]), 10, "reloaded")
    (row,) = rows(browser)
    assert field(row, "source").get_attribute("value") == "punch"
    assert field(row, "for_seconds").get_attribute("value") == "600"
    wait_for(lambda: "rest-script" in newest_change_text(browser), 10, "their change is listed")

    add_rule(browser, "vanguard", anomaly_threshold="5")
    save(browser)
    wait_for(lambda: editor_version(browser) == str(theirs["version"] + 1), 10,
             "after reloading, Save goes through")
    assert {rule["source"] for rule in stored(app)["rules"]} == {"punch", "vanguard"}


def sign_in(driver, token: str) -> None:
    wait_for(lambda: driver.find_elements(By.ID, "token"), 10, "the sign-in form shows")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()


def test_a_page_not_signed_in_as_operator_is_told_so_and_signing_in_lets_it_save(browser,
                                                                                tmp_path):
    app = AppProcess(seeded_database(tmp_path),
                     settings={"PIPEWATCH_OPERATOR_TOKEN": OPERATOR_TOKEN}).start()
    try:
        browser.get(app.url + "/healthz")
        browser.delete_all_cookies()
        open_page(browser, app)
        add_rule(browser, "vanguard", for_seconds="300")
        fill(browser, ".pw-rules-by", "amina")
        save(browser)
        wait_for(lambda: "HTTP 401" in message(browser), 10, "the page says why")
        assert "Not signed in as an operator" in message(browser)
        assert "/login" not in browser.current_url and len(rows(browser)) == 1, \
            "the edits stay on the page"
        assert stored(app)["rules"] == [] and stored(app)["version"] == 0
        shot(browser, "rules-not-operator")

        browser.find_element(By.CSS_SELECTOR, f"#{ids.RULES_ROOT} .pw-rules-sign-in").click()
        sign_in(browser, OPERATOR_TOKEN)
        wait_for(lambda: editor_version(browser) == "0", 20,
                 "back on the page, signed in as an operator")
        add_rule(browser, "vanguard", for_seconds="300")
        assert browser.find_element(By.CSS_SELECTOR, ".pw-rules-by").get_attribute("value") \
            == "amina"
        save(browser)
        wait_for(lambda: editor_version(browser) == "1", 10, "the operator's Save goes through")
        assert stored(app)["rules"] == [{**UNSET, "source": "vanguard", "kind": None,
                                         "for_seconds": 300}]
    finally:
        app.stop()


def test_a_reader_is_told_it_may_not_change_the_rules(browser, tmp_path):
    app = AppProcess(seeded_database(tmp_path),
                     settings={"PIPEWATCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
                               "PIPEWATCH_READ_TOKEN": READ_TOKEN}).start()
    try:
        browser.get(app.url + "/healthz")
        browser.delete_all_cookies()
        browser.get(app.url + "/")
        sign_in(browser, READ_TOKEN)
        wait_for(lambda: editor_version(browser) == "0", 20, "the reader sees the rules")
        add_rule(browser, "vanguard", for_seconds="300")
        fill(browser, ".pw-rules-by", "amina")
        save(browser)
        wait_for(lambda: "HTTP 403" in message(browser), 10, "the page says why")
        assert "Not allowed to change the rules" in message(browser)
        assert "signed in to read, not to act" in message(browser)  # the server's words
        shot(browser, "rules-reader")
        answer = requests.get(app.url + "/api/v1/rules", timeout=10,
                              headers={"Authorization": f"Bearer {READ_TOKEN}"}).json()
        assert answer["rules"] == [] and answer["version"] == 0
    finally:
        app.stop()
