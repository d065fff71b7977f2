"""`GET /metrics`: pipewatch's own counters (api/telemetry.py) in the Prometheus text format."""
from __future__ import annotations

from flask import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.runtime import get_runtime


def metrics():
    """The server's counters (every worker's under gunicorn: api/telemetry.py); the read guard
    (api/auth.py) asks for the read token if set."""
    registry = get_runtime().telemetry.exposition_registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
