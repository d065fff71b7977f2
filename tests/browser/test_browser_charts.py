"""The trend charts in headless Chromium: controls change them, the URL reproduces the view,
the CSV holds exactly the rows shown; and the page loads nothing from another host."""
from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from api.timeutil import UTC, floor_hour, isoformat, utcnow
from dashboard import ids
from tests.browser.fixtures import foreign_resources, screenshot, start_app, text
from tests.browser.support import wait_for, write_hourly


@pytest.fixture(scope="module")
def app(tmp_path_factory, chrome_available):
    # History ends an hour ago, so a row for the current hour is news the charts must show.
    process = start_app(tmp_path_factory.mktemp("browser-charts"), utcnow() - timedelta(hours=1))
    yield process
    process.stop()


def traces(driver, graph_id: str) -> list[dict]:
    """The traces Plotly drew in a dcc.Graph: name and x values."""
    return driver.execute_script(
        "const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => ({name: t.name, x: (t.x || []).filter((x, i) =>"
        " t.y[i] !== null), y: (t.y || []).filter(y => y !== null)})) : null;", f"#{graph_id}")


def chart_ready(driver, graph_id: str = ids.TREND_VOL):
    drawn = traces(driver, graph_id)
    return drawn if drawn and all(t["x"] for t in drawn) else None


def click_option(driver, group_id: str, label: str) -> None:
    driver.find_element(By.XPATH, f"//*[@id='{group_id}']//label[normalize-space()='{label}']").click()


def choose_sources(driver, names: list[str]) -> None:
    """Open the sources dropdown (Dash 4's), tick each name, close it."""
    trigger = driver.find_element(By.ID, ids.SOURCES_PICK)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", trigger)
    trigger.click()
    for name in names:
        option = wait_for(lambda: driver.find_element(
            By.XPATH, f"//*[@role='option'][.//input[@value='{name}']]"), 5, f"option {name}")
        option.click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def query(driver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


def test_page_styles_and_icons_come_from_the_app_itself(browser, app):
    browser.get(app.url + "/")
    wait_for(lambda: chart_ready(browser), 15, "the charts are drawn")
    wait_for(lambda: browser.execute_script(
        "return document.fonts.status === 'loaded' && document.fonts.check('16px bootstrap-icons')"),
        10, "the Bootstrap Icons font is loaded")
    navbar = browser.find_element(By.CSS_SELECTOR, ".pw-navbar")
    assert navbar.value_of_css_property("background-color") in ("rgba(33, 37, 41, 1)",
                                                               "rgb(33, 37, 41)")
    assert foreign_resources(browser) == []


def test_controls_change_charts_and_the_url_reopens_the_view(browser, app):
    browser.get(app.url + "/?range=24h")
    first = wait_for(lambda: chart_ready(browser), 15, "the 24 h charts are drawn")
    assert [t["name"] for t in first] == ["all sources"]
    assert 20 <= len(first[0]["x"]) <= 25          # hourly buckets over 24 h

    click_option(browser, ids.BUCKET, "Day")
    wait_for(lambda: (chart_ready(browser) or [{}])[0].get("x") and
             len(chart_ready(browser)[0]["x"]) <= 2, 10, "day buckets: one or two bars")
    wait_for(lambda: query(browser).get("bucket") == ["day"], 5, "the URL says bucket=day")

    click_option(browser, ids.RANGE, "7 d")
    wait_for(lambda: query(browser).get("range") == ["7d"], 5, "the URL says range=7d")
    click_option(browser, ids.BUCKET, "Hour")
    wait_for(lambda: len((chart_ready(browser) or [{"x": []}])[0]["x"]) > 48, 10,
             "7 days of hourly buckets (3 days of data)")

    choose_sources(browser, ["punch", "vanguard"])
    wait_for(lambda: sorted(t["name"] for t in chart_ready(browser) or []) == ["punch", "vanguard"],
             10, "one trace per chosen source")
    wait_for(lambda: query(browser).get("sources") == ["punch,vanguard"], 5,
             "the URL lists the sources")
    shown = {t["name"]: t["x"] for t in chart_ready(browser)}
    screenshot(browser, "charts-selection")

    link = browser.current_url
    browser.get("about:blank")
    browser.get(link)
    again = wait_for(lambda: chart_ready(browser), 15, "the shared link draws the charts")
    assert {t["name"]: t["x"] for t in again} == shown
    assert "?range=7d" in link
    checked = browser.find_element(By.CSS_SELECTOR, f"#{ids.RANGE} input:checked")
    assert checked.get_attribute("value") == "7d"
    assert browser.find_element(By.CSS_SELECTOR, f"#{ids.BUCKET} input:checked") \
        .get_attribute("value") == "hour"

    # The geocoding chart shades a source's expected band under its line once the source has
    # enough history (ANOMALY_MIN_HISTORY_HOURS before the day): give punch 4 more days.
    older_history(app.database_url, "punch", days=4)
    browser.get(link)
    band = wait_for(lambda: [t for t in traces(browser, ids.TREND_GEO) or []
                             if t["name"] == "punch expected band" and t["y"]], 15,
                    "the expected band of punch is drawn")
    assert all(0 <= y <= 1 for y in band[0]["y"])


def older_history(database_url: str, source: str, days: int) -> None:
    """`days` of normal hourly rows of `source` before the oldest seeded hour."""
    from sqlalchemy import func, insert, select

    from api.storage.db import Database
    from api.storage.models import DataQualityMetric as M

    db = Database(database_url)
    try:
        with db.session() as session:
            oldest = session.scalar(select(func.min(M.timestamp)).where(M.metric_type == "hourly"))
            oldest = oldest.replace(tzinfo=oldest.tzinfo or UTC)
            session.execute(insert(M), [
                {"timestamp": oldest - timedelta(hours=back), "window_seconds": 3600,
                 "metric_type": "hourly", "source": source, "geocoding_attempts": 20,
                 "geocoding_successes": 19, "validation_attempts": 20, "validation_passes": 19,
                 "status": "healthy", "created_at": oldest}
                for back in range(1, days * 24 + 1)])
    finally:
        db.dispose()


def test_csv_download_has_exactly_the_rows_shown(browser, app):
    browser.get(app.url + "/?range=24h&sources=punch,vanguard&bucket=hour")
    drawn = wait_for(lambda: chart_ready(browser), 15, "the charts are drawn")
    folder = browser.download_dir
    for old in folder.glob("*.csv"):
        old.unlink()
    browser.find_element(By.ID, ids.DOWNLOAD_BUTTON).click()
    files = wait_for(lambda: [p for p in folder.glob("*.csv")], 10, "a CSV is downloaded")
    with files[0].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["source"], row["bucket_start"]) for row in rows} == \
        {(t["name"], x) for t in drawn for x in t["x"]}
    assert all(row["bucket_start"].endswith("Z") for row in rows)
    assert {row["bucket"] for row in rows} == {"hour"}
    assert "points" in text(browser, ids.TREND_NOTE)


