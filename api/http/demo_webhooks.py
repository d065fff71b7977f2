"""`/api/v1/demo/webhooks`, served only with DEMO_RECEIVER on (what `python app.py demo` sets
when no receiver is configured): POST is the built-in receiver the demo's WEBHOOK_URLS points
at, GET lists what it accepted. The receiver itself is api/demo/inbox.py.

POST is OWN: the sender does not carry the read token, and the signature (WEBHOOK_SECRET)
is this route's credential, checked before the body is read. A refused signature is a 401,
which the sender records as a failed delivery (4xx is not retried), visible in the panel.
"""
from __future__ import annotations

import json

from flask import Response, current_app, jsonify, request
from pydantic import ValidationError

from api.demo.inbox import Inbox, SignatureRefused, check_signature
from api.errors import ApiError
from api.notify.signing import HEADER
from api.runtime import get_runtime
from api.schemas.ingest import problems_of
from api.schemas.notifications import WebhookNotification
from api.timeutil import isoformat, utcnow

INBOX = "pipewatch.demo_inbox"


def init_app(server) -> None:
    """Give the app its receiver's memory (routes.register_routes, with DEMO_RECEIVER on)."""
    server.extensions[INBOX] = Inbox()


def receive_webhook():
    """Accept one signed webhook: 204, or 401 (signature), 400 (not JSON), 422 (not a
    notification)."""
    body = request.get_data(cache=False)
    try:
        check_signature(get_runtime().config["WEBHOOK_SECRET"], body, request.headers.get(HEADER))
    except SignatureRefused as refusal:
        raise ApiError(401, f"webhook refused: {refusal}", code="signature_refused") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise ApiError(400, "the body is not JSON") from None
    try:
        WebhookNotification.model_validate(document)
    except ValidationError as error:
        raise ApiError(422, "not a pipewatch notification",
                       {"problems": problems_of(error)}) from None
    current_app.extensions[INBOX].keep(document, utcnow())
    return Response(status=204)


def list_webhooks():
    """What the receiver accepted, newest first."""
    inbox: Inbox = current_app.extensions[INBOX]
    return jsonify({"items": [{"received_at": isoformat(item["received_at"]),
                               "notification": item["notification"]}
                              for item in inbox.items()],
                    "capacity": inbox.capacity})
