"""`/api/v1/rules`: the alert rules per source and kind (GET), replaced as a whole (PUT);
`/api/v1/rules/changes`: who changed them, when, why, before and after.

A rule overrides some of the environment's alert settings for a source, a kind or both
(api/status/rules.py). A PUT is validated whole (api/schemas/rules.py) and written in one
transaction under the evaluator's lock, with its change-log entry; every process reads the
stored rules at its next computation, so it applies everywhere without a restart. GET answers
an ETag (the version); a PUT with `If-Match` that no longer matches is refused with 412, so two
operators editing at once cannot overwrite each other unknowingly. PUT is an OPERATE route.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import jsonify, request

from api.errors import ApiError
from api.http.query import raise_problems
from api.http.writes import read_json_body
from api.runtime import get_runtime
from api.schemas.fields import INT32_MAX
from api.schemas.problems import Invalid
from api.schemas.rules import checked_rules, to_rules
from api.status.rules import SETTINGS, RuleBook, book_of
from api.storage import alert_store, rule_store
from api.timeutil import isoformat, utcnow

DEFAULT_CHANGES = 20
MAX_CHANGES = 200


def get_rules():
    """The defaults (the environment's settings), the stored rules and their version."""
    runtime = get_runtime()
    with runtime.db.session() as session:
        book = book_of(rule_store.load_rules(session))
        newest = rule_store.list_changes(session, None, 0)  # its id is the version
    return _answer(book, runtime.config, newest[0] if newest else None)


def put_rules():
    """Replace every rule with the body's; 200 with the new set (412 when `If-Match` names
    another version, 422 listing every problem; nothing is written then)."""
    runtime = get_runtime()
    try:
        wanted = checked_rules(read_json_body(), runtime.config)
    except Invalid as exc:
        raise ApiError(422, exc.message, {"problems": exc.problems}) from None
    expected = _if_match()
    rules = to_rules(wanted.rules)
    with runtime.db.session() as session:
        alert_store.lock_evaluation(session)
        current = rule_store.version(session)
        if expected is not None and expected != current:
            raise ApiError(412, f"the rules changed since version {expected} (now {current}): "
                                "GET them again, then PUT with the new ETag in If-Match",
                           code="rules_changed")
        rule_store.replace_rules(session, [rule.as_document() for rule in RuleBook(rules).rules],
                                 wanted.by, wanted.comment, utcnow())
    runtime.notify_change()
    return get_rules()


def list_changes():
    """The change log, newest first; `?before=<id>` pages back, `?limit=` (default 20)."""
    runtime = get_runtime()
    before, limit = _changes_query(request.args)
    with runtime.db.session() as session:
        rows = rule_store.list_changes(session, before, limit)
    page = rows[:limit]
    older = page[-1]["id"] if len(rows) > limit else None
    return jsonify({"items": [{**row, "at": isoformat(row["at"])} for row in page],
                    "next_url": (f"{request.path}?before={older}&limit={limit}"
                                 if older is not None else None)})


def _answer(book: RuleBook, config: Mapping[str, Any], newest: Optional[dict[str, Any]]):
    version = newest["id"] if newest else 0
    response = jsonify({
        "defaults": {name: config[setting] for name, (setting, _) in SETTINGS.items()},
        "rules": [rule.as_document() for rule in book.rules],
        "version": version,
        "updated_at": isoformat(newest["at"]) if newest else None,
        "updated_by": newest["by"] if newest else None,
    })
    response.set_etag(str(version))
    return response


def _if_match() -> Optional[int]:
    """The version `If-Match` names (None without the header); 412 for one that is not ours."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = request.if_match
    if tags.star_tag:
        return None
    for tag in tags.as_set():
        if tag.isascii() and tag.isdigit() and len(tag) <= 10:
            return int(tag)
    raise ApiError(412, "If-Match names no version of the rules: send the ETag GET "
                        "/api/v1/rules answered", code="rules_changed")


def _changes_query(args) -> tuple[Optional[int], int]:
    problems, before, limit = [], None, DEFAULT_CHANGES
    for name in ("before", "limit"):
        text = args.get(name)
        if not text:  # `?before=` as a form sends it: absent
            continue
        if not (text.isascii() and text.isdigit()) or len(text) > 10 \
                or not 1 <= int(text) <= INT32_MAX:
            problems.append({"path": name, "message": f"must be a whole number from 1 to "
                                                      f"{INT32_MAX}"})
        elif name == "before":
            before = int(text)
        elif int(text) > MAX_CHANGES:
            problems.append({"path": name, "message": f"must be at most {MAX_CHANGES}"})
        else:
            limit = int(text)
    raise_problems(problems)
    return before, limit
