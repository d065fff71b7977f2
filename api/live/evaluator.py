"""The alert evaluator's worker: evaluate on every change, and at least every
ALERT_EVALUATE_SECONDS (a pending alert must fire, and a cleared one resolve, on time even when
no new data arrives).

Like the hub, `notify()` only sets a flag, so a burst of commits costs one evaluation. After an
evaluation that wrote, listeners are told (`runtime.notify_change()`), so the hub pushes the new
lifecycle at once; that wakes this worker once more, which finds nothing to do and writes
nothing, so the two never chase each other. Every process may run one: the database lock in
api/status/evaluation.py makes them take turns, and each transition is written once.
"""
from __future__ import annotations

import logging
import threading

from api.errors import DATABASE_UNAVAILABLE
from api.runtime import Runtime, report_thread_error
from api.status.evaluation import evaluate
from api.timeutil import utcnow

log = logging.getLogger(__name__)


class Evaluator:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._interval = runtime.config["ALERT_EVALUATE_SECONDS"]
        self._dirty = threading.Event()
        self._lock = threading.Lock()  # one evaluation at a time in this process

    def notify(self) -> None:
        """Committed data may have changed the alert conditions; cheap, from any thread."""
        self._dirty.set()

    def start(self) -> None:
        """Run the worker, when ALERT_EVALUATE_SECONDS asks for one."""
        if self._interval > 0:
            self._runtime.on_close(self._dirty.set)  # wake it to see `stopping`
            self._runtime.start_worker("evaluator", self._run)

    def run_once(self) -> bool:
        """Evaluate now; True when it wrote (and told listeners)."""
        with self._lock, self._runtime.db.session() as session:
            wrote = evaluate(session, utcnow(), self._runtime.config,
                             self._runtime.anomaly_cache) > 0
        if wrote:
            self._runtime.notify_change()
        return wrote

    def _run(self) -> None:
        stopping = self._runtime.stopping
        while not stopping.is_set():
            self._dirty.clear()
            try:
                self.run_once()
            except DATABASE_UNAVAILABLE as exc:
                log.warning("alert evaluation failed (%s); retrying", type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - reported; the next evaluation runs
                report_thread_error(exc)
            self._dirty.wait(self._interval)
