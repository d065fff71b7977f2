"""`/api/v1/alerts`: alerts open now and every alert period overlapping the range."""
from __future__ import annotations

from api import queries
from api.http.history import current_and_history


def list_alerts():
    """Alerts open now (`current`) and every alert period overlapping the range (`items`)."""
    return current_and_history("alerts", queries.alert_history)
