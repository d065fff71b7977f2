"""Component ids, shared by the layout, the callbacks, the clientside code and the tests.

One name per id, so a renamed component cannot silently detach a callback or a browser test.
The clientside state machine (assets/pipewatch.js) uses the same strings.
"""
from __future__ import annotations

# Connection machinery: the socket, the poll timer, the one-second tick, and the stores.
WS = "pw-ws"
POLL = "pw-poll"
TICK = "pw-tick"
STATUS = "pw-status"            # {"doc": <status document>, "received_at": ms, "via": ...}
CONN = "pw-conn"                # the state machine's own state (state, attempt, retry_at, ...)
POLL_RESULT = "pw-poll-result"  # what the server poll callback returned last
POLL_KICK = "pw-poll-kick"     # bumped by the state machine to poll at once
CONFIG = "pw-config"            # cadences and thresholds the browser needs
DATA_VERSION = "pw-data-version"  # changes only when new metric rows exist (charts refetch)

# Header.
OVERALL_PILL = "pw-overall-pill"
CONN_PILL = "pw-conn-pill"
UPDATED = "pw-updated"
REFRESH = "pw-refresh"
SIGN_OUT = "pw-sign-out"
BANNER = "pw-banner"

# Status cards: one per key in CARD_KEYS.
CARD_KEYS = ("scraping", "geocoding", "validation")


def card(key: str, part: str) -> str:
    """Id of one part (panel, value, status, asof, spark) of a status card."""
    return f"pw-card-{key}-{part}"


# Panels that grey out when stale (each has a `-asof` text beside it).
HEALTH = "pw-health"
HEALTH_BODY = "pw-health-body"
SOURCES = "pw-sources"
SOURCES_TABLE = "pw-sources-table"
ISSUES = "pw-issues"
ISSUES_BODY = "pw-issues-body"

# Alert rules (dashboard/rules_panel.py): assets/rules.js draws the editor inside RULES_ROOT.
RULES = "pw-rules"
RULES_ROOT = "pw-rules-root"
RULES_CONFIG = "pw-rules-config"


def asof(panel: str) -> str:
    return f"{panel}-asof"


# Trend charts and their controls.
URL = "pw-url"
RANGE = "pw-range"
CUSTOM_START = "pw-custom-start"
CUSTOM_END = "pw-custom-end"
CUSTOM_BOX = "pw-custom-box"
SOURCES_PICK = "pw-sources-pick"
BUCKET = "pw-bucket"
TREND_GEO = "pw-trend-geocoding"
TREND_VAL = "pw-trend-validation"
TREND_VOL = "pw-trend-volume"
TREND_DATA = "pw-trend-data"
SHADING = "pw-shading"          # the last alert/anomaly shading, reused on data refreshes
TREND_NOTE = "pw-trend-note"
TREND_SHADED = "pw-trend-shaded"  # the list of shaded periods under the charts
DOWNLOAD_BUTTON = "pw-download-button"
DOWNLOAD = "pw-download"
