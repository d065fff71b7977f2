"""What each kind of receiver is sent for a notification: the webhook's JSON body,
Alertmanager's v2 alert (`POST /api/v2/alerts` takes a list of them), and apprise's one line.

All link back to the dashboard view of the alert's source over the days it covers
(`PUBLIC_URL`, or http://HOST:PORT), so whoever is paged lands on the charts that show it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Optional
from urllib.parse import urlencode

from api.timeutil import isoformat, parse_iso

TEST_ALERT_KEY = "test:notification"


def base_url(config: Mapping[str, Any]) -> str:
    return (config["PUBLIC_URL"] or f"http://{config['HOST']}:{config['PORT']}").rstrip("/")


def dashboard_url(config: Mapping[str, Any], alert: Mapping[str, Any],
                  created_at: datetime) -> str:
    """The page's view of the alert: its source (if it has one) over the UTC days from when
    its condition began to when it resolved (or this notification was written)."""
    began = _time(alert.get("since")) or _time(alert.get("fired_at")) or created_at
    ended = _time(alert.get("resolved_at")) or created_at
    start = min(began, ended).date()
    if ended.date() - start > timedelta(days=30):  # the page's longest custom range
        start = ended.date() - timedelta(days=30)
    params = [("range", "custom"), ("start", start.isoformat()),
              ("end", ended.date().isoformat())]
    if alert.get("source"):
        params.append(("sources", alert["source"]))
    return f"{base_url(config)}/?{urlencode(params)}"


def _time(value: Optional[str]) -> Optional[datetime]:
    return parse_iso(value) if value else None


def test_alert(now: datetime) -> dict[str, Any]:
    """The alert a test notification carries: id 0, no occurrence behind it."""
    return {"id": 0, "key": TEST_ALERT_KEY, "state": "firing", "severity": "warning",
            "title": "pipewatch test notification",
            "message": "Sent by POST /api/v1/notifications/test: the pipe works.",
            "source": None, "since": isoformat(now), "fired_at": isoformat(now),
            "resolved_at": None, "flapping": False, "ack": None, "silenced": None}


def webhook_body(uid: str, event: str, alert: Mapping[str, Any], sent_at: datetime,
                 url: str) -> dict[str, Any]:
    """The documented body (api/schemas/notifications.py `WebhookNotification`)."""
    return {"id": uid, "event": event, "alert": dict(alert), "sent_at": isoformat(sent_at),
            "url": url}


def alertmanager_alert(alert: Mapping[str, Any], url: str, now: datetime,
                       valid_for: timedelta) -> dict[str, Any]:
    """One Alertmanager v2 alert. A firing one ends `valid_for` from now unless re-sent (as
    Prometheus does), so Alertmanager resolves it by itself if pipewatch goes away; a
    resolved one ends when it resolved."""
    labels = {"alertname": alert["key"].split(":", 1)[0], "severity": alert["severity"],
              "key": alert["key"], "pipewatch_id": str(alert["id"])}
    if alert.get("source"):
        labels["source"] = alert["source"]
    ends = alert.get("resolved_at") or isoformat(now + valid_for)
    return {"labels": labels,
            "annotations": {"summary": alert["title"], "description": alert["message"]},
            "startsAt": alert.get("fired_at") or alert.get("since") or isoformat(now),
            "endsAt": ends, "generatorURL": url}


def chat_line(event: str, alert: Mapping[str, Any], url: str) -> tuple[str, str]:
    """(title, one line) for apprise: severity, title, source and the link; a resolved one
    says how long it lasted, an acknowledged one who is on it."""
    source = f" [{alert['source']}]" if alert.get("source") else ""
    head = {"firing": alert["severity"].upper(), "resolved": "RESOLVED",
            "acknowledged": "ACKNOWLEDGED", "test": "TEST"}[event]
    extra = ""
    if event == "resolved" and alert.get("fired_at") and alert.get("resolved_at"):
        lasted = parse_iso(alert["resolved_at"]) - parse_iso(alert["fired_at"])
        extra = f" (lasted {_duration(lasted)})"
    elif event == "acknowledged" and alert.get("ack"):
        extra = f" (by {alert['ack']['by']})"
    return (f"pipewatch {event}: {alert['title']}",
            f"{head}: {alert['title']}{source}{extra} {url}")


def _duration(span: timedelta) -> str:
    """`2 h 5 min`, `40 s`, `3 d 4 h`: two units at most."""
    seconds = max(0, int(span.total_seconds()))
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts = []
    for name, size in units:
        if seconds >= size or (name == "s" and not parts):
            parts.append(f"{seconds // size} {name}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)
