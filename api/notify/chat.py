"""Chat rooms and e-mail through apprise (`APPRISE_URLS`): one apprise object per URL, built
once, and its outcome as a delivery outcome.

apprise tells only whether a notification went out, not why not (no HTTP status), so every
failure is retried like a 5xx, up to NOTIFY_MAX_ATTEMPTS. Its plugins keep their own time
limits (4 s to connect and to read for the HTTP ones), not NOTIFY_TIMEOUT_SECONDS; a send that
outlasts the lease (NOTIFY_TIMEOUT_SECONDS + 5 s) may be sent again by another process, which
the outbox allows (at least once). apprise logs the URLs it loads and
posts to (tokens in their paths) at DEBUG and an unparsable one at ERROR, and urllib3 logs
request paths at DEBUG: both loggers are raised to WARNING (apprise's to CRITICAL) so no
LOG_LEVEL can put a token in the log.
"""
from __future__ import annotations

import logging
from typing import Iterable

from api.notify.delivery import Outcome
from api.receivers import Receiver
from api.settings import ConfigError


class Chat:
    def __init__(self, receivers: Iterable[Receiver]) -> None:
        receivers = list(receivers)
        self._apprise: dict[str, object] = {}
        if not receivers:
            return
        import apprise  # only when configured: it loads ~200 plugins

        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)
        for position, receiver in enumerate(receivers, start=1):
            instance = apprise.Apprise()
            if not instance.add(receiver.url):
                raise ConfigError(f"APPRISE_URLS entry {position} ({receiver.target}) is not a "
                                  "URL apprise knows")
            self._apprise[receiver.name] = instance

    def send(self, receiver: Receiver, title: str, body: str) -> Outcome:
        try:
            sent = bool(self._apprise[receiver.name].notify(title=title, body=body))
        except Exception as exc:  # noqa: BLE001 - a plugin's fault is this delivery's outcome
            return Outcome("retry", None, f"apprise error ({type(exc).__name__})")
        if sent:
            return Outcome("delivered")
        return Outcome("retry", None, "apprise could not deliver it")
