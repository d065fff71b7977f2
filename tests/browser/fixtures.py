"""Module-scoped stacks for the browser tests: one seeded database file, the app in its own
process, and (for the connection tests) a proxy in front. Small seeds keep startup quick."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.browser.conftest import ARTIFACTS
from tests.browser.support import AppProcess

SEED_DAYS = 3


def seeded_database(directory: Path, now: datetime | None = None) -> str:
    """A migrated SQLite file with SEED_DAYS of demo history ending at `now`; returns its URL."""
    from api.storage import migrate
    from api.settings import load_config
    from api.storage.db import Database
    from api.demo.seed import seed_demo

    url = f"sqlite:///{directory / 'browser.db'}"
    config = load_config({"DATABASE_URL": url})
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        seed_demo(db, config, days=SEED_DAYS, seed=7, now=now, progress=False)
    finally:
        db.dispose()
    return url


def start_app(directory: Path, now: datetime | None = None) -> AppProcess:
    return AppProcess(seeded_database(directory, now)).start()


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def foreign_resources(driver) -> list[str]:
    """Every resource the page loaded from another origin (should be none)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))")
