"""Signing in with PIPEWATCH_READ_TOKEN in headless Chromium: the page sends a person to the
sign-in form, the token is typed once, and the dashboard comes back live over the WebSocket
(which the browser opens with the cookie, since it cannot send an Authorization header)."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from dashboard import ids
from tests.browser.fixtures import foreign_resources, screenshot, start_app, text
from tests.browser.support import wait_for

TOKEN = "browser-read-token-5c1e"
NEW_TOKEN = "browser-read-token-rotated-77d0"
REALTIME = "Real-time Updates"


def open_signed_out(driver, url: str) -> None:
    """Open `url` with no cookie: the browser is shared by the tests and cookies ignore ports."""
    driver.get(url.split("/?", 1)[0] + "/healthz")
    driver.delete_all_cookies()
    driver.get(url)


def sign_in(driver, token: str) -> None:
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "sign-in").click()


def test_page_asks_for_the_token_then_shows_the_live_dashboard(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPEWATCH_READ_TOKEN", TOKEN)  # the app process reads its environment
    app = start_app(tmp_path)
    try:
        open_signed_out(browser, app.url + "/?range=24h")
        wait_for(lambda: browser.find_elements(By.ID, "token"), 10, "the sign-in form shows")
        assert "/login?next=" in browser.current_url
        styled = browser.execute_script(
            "return getComputedStyle(document.getElementById('sign-in')).backgroundColor")
        assert styled not in ("", "rgba(0, 0, 0, 0)", "rgb(239, 239, 239)"), styled
        screenshot(browser, "auth-sign-in")

        sign_in(browser, "not-the-token")
        wait_for(lambda: browser.find_elements(By.ID, "sign-in-error"), 10, "the form says wrong")
        assert "Wrong token" in text(browser, "sign-in-error")
        assert not browser.get_cookies()

        sign_in(browser, TOKEN)
        wait_for(lambda: text(browser, ids.CONN_PILL) == REALTIME, 20,
                 "the dashboard is live over the socket")
        assert "range=24h" in browser.current_url and "/login" not in browser.current_url
        assert TOKEN not in browser.current_url
        (cookie,) = browser.get_cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        assert browser.execute_script("return document.cookie") == ""
        assert foreign_resources(browser) == []
        screenshot(browser, "auth-signed-in")
    finally:
        app.stop()


def test_an_open_page_goes_back_to_sign_in_when_the_token_changes(browser, tmp_path,
                                                                   monkeypatch):
    """The token is rotated (the server restarts with a new one) under a signed-in page: its
    socket and polls now get 401, and the page sends its person to the sign-in form, which
    brings them back to the same view, live."""
    monkeypatch.setenv("PIPEWATCH_READ_TOKEN", TOKEN)
    app = start_app(tmp_path)
    try:
        open_signed_out(browser, app.url + "/?range=24h")
        wait_for(lambda: browser.find_elements(By.ID, "token"), 10, "the sign-in form shows")
        sign_in(browser, TOKEN)
        wait_for(lambda: text(browser, ids.CONN_PILL) == REALTIME, 20, "the dashboard is live")

        app.stop()
        monkeypatch.setenv("PIPEWATCH_READ_TOKEN", NEW_TOKEN)
        app.start()
        wait_for(lambda: browser.find_elements(By.ID, "token"), 45,
                 "the open page goes to the sign-in form by itself")
        assert "/login?next=" in browser.current_url
        screenshot(browser, "auth-token-changed")
        sign_in(browser, NEW_TOKEN)
        wait_for(lambda: text(browser, ids.CONN_PILL) == REALTIME, 20,
                 "the dashboard is live again with the new token")
        assert "range=24h" in browser.current_url and "/login" not in browser.current_url
    finally:
        app.stop()
