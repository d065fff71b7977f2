"""Who notifications go to: the receivers named by WEBHOOK_URLS, ALERTMANAGER_URLS and
APPRISE_URLS.

A receiver's URL may hold a token (a path secret, a query key, user:password), so it is read
from the settings only where a request is sent (api/notify/). Everything stored, logged,
counted or listed names a receiver by `name` (its kind and a hash of its URL, stable across
restarts while the URL stays) and shows it as `target` (its kind and scheme://host:port; for
apprise only the scheme: in `slack://TokenA/TokenB/TokenC` the "host" is a token).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

WEBHOOK = "webhook"
ALERTMANAGER = "alertmanager"
APPRISE = "apprise"

EVENTS_OF = {
    WEBHOOK: frozenset({"firing", "resolved", "acknowledged", "test"}),
    # Alertmanager knows alerts, not acks: it is told when one fires and when it resolves.
    ALERTMANAGER: frozenset({"firing", "resolved", "test"}),
    APPRISE: frozenset({"firing", "resolved", "acknowledged", "test"}),
}
"""The events each kind of receiver is sent."""


@dataclass(frozen=True)
class Receiver:
    kind: str
    url: str
    """The configured URL: may hold a secret, never stored or shown."""

    @property
    def name(self) -> str:
        """`webhook:1f2e3d4c5b6a`: what the outbox stores; no secret can be read back from it."""
        digest = hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:12]
        return f"{self.kind}:{digest}"

    @property
    def target(self) -> str:
        """`webhook https://hooks.example.com`: kind and origin only (no user, path or query);
        `apprise slack://`: the scheme only."""
        if self.kind == APPRISE:
            return f"{self.kind} {self.url.split('://', 1)[0].lower()}://"
        return f"{self.kind} {redacted_origin(self.url)}"

    @property
    def events(self) -> frozenset[str]:
        return EVENTS_OF[self.kind]


def redacted_origin(url: str) -> str:
    """scheme://host[:port] of a URL, without user info, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}"


def receivers_of(config: Mapping[str, Any]) -> list[Receiver]:
    """Every receiver the settings name, Alertmanagers first, then webhooks, then apprise;
    each URL once."""
    found: dict[str, Receiver] = {}
    for kind, setting in ((ALERTMANAGER, "ALERTMANAGER_URLS"), (WEBHOOK, "WEBHOOK_URLS"),
                          (APPRISE, "APPRISE_URLS")):
        for url in config[setting]:
            receiver = Receiver(kind, url)
            found.setdefault(receiver.name, receiver)
    return list(found.values())

