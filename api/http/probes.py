"""`GET /healthz` and `GET /readyz`: what an orchestrator asks before sending traffic."""
from __future__ import annotations

from flask import jsonify

from api.errors import DATABASE_FAULTS, ApiError, database_fault
from api.runtime import get_runtime
from api.storage.readiness import CheckTimedOut


def healthz():
    """The process is alive and serving; says nothing about the database."""
    return jsonify({"status": "ok"})


def readyz():
    """Ready means the database answers within READY_TIMEOUT_SECONDS, its schema is at the
    newest migration, and it can be written to (api/storage/readiness.py)."""
    runtime = get_runtime()
    timeout = runtime.config["READY_TIMEOUT_SECONDS"]
    try:
        state = runtime.readiness(timeout)
    except CheckTimedOut as exc:
        raise ApiError(503, f"the database did not answer within {timeout:g} s",
                       {"dialect": runtime.db.dialect, "cause": "unavailable",
                        "waiting_seconds": round(exc.waited, 1)}, code="not_ready") from None
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        raise ApiError(503, "database unreachable",
                       {"dialect": runtime.db.dialect,
                        "cause": database_fault(exc) or "unavailable"},
                       code="not_ready") from None
    if state.revision != state.head:
        raise ApiError(503, "database schema is not at the newest migration",
                       {"current": state.revision, "head": state.head,
                        "fix": "python app.py migrate"}, code="not_ready")
    if state.fault is not None:
        raise ApiError(503, DATABASE_FAULTS[state.fault],
                       {"dialect": runtime.db.dialect, "cause": state.fault}, code="not_ready")
    return jsonify({"status": "ready", "revision": state.revision})
