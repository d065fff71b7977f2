"""Whether a page may act on alerts, as the served layout tells the browser: by the API's own
rule (api.auth.require_operator), for the request that loads the page. A page that may not act
gets the server's reason and no buttons; one that may gets the routes it will call.

The layout is fetched as the browser fetches it (GET /_dash-layout, with its cookie, from its
address), and its config store and read-only notice are read back.
"""
from __future__ import annotations

import json

import pytest

from api.auth import COOKIE, OPERATOR, READER, new_sign_in_cookie
from dashboard import acting, ids, pageconfig
from api.settings import load_config

READ = "read-token-3318"
OPERATE = "operator-token-6402"
REMOTE = {"REMOTE_ADDR": "198.51.100.7"}


def served(client, **kwargs) -> tuple[dict, str]:
    """(the config store's `acting`, the layout's JSON text) of one page load."""
    response = client.get("/_dash-layout", headers={"Referer": "http://localhost/"}, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    layout = response.get_json()
    found = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") == ids.CONFIG:
                found["config"] = props["data"]
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(layout)
    return found["config"]["acting"], json.dumps(layout)


def test_on_the_servers_own_machine_with_no_operator_token_the_page_may_act(make_sqlite_app):
    client = make_sqlite_app().server.test_client()  # 127.0.0.1 -> localhost, as `make run`
    page, layout = served(client)
    assert page["allowed"] is True and page["reason"] is None
    assert page["ack_path"] == "/api/v1/alerts/{id}/ack"
    assert page["silences_path"] == "/api/v1/silences"
    assert page["silence_path"] == "/api/v1/silences/{id}"
    assert page["button_type"] == ids.ALERT_BUTTON
    assert {name: choice["seconds"] for name, choice in page["silence_choices"].items()} == \
        {"1h": 3600, "4h": 14400}
    assert ids.READ_ONLY not in layout and ids.ACT_DIALOG in layout


def test_from_elsewhere_with_no_operator_token_the_page_says_which_setting(make_sqlite_app):
    client = make_sqlite_app().server.test_client()
    page, layout = served(client, environ_base=REMOTE)
    assert page["allowed"] is False
    assert "Set PIPEWATCH_OPERATOR_TOKEN" in page["reason"]
    assert page["sign_in"] is None  # signing in cannot help: the server has no operator token
    assert ids.READ_ONLY in layout and "You can see alerts but not act on them" in layout


@pytest.mark.parametrize("role, token, allowed", [(READER, READ, False), (OPERATOR, OPERATE, True)])
def test_a_signed_in_reader_sees_why_and_where_to_sign_in_and_an_operator_acts(
        make_sqlite_app, role, token, allowed):
    app = make_sqlite_app(PIPEWATCH_READ_TOKEN=READ, PIPEWATCH_OPERATOR_TOKEN=OPERATE)
    client = app.server.test_client()
    client.set_cookie(COOKIE, new_sign_in_cookie(token, role))
    page, layout = served(client, environ_base=REMOTE)
    assert page["allowed"] is allowed
    if allowed:
        assert ids.READ_ONLY not in layout
    else:
        assert "signed in to read, not to act" in page["reason"]
        assert page["sign_in"] == "/login"
        assert "Sign in as an operator" in layout


def test_open_reads_with_an_operator_token_ask_a_visitor_to_sign_in(make_sqlite_app):
    client = make_sqlite_app(PIPEWATCH_OPERATOR_TOKEN=OPERATE).server.test_client()
    page, _layout = served(client, environ_base=REMOTE)
    assert page["allowed"] is False and page["sign_in"] == "/login"
    assert "missing operator credentials" in page["reason"]


def test_outside_a_request_nobody_may_act():
    assert acting.operator_access()["allowed"] is False
    page = pageconfig.page_config(load_config(environ={}), "/monitor/", "/")
    assert page["acting"]["allowed"] is False
    assert page["acting"]["ack_path"] == "/monitor/api/v1/alerts/{id}/ack"


def test_the_notice_is_drawn_only_for_a_page_that_may_not_act():
    may = acting.acting_config({"allowed": True}, "/")
    assert acting.read_only_notice(may) is None
    may_not = acting.acting_config({"allowed": False, "message": "no", "sign_in": "/login"}, "/")
    notice = acting.read_only_notice(may_not)
    assert notice.id == ids.READ_ONLY and "no" in notice.children
