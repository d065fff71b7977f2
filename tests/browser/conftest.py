"""Browser tests: real headless Chromium driving the real page, served by a real server.

Chromium and chromedriver must be installed (`apt-get install -y chromium chromium-driver`);
without them these tests FAIL with that fix, unless PIPEWATCH_SKIP_BROWSER=1 is set (CI never
sets it). Screenshots go to test-artifacts/browser/ (gitignored).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

SKIP_BROWSER = os.environ.get("PIPEWATCH_SKIP_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FIX = "apt-get install -y chromium chromium-driver"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1800",
                "--lang=en-US")  # date fields read mm/dd/yyyy whatever the machine's locale


def pytest_setup_options():
    """Chromium options for dash's testing plugin (dash_duo) and for our own drivers."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return options


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chrome_available() -> None:
    """Fail (never skip silently) when Chromium or chromedriver is missing."""
    if SKIP_BROWSER:
        pytest.skip("PIPEWATCH_SKIP_BROWSER=1: browser tests skipped on request")
    missing = [name for name in ("chromedriver",) if shutil.which(name) is None]
    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        missing.insert(0, "chromium")
    if missing:
        pytest.fail(f"browser tests need {' and '.join(missing)}: run `{FIX}` "
                    "(or set PIPEWATCH_SKIP_BROWSER=1 to skip them on purpose)", pytrace=False)


@pytest.fixture(scope="module")
def browser(chrome_available) -> Iterator["object"]:
    """One headless Chromium per test module (each test loads the page it needs)."""
    from selenium import webdriver

    download_dir = ARTIFACTS / "downloads"
    download_dir.mkdir(parents=True, exist_ok=True)
    options = pytest_setup_options()
    options.add_experimental_option("prefs", {
        "download.default_directory": str(download_dir),
        "download.prompt_for_download": False,
    })
    try:
        driver = webdriver.Chrome(options=options)
    except Exception as exc:  # noqa: BLE001 - say what to do, not a selenium traceback
        pytest.fail(f"could not start headless Chromium ({type(exc).__name__}: {exc}); "
                    f"is chromedriver matching chromium? `{FIX}`", pytrace=False)
    driver.download_dir = download_dir
    # Allow downloads in headless mode, into our folder.
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(download_dir)})
    yield driver
    driver.quit()
