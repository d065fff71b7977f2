"""The app factory, liveness/readiness, the error shape, and the command line."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from api.storage import migrate
from api.settings import REPO_ROOT
from app import create_app
from tests.conftest import BASE_OVERRIDES

# A PostgreSQL URL nothing listens on: connection refused at once.
UNREACHABLE = "postgresql+psycopg://pipewatch:hunter2@127.0.0.1:9/pipewatch"


def test_factory_applies_overrides_over_environment(monkeypatch, sqlite_url):
    monkeypatch.setenv("WS_MAX_CONNECTIONS", "7")
    app = create_app({**BASE_OVERRIDES, "DATABASE_URL": sqlite_url, "PORT": 9999})
    try:
        runtime = app.server.extensions["pipewatch"]
        assert runtime.config["WS_MAX_CONNECTIONS"] == 7
        assert runtime.config["PORT"] == 9999
        assert migrate.current_revision(runtime.db.engine) == migrate.head_revision()
    finally:
        app.server.extensions["pipewatch"].close()


def test_importing_app_module_builds_nothing():
    import app as app_module

    assert app_module._default_app is None


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["revision"] == migrate.head_revision()


def test_readyz_says_which_migration_is_missing(app, client):
    migrate.downgrade(app.server.extensions["pipewatch"].db.engine, "001_tracker_tables")
    response = client.get("/readyz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "not_ready"
    assert error["details"]["current"] == "001_tracker_tables"
    assert error["details"]["head"] == migrate.head_revision()


@pytest.fixture
def unreachable_client():
    app = create_app({**BASE_OVERRIDES, "DATABASE_URL": UNREACHABLE})
    yield app.server.test_client()
    app.server.extensions["pipewatch"].close()


def test_database_down_is_503_without_secrets(unreachable_client):
    for path in ("/readyz", "/api/v1/monitoring/pipeline-status"):
        response = unreachable_client.get(path)
        assert response.status_code == 503, path
        body = response.get_data(as_text=True)
        assert response.get_json()["error"]["message"]
        assert "hunter2" not in body and "Traceback" not in body
    assert unreachable_client.get("/healthz").status_code == 200


def test_unknown_api_path_and_wrong_method_are_json(client):
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/monitoring/pipeline-status")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_cli_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("serve", "demo", "migrate", "collect", "seed", "backfill-alerts", "settings"):
        assert command in result.stdout
    for command in ("serve", "demo", "migrate", "collect", "seed", "backfill-alerts"):
        assert _cli(command, "--help").returncode == 0


def test_cli_migrate_and_bad_setting(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _cli("migrate", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert migrate.head_revision() in result.stdout
    down = _cli("migrate", "--down", "base", "--database-url", url)
    assert down.returncode == 0 and "at revision base" in down.stdout
    bad = _cli("migrate", env={"PORT": "eighty"})
    assert bad.returncode == 2
    assert "PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_reports_unreachable_database_in_one_line():
    result = _cli("migrate", "--database-url", UNREACHABLE)
    assert result.returncode == 2
    assert "database did not answer" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
