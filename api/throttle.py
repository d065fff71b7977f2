"""Failed sign-in and token attempts, counted per client address, so guessing is slow.

`FailureThrottle` remembers, for each address, the times of its last `limit` failures. Once an
address has failed `limit` times within `window_seconds`, it must wait until the oldest of those
failures leaves the window: `retry_after` says how long (the 429's Retry-After). Only failures
count, only per address: a right token sent from anywhere else is never slowed down.

Memory is bounded: at most `max_addresses` addresses are remembered, the least recently failing
one forgotten first (an attacker with that many addresses could make one forgotten early; each
of those addresses is itself throttled). The table lives in the process: with several gunicorn
workers each counts on its own, so an address may fail up to `limit` times per worker.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable


class FailureThrottle:
    def __init__(self, limit: int, window_seconds: float, max_addresses: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`limit` 0 turns throttling off."""
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Whole seconds `address` must wait before its next attempt; None if it may try now."""
        if self.limit <= 0:
            return None
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or len(failures) < self.limit:
                return None
            wait = failures[0] + self.window - self._clock()
        return math.ceil(wait) if wait > 0 else None

    def record_failure(self, address: str) -> None:
        """Count one failed attempt from `address` now."""
        if self.limit <= 0:
            return
        with self._lock:
            failures = self._failures.pop(address, None)
            if failures is None:
                failures = deque(maxlen=self.limit)
            failures.append(self._clock())
            self._failures[address] = failures  # newest last: the eviction order
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        """How many addresses are remembered now."""
        return len(self._failures)
