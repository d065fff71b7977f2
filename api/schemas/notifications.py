"""The documents of notifications: what a webhook receives (`WebhookNotification`, the OpenAPI
document's `webhooks` section), and the delivery log (`GET /api/v1/notifications`, and the
answer of `POST /api/v1/notifications/test`). Like every document, extra fields are refused.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, NonNegativeInt

from api.schemas.documents import Ack, Document, Severity, Silenced, Time
from api.storage.models import ALERT_STATES, NOTIFICATION_EVENTS, NOTIFICATION_STATES

Event = Literal[NOTIFICATION_EVENTS]


class NotifiedAlert(Document):
    """The alert as the status document showed it when the notification was written, plus
    `resolved_at`. A test notification carries id 0 and key `test:notification`."""

    id: Annotated[int, Field(ge=0)]
    """The occurrence (0: a test, no alert behind it)."""
    key: str
    state: Literal[ALERT_STATES]
    severity: Severity
    title: str
    message: str
    source: Optional[str]
    since: Optional[Time]
    fired_at: Optional[Time]
    resolved_at: Optional[Time]
    flapping: bool
    ack: Optional[Ack]
    silenced: Optional[Silenced]
    """Always null: silenced alerts are not notified."""


class WebhookNotification(Document):
    """The JSON body of every webhook POST, signed in the `Pipewatch-Signature` header:
    `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with WEBHOOK_SECRET>`."""

    id: str
    """Unique per notification, the same on every retry: de-duplicate by it."""
    event: Event
    """firing (also when a firing alert changes severity), resolved, acknowledged, or test."""
    alert: NotifiedAlert
    sent_at: Time
    """When this attempt was sent."""
    url: str
    """The dashboard's view of the alert: its source over the days it covers."""


class Delivery(Document):
    """One notification to one receiver, and how its delivery went."""

    id: str
    """The notification's id (what the receiver got as `id`)."""
    event: Event
    alert_id: Optional[int]
    """The occurrence it announces; null for a test."""
    alert_key: str
    receiver: str
    """The receiver's kind and origin (`webhook https://hooks.example.com`): never a path,
    query or credentials, which may hold tokens."""
    kind: Literal["webhook", "alertmanager", "apprise"]
    state: Literal[NOTIFICATION_STATES]
    """pending (waiting for its turn or a retry), delivered, or failed (given up)."""
    attempts: NonNegativeInt
    created_at: Time
    """When the transition it announces was written."""
    next_attempt_at: Optional[Time]
    """While pending: not before this time."""
    delivered_at: Optional[Time]
    last_status: Optional[int]
    """The receiver's HTTP status at the last attempt (null: no answer)."""
    last_error: Optional[str]
    """Why the last attempt failed: `HTTP 503`, `timed out`, `connection refused`..."""


class ReceiverShown(Document):
    """A configured receiver, as it may be shown: never its URL (it may hold a token)."""

    kind: Literal["webhook", "alertmanager", "apprise"]
    target: str
    """Kind and origin (`webhook https://hooks.example.com`), or for apprise the scheme only
    (`apprise slack://`): the same words as a delivery's `receiver`."""


class Deliveries(Document):
    """Notifications, newest first, and the receivers configured now."""

    items: list[Delivery]
    limit: int
    receivers: list[ReceiverShown]
    """Every receiver this server sends to (none: nothing is sent, and a test is a 409)."""


class DemoWebhook(Document):
    """One webhook the demo's built-in receiver accepted (its signature verified)."""

    received_at: Time
    notification: WebhookNotification
    """The body as it arrived."""


class DemoWebhooks(Document):
    """What the demo's built-in receiver accepted, newest first (the last few, in memory)."""

    items: list[DemoWebhook]
    capacity: int
    """How many it keeps; older ones are forgotten."""
