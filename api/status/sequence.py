"""`seq`: a number that grows by one each time the status content changes.

The document's `timestamp` moves on every computation, so it is left out of the comparison;
anything else that differs is news. One Sequencer per process is shared by REST, WebSocket and
polling, so all three agree on which document is which.
"""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

_VOLATILE = ("timestamp", "seq")


def content_digest(document: dict[str, Any]) -> str:
    stable = {key: value for key, value in document.items() if key not in _VOLATILE}
    encoded = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(encoded.encode(), digest_size=16).hexdigest()


class Sequencer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digest: str | None = None
        self.seq = 0

    def stamp(self, document: dict[str, Any]) -> dict[str, Any]:
        """Set `document["seq"]`, bumping it when the content differs from the last one seen."""
        digest = content_digest(document)
        with self._lock:
            if digest != self._digest:
                self._digest = digest
                self.seq += 1
            document["seq"] = self.seq
        return document
