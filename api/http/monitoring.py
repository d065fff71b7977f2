"""`GET /api/v1/monitoring/pipeline-status`: the status document, as the WebSocket pushes it
(api/live/websocket.py serves `/api/v1/ws/monitoring/pipeline-status`)."""
from __future__ import annotations

from flask import jsonify

from api.runtime import get_runtime
from api.status.document import current_status


def pipeline_status():
    """The status document (docs/architecture.md), the same JSON the WebSocket pushes."""
    return jsonify(current_status(get_runtime()))
