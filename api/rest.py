"""REST routes of the foundation: the pipeline status, liveness and readiness."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from api.storage import migrate
from api.errors import ApiError
from api.runtime import get_runtime
from api.status.document import current_status

bp = Blueprint("pipewatch_rest", __name__)


@bp.get("/api/v1/monitoring/pipeline-status")
def pipeline_status_route():
    """The status document of DESIGN.md, the same JSON the WebSocket pushes."""
    return jsonify(current_status(get_runtime()))


@bp.get("/healthz")
def healthz():
    """The process is alive and serving; says nothing about the database."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
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


def init_app(server: Flask) -> None:
    server.register_blueprint(bp)
