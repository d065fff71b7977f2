"""The hub: one broadcaster per process, one latest-only mailbox per open WebSocket.

Why this shape: the status is the same for every socket, so it is computed once and serialised
once per change, and the same text is handed to every mailbox. A mailbox keeps only the newest
message, so a slow or stalled reader gets the latest state whenever it next reads, never an
unbounded queue, and never holds up the broadcaster or the other sockets (each socket's own
handler does the sending).

Bursts coalesce: `notify()` only sets a flag; the broadcaster wakes, clears it and computes.
Notifications that arrive while it computes cause one more computation, not one each, and a
change that follows a change-driven broadcast within WS_COALESCE_SECONDS waits out the rest of
that interval (a lone change still goes out at once). The last state is always sent.

With no change, every socket still gets the status at least every WS_HEARTBEAT_SECONDS (ages
move on). A recomputation whose content did not change (same `seq`) is not sent unless the
heartbeat is due, so a change heard twice (from the writer and from the change feed) reaches a
client once.

Delivery latency: `notify()` notes when the first unserved change was heard; the broadcast that
sends it hands that moment to each mailbox with the text, and each socket's handler observes
`pipewatch_delivery_seconds` once its frame is written (api/live/websocket.py).

The broadcaster and the change feed start with the first subscriber: an app nobody watches
(the command line, most tests) runs no extra thread and holds no LISTEN connection.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from api.errors import DATABASE_UNAVAILABLE
from api.runtime import report_thread_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Close:
    """A mailbox message telling the socket's handler to close with `code` and `reason`."""

    code: int
    reason: str


Message = Union[str, Close]

SHUTTING_DOWN = Close(1001, "server shutting down; reconnect shortly")
STATUS_UNAVAILABLE = Close(1011, "status unavailable: database unavailable; poll instead")


class Mailbox:
    """One socket's inbox. Holds only the newest message; `wake` is set whenever one arrives.

    With a `direct` writer (a gevent worker's plain socket, see api/live/websocket.py), `offer`
    first tries to write the status to the socket at once, without waiting: on loopback and
    healthy links the kernel takes the whole frame, and the socket's handler is never woken.
    Waking 10,000 handlers cost more than the sends themselves (an event callback and two
    greenlet switches each). Anything the socket does not take at once goes the usual way.
    """

    __slots__ = ("_lock", "_message", "_heard", "wake", "_direct", "_busy")

    def __init__(self, wake: threading.Event,
                 direct: Optional[Callable[[str], Optional[bool]]] = None) -> None:
        self._lock = threading.Lock()
        self._message: Optional[Message] = None
        self._heard: Optional[float] = None
        self.wake = wake
        # direct(text): True written whole, False partly (the socket keeps the rest for its
        # handler, which must be woken), None nothing written (send it the usual way).
        self._direct = direct
        self._busy = False  # the handler took a message and has not finished sending it

    def put(self, message: Message, heard: Optional[float] = None) -> bool:
        """Replace the held message; True when an unread one was dropped for it.

        `heard` (time.monotonic()) is when the change this message carries was heard; a newer
        message replacing an unread change still carries that change, so the earlier moment
        is kept.
        """
        with self._lock:
            dropped = self._message is not None and not isinstance(self._message, Close)
            if not isinstance(self._message, Close):  # a close order is never overwritten
                self._message = message
                if heard is not None and (self._heard is None or heard < self._heard):
                    self._heard = heard
        self.wake.set()
        return dropped

    def offer(self, text: str, heard: Optional[float] = None) -> str:
        """Hand over a status: "sent" (written to the socket already: the caller times its
        delivery), else as `put`: "dropped" (an unread one replaced) or "queued"."""
        if self._direct is not None:
            with self._lock:
                # Only when nothing older is waiting or being sent: frames stay in order.
                written = (None if self._message is not None or self._busy
                           else self._direct(text))
            if written:
                return "sent"
            if written is False:  # the socket holds the frame's rest: its handler sends it
                self.wake.set()
                return "sent"
        return "dropped" if self.put(text, heard) else "queued"

    def take(self) -> Optional[Message]:
        """The held message (emptying the mailbox), or None; `done()` once it is sent."""
        return self.take_timed()[0]

    def take_timed(self) -> tuple[Optional[Message], Optional[float]]:
        """The held message and when its change was heard (None: no change, e.g. a heartbeat);
        `done()` once it is sent."""
        with self._lock:
            message, self._message = self._message, None
            heard, self._heard = self._heard, None
            self._busy = message is not None
        return message, heard

    def done(self) -> None:
        """The handler has sent what it took: direct writes may go ahead again."""
        self._busy = False


