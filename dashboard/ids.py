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

# Notifications (dashboard/notify_panel.py): assets/notifications.js draws inside NOTIFY_ROOT.
NOTIFY = "pw-notify"
NOTIFY_ROOT = "pw-notify-root"
NOTIFY_CONFIG = "pw-notify-config"
NOTIFY_VERSION = "pw-notify-version"  # changes when an alert transition or ack may be notified


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

# Acting on alerts (dashboard/acting.py): the buttons on each alert card are pattern-matching
# ids {"type": ALERT_BUTTON, "action": ..., "alert": <id>} drawn by assets/pipewatch.js; one
# dialog (acknowledge with a note, or silence) and one line of feedback serve them all.
ALERT_BUTTON = "pw-alert-button"
ACT_DIALOG = "pw-act-dialog"
ACT_TITLE = "pw-act-title"
ACT_TARGET = "pw-act-target"      # {"action", "alert", "key", "title"} the dialog acts on
ACT_ACK_FORM = "pw-act-ack-form"
ACT_SILENCE_FORM = "pw-act-silence-form"
ACT_ACTOR = "pw-act-actor"        # "your name", remembered in localStorage (OPERATOR_KEY)
ACT_NOTE = "pw-act-note"
ACT_FOR = "pw-act-for"            # how long a silence lasts: a SILENCE_CHOICES key or "until"
ACT_UNTIL = "pw-act-until"
ACT_COMMENT = "pw-act-comment"
ACT_SUBMIT = "pw-act-submit"
ACT_CANCEL = "pw-act-cancel"
ACT_ERROR = "pw-act-error"        # the API's refusal, inside the dialog
ACT_FEEDBACK = "pw-act-feedback"  # what the last action did (or why it failed), over the list
READ_ONLY = "pw-read-only"        # shown instead of buttons on a page that may not act

# Alert history (dashboard/history.py): the stored transitions for the charts' selection.
HISTORY = "pw-history"
HISTORY_BODY = "pw-history-body"
HISTORY_NOTE = "pw-history-note"
HISTORY_PAGE = "pw-history-page"
HISTORY_NEWER = "pw-history-newer"
HISTORY_OLDER = "pw-history-older"
ALERTS_VERSION = "pw-alerts-version"  # changes when an open alert's state or severity does
