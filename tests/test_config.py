"""The settings table: defaults, then environment, then overrides; every setting documented."""
from __future__ import annotations

import pytest

from api.settings import REPO_ROOT, SETTINGS, ConfigError, load_config, redact_url


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    undocumented = [setting.name for setting in SETTINGS if f"`{setting.name}`" not in readme]
    assert undocumented == [], f"document these settings in README.md: {undocumented}"


def test_every_setting_has_help_text():
    assert all(setting.help.strip() for setting in SETTINGS)


def test_environment_overrides_default_and_overrides_win():
    config = load_config(environ={"PORT": "9000", "WS_ALLOWED_ORIGINS": "https://a.example, https://b.example"})
    assert config["PORT"] == 9000
    assert config["WS_ALLOWED_ORIGINS"] == ("https://a.example", "https://b.example")
    assert load_config({"PORT": 9100}, environ={"PORT": "9000"})["PORT"] == 9100


def test_bad_environment_value_names_the_setting_not_the_value():
    with pytest.raises(ConfigError, match="PORT"):
        load_config(environ={"PORT": "eighty"})
    with pytest.raises(ConfigError, match="AUTO_MIGRATE"):
        load_config(environ={"AUTO_MIGRATE": "perhaps"})


def test_unknown_override_and_inconsistent_thresholds_are_refused():
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config({"NOT_A_SETTING": 1}, environ={})
    with pytest.raises(ConfigError, match="WARNING_RATE"):
        load_config({"WARNING_RATE": 0.95, "HEALTHY_RATE": 0.9}, environ={})


def test_redacted_url_hides_the_password():
    shown = redact_url("postgresql+psycopg://pipewatch:s3cret@db.internal/pw")
    assert "s3cret" not in shown and "db.internal" in shown


def test_readme_settings_table_is_current():
    from tests.docs_tools import readme_settings_block, settings_markdown

    assert readme_settings_block() == settings_markdown(), \
        "README settings table is stale: run `python -m tests.docs_tools`"
