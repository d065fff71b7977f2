"""The OpenAPI document matches the app's routes, and is a valid OpenAPI 3.1 document."""
from __future__ import annotations

import re

from api.http.openapi import flask_rule_to_path, paths

MINE = {"/api/v1/metrics", "/api/v1/scrape-runs", "/api/v1/metrics/series",
        "/api/v1/openapi.json"}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _api_rules(app):
    """{path: {methods}} of every registered /api/ route."""
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = flask_rule_to_path(rule.rule)
        if path.startswith("/api/"):
            rules.setdefault(path, set()).update(
                m.lower() for m in rule.methods if m not in ("HEAD", "OPTIONS"))
    return rules


def test_every_api_route_and_method_is_documented_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {path: {m for m in item if m in HTTP_METHODS}
                  for path, item in document["paths"].items() if path.startswith("/api/")}
    assert documented == _api_rules(app.server)
    assert MINE <= set(documented)
    registered = {flask_rule_to_path(r.rule) for r in app.server.url_map.iter_rules()}
    assert set(document["paths"]) <= registered
    for path in set(paths(app.server.extensions["pipewatch"].config)) - set(document["paths"]):
        assert path not in registered, f"{path} is served but left out of the document"


def test_document_is_valid_openapi(client):
    import schemathesis

    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == set(document["paths"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert operation["responses"], f"{method} {path} has no responses"
            refs = _refs(operation)
            assert refs <= {f"#/components/schemas/{n}" for n in document["components"]["schemas"]}


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_allow_lists_the_documented_methods_and_others_are_405(client):
    """Dash's catch-all page route (GET) matches every path: it neither answers a GET on a
    POST-only /api/ route (405, not 404) nor shows in Allow (found by schemathesis' CLI)."""
    document = client.get("/api/v1/openapi.json").get_json()
    for template, item in document["paths"].items():
        if "x-websocket" in item.get("get", {}):
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)  # /alerts/{alert_id}/ack -> /alerts/1/ack
        documented = {m.upper() for m in item if m in HTTP_METHODS}
        allow = client.options(path).headers["Allow"]
        assert set(allow.split(", ")) - {"HEAD", "OPTIONS"} == documented, path
        for method in sorted({"GET", "POST", "PUT", "DELETE"} - documented):
            response = client.open(path, method=method)
            assert response.status_code == 405, (method, path)
            if path.startswith("/api/"):  # (the Prometheus /metrics keeps Werkzeug's page)
                assert response.get_json()["error"]["code"] == "method_not_allowed"
            assert response.headers["Allow"] == allow, (method, path)


def test_optional_parameters_sent_empty_count_as_absent_and_say_so(client):
    """`?start=` as an HTML form sends it: absent, as `allowEmptyValue` says; `source=` alone is
    a 422, an empty name being no source (schemathesis' CLI found the undocumented first)."""
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            if parameter["required"]:
                continue
            query = {"metric": "volume"} if path.endswith("/series") else {}
            response = client.get(path, query_string={**query, parameter["name"]: ""})
            if parameter["name"] == "source":
                assert "allowEmptyValue" not in parameter, path
                assert response.status_code == 422, path
            else:
                assert parameter.get("allowEmptyValue") is True, (path, parameter["name"])
                assert response.status_code == 200, (path, parameter["name"])


def test_a_blank_scrape_run_error_is_refused_and_the_document_says_so(make_app):
    """schemathesis sent `"error": ""` as valid by the document and got a 422."""
    import jsonschema_rs

    from tests.export_fixtures import TOKEN, auth

    client = make_app(PIPEWATCH_INGEST_TOKEN=TOKEN).server.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["components"]["schemas"]["ScrapeRunInput"]["properties"]["error"]
    assert not jsonschema_rs.validator_for(schema).is_valid("")
    run = {"source": "x", "started_at": "2026-11-25T20:00:00Z", "status": "failed",
           "items_found": 0, "items_new": 0, "error": ""}
    response = client.post("/api/v1/scrape-runs", json=run, headers=auth())
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["problems"][0]["path"] == "error"
