"""`GET /healthz` and `GET /readyz`: what an orchestrator asks before sending traffic."""
from __future__ import annotations

from flask import jsonify

from api.errors import ApiError
from api.runtime import get_runtime
from api.storage import migrate


def healthz():
    """The process is alive and serving; says nothing about the database."""
    return jsonify({"status": "ok"})


def readyz():
    """Ready means the database answers and its schema is at the newest migration."""
    runtime = get_runtime()
    try:
        current = migrate.current_revision(runtime.db.engine)
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        raise ApiError(503, "database unreachable",
                       {"dialect": runtime.db.dialect}, code="not_ready") from None
    head = migrate.head_revision()
    if current != head:
        raise ApiError(503, "database schema is not at the newest migration",
                       {"current": current, "head": head,
                        "fix": "python app.py migrate"}, code="not_ready")
    return jsonify({"status": "ready", "revision": current})