class Hub:
    """Broadcasts `compute()`'s document to every subscribed mailbox (see the module doc)."""

    def __init__(self, compute: Callable[[], dict[str, Any]], *, telemetry,
                 heartbeat_seconds: float, coalesce_seconds: float,
                 start_worker: Callable[[str, Callable[[], None]], Any],
                 stopping: threading.Event,
                 on_start: Optional[Callable[[Callable[[], None]], None]] = None,
                 after_change: Optional[Callable[[], None]] = None) -> None:
        self._compute = compute
        self._telemetry = telemetry
        self._heartbeat = max(0.05, heartbeat_seconds)  # 0 or less would spin
        self._coalesce = max(0.0, coalesce_seconds)
        self._start_worker = start_worker
        self._stopping = stopping
        self._on_start = on_start
        self._after_change = after_change
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._mailboxes: set[Mailbox] = set()
        self._started = False
        self._latest: Optional[str] = None  # the newest status text, for new subscribers
        self._force = False  # a subscriber waits for its first message: send even if unchanged
        self._sent_seq: Optional[int] = None
        self._last_sent = 0.0
        self._last_change_sent = float("-inf")
        self._failing = False
        self._heard: Optional[float] = None  # when the first change not yet broadcast was heard

    # region: called by writers, sockets and the runtime

    def notify(self) -> None:
        """Something committed may have changed the status; cheap, callable from any thread."""
        if self._heard is None:
            self._heard = time.monotonic()
        self._dirty.set()

    def subscribe(self, wake: threading.Event, limit: int,
                  direct: Optional[Callable[[str], Optional[bool]]] = None) -> Optional[Mailbox]:
        """A mailbox holding the current status, or None when `limit` sockets are open already.

        `direct`: the socket's non-waiting writer, if it has one (see Mailbox)."""
        self.start()
        with self._lock:
            if len(self._mailboxes) >= limit or self._stopping.is_set():
                return None
            mailbox = Mailbox(wake, direct)
            self._mailboxes.add(mailbox)
            if self._latest is not None:
                mailbox.put(self._latest)
            else:
                self._force = True
                self._dirty.set()
        self._telemetry.ws_open.inc()
        return mailbox

    def unsubscribe(self, mailbox: Mailbox) -> None:
        with self._lock:
            if mailbox not in self._mailboxes:
                return
            self._mailboxes.discard(mailbox)
        self._telemetry.ws_open.dec()

    @property
    def started(self) -> bool:
        """True once the broadcaster runs: from then on it calls `after_change` itself."""
        return self._started

    def start(self) -> None:
        """Start the broadcaster, and `on_start(notify)` (the change feed), once."""
        with self._lock:
            if self._started or self._stopping.is_set():
                return
            self._started = True
        self._start_worker("hub", self._run)
        if self._on_start is not None:
            self._on_start(self.notify)

    def stop(self) -> None:
        """Tell every socket the server is going away, and wake the broadcaster to end."""
        self._stopping.set()
        self._dirty.set()
        with self._lock:
            for mailbox in self._mailboxes:
                mailbox.put(SHUTTING_DOWN)

    # endregion
    # region: the broadcaster thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait(timeout=self._until_heartbeat())
            if self._stopping.is_set():
                return
            changed = self._dirty.is_set()
            if changed:
                wait = self._last_change_sent + self._coalesce - time.monotonic()
                if wait > 0 and self._stopping.wait(wait):
                    return
                self._dirty.clear()
            heard, self._heard = (self._heard, None) if changed else (None, self._heard)
            try:
                self._broadcast(heard)
            except Exception as exc:  # noqa: BLE001 - the broadcaster outlives any one failure
                report_thread_error(exc)
            if changed and self._after_change is not None:
                self._after_change()  # after the sockets have the change, not before

    def _until_heartbeat(self) -> Optional[float]:
        if not self._mailboxes and self._latest is None:
            return None  # nobody listens and nothing is cached: sleep until notified
        return max(0.0, self._last_sent + self._heartbeat - time.monotonic())

    def _broadcast(self, heard: Optional[float] = None) -> None:
        if not self._mailboxes:
            self._latest = None  # a later subscriber gets a fresh computation, not an old one
            self._last_sent = time.monotonic()
            return
        started = time.perf_counter()
        try:
            document = self._compute()
        except Exception as exc:  # noqa: BLE001 - most often the database is down
            first = not self._failing
            self._fail(exc)
            if first and not isinstance(exc, DATABASE_UNAVAILABLE):
                report_thread_error(exc)  # a bug in the status computation: once per outage
            return
        if self._failing:
            self._failing = False
            log.info("status computable again")
        text = json.dumps(document, separators=(",", ":"))
        seq = document.get("seq")
        now = time.monotonic()
        heartbeat_due = now - self._last_sent >= self._heartbeat - 0.001
        changed = seq != self._sent_seq
        with self._lock:
            self._latest = text
            send = changed or heartbeat_due or self._force
            self._force = False
            targets = list(self._mailboxes) if send else []
        if not send:
            self._telemetry.broadcasts.labels("unchanged").inc()
            return
        heard = heard if changed else None  # a change heard twice is timed on its first send
        outcomes = []
        for mailbox in targets:
            outcome = mailbox.offer(text, heard)
            if outcome == "sent" and heard is not None:  # written here: no handler times it
                self._telemetry.delivery_seconds.observe(time.monotonic() - heard)
            outcomes.append(outcome)
        dropped = outcomes.count("dropped")
        written = outcomes.count("sent")
        self._sent_seq = seq
        self._last_sent = now
        if changed:
            self._last_change_sent = now
        self._telemetry.broadcasts.labels("change" if changed else "heartbeat").inc()
        if dropped:
            self._telemetry.mailbox_overwrites.inc(dropped)
        if written:  # the handlers count what they send; these never reached a handler
            self._telemetry.ws_messages.inc(written)
        if isinstance(seq, int):
            self._telemetry.status_seq.set(seq)
        self._telemetry.broadcast_seconds.observe(time.perf_counter() - started)

    def _fail(self, exc: Exception) -> None:
        """The status cannot be computed: close every socket so its page polls (and sees why)."""
        self._telemetry.broadcast_failures.inc()
        if not self._failing:
            self._failing = True
            log.warning("status not computable, closing sockets: %s", type(exc).__name__)
        with self._lock:
            self._latest = None
            self._sent_seq = None
            targets = list(self._mailboxes)
        for mailbox in targets:
            mailbox.put(STATUS_UNAVAILABLE)
        self._last_sent = time.monotonic()

    # endregion