def test_a_new_hour_of_metrics_reaches_the_charts_without_a_reload(browser, app):
    browser.get(app.url + "/?range=24h&bucket=hour")
    wait_for(lambda: chart_ready(browser), 15, "the charts are drawn")
    hour_end = floor_hour(utcnow())
    bucket = isoformat(hour_end - timedelta(hours=1))
    write_hourly(app.database_url, hour_end, attempts=777, successes=700)

    def drawn_bar():
        volume = {t["name"]: dict(zip(t["x"], t["y"])) for t in chart_ready(browser) or []}
        return volume.get("all sources", {}).get(bucket) == 777

    wait_for(drawn_bar, 10, "the new hour's 777 events are drawn")


def test_reconnect_backoff_and_socket_url(browser, app):
    """The state machine's two rules, run in the page with the page's config: 1, 2, 4, 8, 16 s
    then 30 s, each +-20 % jitter and never above 30 s; the URL is same-host ws: with
    ?attempt=N."""
    import json

    from api.settings import load_config
    from dashboard.pageconfig import page_config

    cfg = json.dumps(page_config(load_config(environ={}), "/", "/"))
    browser.get(app.url + "/")
    wait_for(lambda: browser.execute_script("return !!window.dash_clientside.pipewatch"), 10,
             "the clientside code is loaded")
    delays = browser.execute_script("""
        const pw = window.dash_clientside.pipewatch, cfg = %s;
        const out = {};
        for (let n = 1; n <= 8; n++) {
          out[n] = [];
          for (let i = 0; i < 200; i++) out[n].push(pw._backoffMs(cfg, n));
        }
        return out;""" % cfg)
    for attempt, base in {1: 1, 2: 2, 3: 4, 4: 8, 5: 16, 6: 30, 7: 30, 8: 30}.items():
        samples = delays[str(attempt)]
        assert min(samples) >= 800 * base and max(samples) <= min(30000, 1200 * base)
        assert len(set(samples)) > 1, "jittered"
    url = browser.execute_script(
        "return window.dash_clientside.pipewatch._socketUrl(%s, 3)" % cfg)
    assert url == f"ws://127.0.0.1:{app.port}/api/v1/ws/monitoring/pipeline-status?attempt=3"
