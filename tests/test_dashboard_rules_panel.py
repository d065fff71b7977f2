"""The rules panel's config: what assets/rules.js shows and where it sends, decided here.

rules.js holds no setting names, kinds, paths or ids of its own, so this config is the editor's
behaviour; tests/browser/test_browser_rules.py drives it in Chromium against the real routes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from api.settings import load_config
from api.status.alerts import KINDS
from api.status.rules import SETTINGS
from dashboard import ids, pageconfig, rules_panel

JS = (Path(__file__).resolve().parents[1] / "assets" / "rules.js").read_text()


def editor(requests_prefix="/", routes_prefix="/", sources=("punch", "vanguard")):
    page = pageconfig.page_config(load_config(environ={}), requests_prefix, routes_prefix)
    return rules_panel.editor_config(page["site_root"], sources)


def test_every_rule_setting_is_a_column_in_the_api_order_with_the_kinds_it_judges():
    cfg = editor()
    assert [column["name"] for column in cfg["settings"]] == list(SETTINGS)
    by_name = {column["name"]: column for column in cfg["settings"]}
    assert by_name["healthy_rate"]["kinds"] == ["quality"]
    assert by_name["stale_error_seconds"]["kinds"] == ["source stale"]
    assert by_name["for_seconds"]["kinds"] == []  # every kind
    assert by_name["for_seconds"]["step"] == "1" and by_name["warning_rate"]["step"] == "any"
    assert [column["name"] for column in cfg["settings"] if column["seconds"]] == [
        "stale_warning_seconds", "stale_error_seconds", "for_seconds", "keep_firing_for_seconds"]
    assert [kind["value"] for kind in cfg["kinds"]] == list(KINDS)
    assert cfg["sources"] == ["punch", "vanguard"]
    assert cfg["operator_key"] == "pipewatch.operator"
    assert cfg["root"] == ids.RULES_ROOT


@pytest.mark.parametrize("requests_prefix,routes_prefix,root", [
    ("/", "/", "/"), ("/monitor/", "/", "/monitor/"), ("/monitor/dash/", "/dash/", "/monitor/")])
def test_the_routes_follow_where_the_app_is_mounted(requests_prefix, routes_prefix, root):
    cfg = editor(requests_prefix, routes_prefix)
    assert cfg["rules_path"] == root + "api/v1/rules"
    assert cfg["changes_path"] == root + "api/v1/rules/changes"


def test_the_served_page_carries_the_panel_its_config_and_the_mount_callback(app, client):
    layout = json.dumps(client.get("/_dash-layout").get_json())
    assert f'"id": "{ids.RULES_ROOT}"' in layout
    assert '"rules_path": "/api/v1/rules"' in layout
    mount = [callback for callback in app._callback_list
             if (callback.get("clientside_function") or {}).get("namespace")
             == rules_panel.NAMESPACE]
    assert len(mount) == 1
    assert mount[0]["inputs"] == [{"id": ids.RULES_CONFIG, "property": "data"}]
    assert "rules.js" in client.get("/").get_data(as_text=True)


def test_the_browser_code_retypes_no_setting_kind_path_id_or_storage_key():
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", JS, flags=re.S)
    cfg = editor()
    words = [*SETTINGS, *KINDS, "api/v1", cfg["operator_key"], ids.RULES_ROOT, ids.RULES_CONFIG,
             *(kind["label"] for kind in cfg["kinds"]), cfg["any_source"], cfg["any_kind"]]
    retyped = [word for word in words if f'"{word}"' in code or f"'{word}'" in code
               or word.startswith("api/") and word in code]
    assert not retyped, "these come from the config (dashboard/rules_panel.py)"
    assert "fetch(" not in code, "a 401 on Save is shown in the panel, not sent to /login"
