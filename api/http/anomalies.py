"""`/api/v1/anomalies`: anomalies of the newest hour and every anomalous hour in the range."""
from __future__ import annotations

from api import queries
from api.http.history import current_and_history


def list_anomalies():
    """Anomalies of the newest hour (`current`) and every anomalous hour in the range (`items`)."""
    return current_and_history("anomalies", queries.anomaly_history)
