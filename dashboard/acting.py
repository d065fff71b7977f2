"""Acting on alerts from the page: whether this page may, what it sends where, and its dialog.

The page acts through the same REST routes as programs (POST/DELETE /api/v1/alerts/{id}/ack,
POST /api/v1/silences, DELETE /api/v1/silences/{id}), from the browser, with the browser's own
credentials (its sign-in cookie, or being on the server's machine): nothing here writes, and
the server's guard (api.auth.require_operator) stays the one judge. What the page learns from
it at load is only whether to draw working buttons: a page that may not act (a reader, or a
server with no operator token seen from elsewhere) shows the server's reason instead, in the
server's words. Whatever the API answers later (401, 403, 422) the page shows as it comes.
"""
from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import has_request_context, request

from api.auth import LOGIN_PATH, require_operator
from api.errors import ApiError
from api.schemas.actions import (MAX_ACK_BY_LENGTH, MAX_ACK_NOTE_LENGTH,
                                 MAX_SILENCE_COMMENT_LENGTH)
from dashboard import ids
from dashboard.rules_panel import OPERATOR_KEY

SILENCE_CHOICES = {"1h": ("1 h", 3600), "4h": ("4 h", 4 * 3600)}
"""The silence lengths offered as one click (label, seconds); "until" takes a chosen time."""
UNTIL = "until"
ACTIONS = ("ack", "unack", "silence", "unsilence")
"""What a card's buttons do: acknowledge (dialog), take the ack back, silence (dialog), end
the alert's silence."""


def operator_access() -> dict[str, Any]:
    """Whether this request's browser may act on alerts, by the API's own rule.

    {"allowed": True} or {"allowed": False, "status", "code", "message", "sign_in"}: the
    refusal the API would give this browser's POST, so the page can say why before anyone
    clicks. `sign_in` is the sign-in page when signing in with the operator token would help.
    Outside a request (Dash building the layout at start-up) nobody may act.
    """
    if not has_request_context():
        return {"allowed": False, "status": None, "code": None, "sign_in": None,
                "message": "no browser request"}
    try:
        require_operator()
    except ApiError as refusal:
        helps = refusal.status in (401, 403) and refusal.code != "operator_token_unset"
        return {"allowed": False, "status": refusal.status, "code": refusal.code,
                "message": refusal.message,
                "sign_in": request.script_root + LOGIN_PATH if helps else None}
    return {"allowed": True}


def acting_config(access: dict[str, Any], root: str) -> dict[str, Any]:
    """The page config's `acting` part: may it act, where the routes are, the silence lengths,
    and the ids the card buttons and the dialog use."""
    allowed = bool(access.get("allowed"))
    return {
        "allowed": allowed,
        "reason": None if allowed else access.get("message", "not an operator"),
        "sign_in": None if allowed else access.get("sign_in"),
        "ack_path": root + "api/v1/alerts/{id}/ack",
        "silences_path": root + "api/v1/silences",
        "silence_path": root + "api/v1/silences/{id}",
        "silence_choices": {name: {"label": label, "seconds": seconds}
                            for name, (label, seconds) in SILENCE_CHOICES.items()},
        "until": UNTIL,
        "button_type": ids.ALERT_BUTTON, "submit": ids.ACT_SUBMIT, "cancel": ids.ACT_CANCEL,
        "state_words": {"pending": "Pending", "firing": "Firing"},
        "operator_key": OPERATOR_KEY,
    }


def read_only_notice(acting: dict[str, Any]) -> html.Div | None:
    """What a page that may not act shows over the alerts, in the server's words (`acting` is
    the page config's part, from `acting_config`)."""
    if acting["allowed"]:
        return None
    sign_in = acting["sign_in"]
    link = ([" ", html.A("Sign in as an operator", href=sign_in, className="alert-link")]
            if sign_in else [])
    return html.Div([html.I(className="bi bi-eye me-1"),
                     "You can see alerts but not act on them: ", acting["reason"], *link],
                    id=ids.READ_ONLY, className="alert alert-secondary small py-2 mb-2",
                    role="note")


def _field(label: str, control, hint: str | None = None) -> html.Div:
    return html.Div([html.Label(label, className="form-label small fw-semibold mb-1"), control,
                     html.Div(hint, className="form-text") if hint else None], className="mb-2")


def action_dialog() -> dbc.Modal:
    """One dialog for every card: acknowledge (name, note) or silence (name, how long,
    comment). assets/pipewatch.js `act` opens it for a card, sends it, and keeps it open with
    the API's answer when that is a refusal."""
    lengths = [{"label": label, "value": name} for name, (label, _s) in SILENCE_CHOICES.items()]
    lengths.append({"label": "until…", "value": UNTIL})
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(id=ids.ACT_TITLE)),
        dbc.ModalBody([
            _field("Your name", dcc.Input(id=ids.ACT_ACTOR, type="text",
                                          maxLength=MAX_ACK_BY_LENGTH,
                                          className="form-control form-control-sm",
                                          placeholder="who is acting (shown to everyone)"),
                   "Remembered in this browser (the rules panel's name too)."),
            html.Div(_field("Note", dcc.Textarea(id=ids.ACT_NOTE, maxLength=MAX_ACK_NOTE_LENGTH,
                                                 className="form-control form-control-sm",
                                                 placeholder="what you are doing about it",
                                                 style={"height": "4.5em"})),
                     id=ids.ACT_ACK_FORM),
            html.Div([
                _field("Silence for", html.Div([
                    dbc.RadioItems(id=ids.ACT_FOR, options=lengths,
                                   value=next(iter(SILENCE_CHOICES)), inline=True,
                                   className="mb-1"),
                    dcc.Input(id=ids.ACT_UNTIL, type="datetime-local", style={"display": "none"},
                              className="form-control form-control-sm pw-act-until")]),
                       "“until…”: a time in UTC. The alert stays listed, greyed."),
                _field("Comment", dcc.Input(id=ids.ACT_COMMENT, type="text",
                                            maxLength=MAX_SILENCE_COMMENT_LENGTH,
                                            className="form-control form-control-sm",
                                            placeholder="why: the planned outage, the ticket")),
            ], id=ids.ACT_SILENCE_FORM),
            html.Div(id=ids.ACT_ERROR, role="alert"),
        ]),
        dbc.ModalFooter([
            dbc.Button("Cancel", id=ids.ACT_CANCEL, color="secondary", outline=True, size="sm"),
            dbc.Button("Send", id=ids.ACT_SUBMIT, color="primary", size="sm"),
        ]),
    ], id=ids.ACT_DIALOG, is_open=False, centered=True)
