"""`/api/v1/sources`: every known source with its scraping health, data quality and open alerts.

All of it is the status document's (api.status.document.current_status), regrouped per source:
the same facts the page and the WebSocket show, never recomputed here.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify

from api.runtime import get_runtime
from api.status.document import current_status
from api.status.thresholds import worst


def list_sources():
    """Each source, its worst status, its scraping and quality parts, its open alerts."""
    status = current_status(get_runtime(), caller="sources")
    scraping = {item["source"]: item for item in status["scraping_health"]["sources"]}
    quality = {item["source"]: item for item in status["data_quality"].get("by_source", [])}
    items = []
    for name in sorted(set(scraping) | set(quality)):
        parts = [part for part in (scraping.get(name), quality.get(name)) if part]
        items.append({
            "source": name,
            "status": worst(part["status"] for part in parts),
            "scraping": _without_source(scraping.get(name)),
            "data_quality": _without_source(quality.get(name)),
            "alerts": [alert for alert in status["alerts"] if alert.get("source") == name]})
    return jsonify({"timestamp": status["timestamp"], "seq": status["seq"], "items": items})


def _without_source(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: v for k, v in item.items() if k != "source"}
