"""Settings: one table of name, default, type and help text.

Every setting is read in the same order: its default, then the environment variable of the
same name, then explicit overrides (tests, the command line). The table is the documentation's
source: `tests/test_config.py` fails when a setting is missing from the README.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting's value cannot be used; the message names the setting, never its value."""


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


INGEST_ITEM_BYTES = 1024
"""Body bytes the default MAX_BODY_BYTES leaves for each of INGEST_MAX_ITEMS items (with its
separator): a metric row with every field, counts at their largest and a 100-character source
is ~470 bytes (~970 with every letter escaped as \\uXXXX); a scrape run leaves ~700 bytes for
its error."""
DEFAULT_INGEST_MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", f"sqlite:///{REPO_ROOT / 'pipewatch.db'}", str,
            "SQLAlchemy URL of the database. A SQLite file by default; "
            "`postgresql+psycopg://user@host/db` for teams and several processes.",
            secret=True),
    Setting("HOST", "127.0.0.1", str, "Address the server listens on."),
    Setting("PORT", 8050, int, "Port the server listens on."),
    Setting("PIPEWATCH_INGEST_TOKEN", "", str,
            "Bearer token that writes (POST /api/v1/metrics, /api/v1/scrape-runs) must carry. "
            "Empty means every write is refused (403), never open.", secret=True),
    Setting("PIPEWATCH_READ_TOKEN", "", str,
            "If set, every read needs it: REST reads and /metrics as `Authorization: Bearer`, "
            "the dashboard and its WebSocket through a cookie set by signing in at /login "
            "(signed with a key derived from the token, so changing the token signs everyone "
            "out; it expires after SESSION_MAX_AGE_SECONDS). /healthz, /readyz and the OpenAPI "
            "document stay open. Empty (the default) means reads are open.",
            secret=True),
    Setting("PIPEWATCH_OPERATOR_TOKEN", "", str,
            "Token that acting on alerts (acknowledging, silencing, changing rules) needs: as "
            "`Authorization: Bearer` from programs, or typed at /login to make a browser an "
            "operator (who may also read). Empty: only a request from the server's own machine "
            "(loopback, e.g. the `make run` demo) may act; any other gets 403.", secret=True),
    Setting("AUTO_MIGRATE", True, _bool,
            "Upgrade the database to the newest migration when the app starts."),
    Setting("SQLITE_LOCK_WAIT_SECONDS", 5.0, float,
            "SQLite: longest a statement waits for another connection's write lock (the "
            "tracker, a cron `collect`, a backup, `sqlite3` in a shell). The wait is taken in "
            "short steps that let the server answer everything else meanwhile; after it a "
            "write answers 503 with cause `locked` and Retry-After. Keep it well under "
            "gunicorn's 30 s worker timeout."),
    Setting("PG_CONNECT_TIMEOUT_SECONDS", 5, int,
            "PostgreSQL: longest wait for a new connection (libpq `connect_timeout`; libpq "
            "treats 1 as 2). 0 waits forever."),
    Setting("PG_STATEMENT_TIMEOUT_SECONDS", 60.0, float,
            "PostgreSQL: the server cancels a statement running longer than this "
            "(`statement_timeout`); the request answers 503. 0 turns it off."),
    Setting("PG_LOCK_TIMEOUT_SECONDS", 5.0, float,
            "PostgreSQL: longest a statement waits for a row or table lock (`lock_timeout`); "
            "then 503 with cause `locked` and Retry-After. 0 waits forever."),
    Setting("PG_POOL_TIMEOUT_SECONDS", 5.0, float,
            "PostgreSQL: longest a request waits for a free pooled connection (all in use, "
            "e.g. while the database hangs); then 503."),
    Setting("READY_TIMEOUT_SECONDS", 1.0, float,
            "/readyz answers 503 when the database has not answered its checks within this "
            "long (a hung server, not only a stopped one)."),
    Setting("HEALTHY_RATE", 0.90, float,
            "A geocoding or validation rate at or above this is healthy."),
    Setting("WARNING_RATE", 0.75, float,
            "A rate at or above this (and below HEALTHY_RATE) is a warning; below it, an error."),
    Setting("SOURCE_STALE_WARNING_SECONDS", 7200, int,
            "A source with no successful scrape for this long is a warning."),
    Setting("SOURCE_STALE_ERROR_SECONDS", 21600, int,
            "A source with no successful scrape for this long is an error."),
    Setting("QUALITY_WINDOW_SECONDS", 86400, int,
            "Trailing window of the collector's aggregate and per-source rows."),
    Setting("ANOMALY_THRESHOLD", 3.5, float,
            "Robust z-score (median/MAD) beyond which an hourly value is an anomaly."),
    Setting("ANOMALY_BASELINE_DAYS", 7, int,
            "Days of a source's hourly history its newest hour is compared against."),
    Setting("ANOMALY_MIN_HISTORY_HOURS", 48, int,
            "Fewer hourly points than this in the baseline: no anomaly is raised."),
    Setting("ANOMALY_MIN_ATTEMPTS", 5, int,
            "An hour with fewer attempts than this is too small to judge a rate."),
    Setting("ANOMALY_SEASONALITY", "hour_of_week", str,
            "What an hour is compared with: `hour_of_week` (the same hour of the week, falling "
            "back to the same hour of the day, then to all hours, when history is short), "
            "`hour_of_day` (start the fallback there), or `none` (the flat trailing "
            "ANOMALY_BASELINE_DAYS window). Also sets the charts' expected band."),
    Setting("SEASONAL_WEEKS", 4, int,
            "Weeks of hourly history the seasonal expectation is trained on (incidents of error "
            "severity left out)."),
    Setting("METRICS_STALE_SECONDS", 3600, int,
            "The status raises a `metrics_stale` warning when the newest aggregate metric row "
            "is older than this (the collector stopped); 0 turns the alert off."),
    Setting("ALERT_FOR_SECONDS", 120, int,
            "An alert stays `pending` until its condition has held this long (seen at every "
            "evaluation), then fires; a dip shorter than this never fires. 0 fires at once."),
    Setting("ALERT_KEEP_FIRING_SECONDS", 300, int,
            "A firing alert resolves only after its condition has been clear this long "
            "(hysteresis: a rate wobbling around its threshold fires once and resolves once)."),
    Setting("ALERT_FLAPPING_TRANSITIONS", 6, int,
            "An alert whose key recorded more than this many transitions (state or severity "
            "changes) in the last hour is marked `flapping`."),
    Setting("ALERT_EVALUATE_SECONDS", 10.0, float,
            "The alert evaluator runs on every change and at least this often (pending alerts "
            "fire and cleared ones resolve on time with no new data); 0 turns the in-process "
            "evaluator off (another process on the same database, or tests, evaluate)."),
    Setting("COLLECTOR_INTERVAL_SECONDS", 300, int,
            "How often the in-process collector writes metric rows; 0 turns it off "
            "(then run `python app.py collect` from cron)."),
    Setting("SIMULATE", False, _bool,
            "Run the demo pipeline simulator in-process (what `python app.py demo` sets)."),
    Setting("SIMULATOR_INTERVAL_SECONDS", 3.0, float,
            "Seconds between the simulator's writes when SIMULATE is on."),
    Setting("DEMO_COLLECT_SECONDS", 30, int,
            "With SIMULATE on, the simulator also runs the collector this often (its rows "
            "are stamped at this granularity) so the demo's metric rows move; 0 turns it off."),
    Setting("DEMO_RECEIVER", False, _bool,
            "Serve the demo's built-in webhook receiver at /api/v1/demo/webhooks: it checks "
            "each webhook's signature with WEBHOOK_SECRET and keeps the last 50 in memory. "
            "`python app.py demo` turns it on, and points WEBHOOK_URLS at it with a random "
            "WEBHOOK_SECRET, when no receiver is configured; `serve` always turns it off."),
    Setting("WS_MAX_CONNECTIONS", 100, int,
            "Open WebSockets per process; the next handshake is closed with code 1013."),
    Setting("WS_ALLOWED_ORIGINS", (), _csv,
            "Comma-separated origins (scheme://host[:port]) allowed to open the WebSocket "
            "besides the app's own."),
    Setting("WS_HEARTBEAT_SECONDS", 5.0, float,
            "The status is re-sent at least this often on every socket, even unchanged."),
    Setting("WS_MAX_MESSAGE_BYTES", 1024, int, "Largest inbound WebSocket frame accepted."),
    Setting("SQLITE_WATCH_SECONDS", 0.25, float,
            "How often SQLite's PRAGMA data_version is read to hear other processes' writes."),
    Setting("WS_COALESCE_SECONDS", 0.1, float,
            "Changes within this long of the last pushed change are sent together (a burst of "
            "commits causes a few recomputations); a lone change is pushed at once."),
    Setting("WS_PING_SECONDS", 25.0, float,
            "The server pings every socket this often and closes one that does not answer "
            "(frees slots held by vanished clients); 0 turns it off."),
    Setting("WS_COMPRESSION", False, _bool,
            "Accept permessage-deflate on sockets: fewer bytes on the wire, but every message "
            "is compressed per socket (CPU, and ~100 KB of memory per socket)."),
    Setting("GRACEFUL_TIMEOUT_SECONDS", 10, int,
            "`serve`: on SIGTERM, open requests get this long to finish (sockets are closed "
            "with 1001 at once so clients reconnect elsewhere)."),
    Setting("MAX_BODY_BYTES", DEFAULT_INGEST_MAX_ITEMS * INGEST_ITEM_BYTES, int,
            "Largest request body accepted (413 beyond). The default is INGEST_MAX_ITEMS x 1 KiB, "
            "so the longest list ingest allows fits (a full metric row is ~470 bytes); raise "
            "it with INGEST_MAX_ITEMS."),
    Setting("INGEST_MAX_ITEMS", DEFAULT_INGEST_MAX_ITEMS, int,
            "Most rows one ingest request may carry (a list is written all or nothing); "
            "MAX_BODY_BYTES must leave room for them."),
    Setting("INGEST_MAX_FUTURE_SECONDS", 300, int,
            "Ingested timestamps may be at most this far ahead of the server's clock (422 beyond)."),
    Setting("IDEMPOTENCY_TTL_SECONDS", 86400, int,
            "How long an ingest Idempotency-Key's first response is replayed to retries."),
    Setting("EXPORT_DEFAULT_LIMIT", 100, int,
            "Rows per JSON page of GET /api/v1/metrics when `limit` is not given."),
    Setting("EXPORT_MAX_LIMIT", 1000, int,
            "Largest `limit` of a JSON page (422 beyond); CSV and NDJSON exports are uncapped."),
    Setting("EXPORT_CSV_VIA_COPY", True, _bool,
            "On PostgreSQL, stream CSV exports straight from COPY (byte-identical to the "
            "generic row path, several times faster); off uses the generic path."),
    Setting("CURSOR_SECRET", "", str,
            "Key that signs export cursors. Empty: derived from DATABASE_URL, the same in every "
            "process on one database. Set it to make cursors unforgeable by anyone who knows "
            "the URL.", secret=True),
    # Sign-in and guessing (README "Access control").
    Setting("SESSION_MAX_AGE_SECONDS", 43200, int,
            "A browser's sign-in cookie expires this long after signing in (an open page then "
            "goes to /login by itself); POST /logout ends it at once, in every process."),
    Setting("AUTH_FAILURE_LIMIT", 10, int,
            "Wrong tokens (bearer reads and writes, sign-ins) one client address may send per "
            "AUTH_FAILURE_WINDOW_SECONDS; beyond it the address gets 429 with Retry-After "
            "until the window moves on. Counted per process; 0 turns throttling off."),
    Setting("AUTH_FAILURE_WINDOW_SECONDS", 300, int,
            "The window AUTH_FAILURE_LIMIT counts failures in."),
    Setting("AUTH_THROTTLE_MAX_ADDRESSES", 10_000, int,
            "Most client addresses whose failures are remembered (per process); the address "
            "that failed least recently is forgotten first."),
    Setting("TRUSTED_PROXIES", 0, int,
            "How many reverse proxies in front of pipewatch append to X-Forwarded-For and "
            "X-Forwarded-Proto; the client address (failed-token counts) and scheme (Origin "
            "check) are then read from them. 0: the TCP peer, headers ignored. Never set it "
            "higher than the proxies you run: clients could choose their own address."),
    Setting("WEBHOOK_URLS", (), _csv,
            "Comma-separated URLs that get one signed JSON POST per alert transition (firing, "
            "resolved, acknowledged) and per test notification. Empty: no webhooks.",
            secret=True),
    Setting("WEBHOOK_SECRET", "", str,
            "Key of the webhooks' `Pipewatch-Signature` (HMAC-SHA256 of `<t>.<body>`). Empty: "
            "webhooks are sent unsigned (receivers cannot tell them from forgeries).",
            secret=True),
    Setting("ALERTMANAGER_URLS", (), _csv,
            "Comma-separated base URLs of Prometheus Alertmanagers (every instance of an HA "
            "cluster): firing and resolved alerts are posted to each one's /api/v2/alerts. "
            "Empty: none.", secret=True),
    Setting("APPRISE_URLS", (), _csv,
            "Comma-separated apprise URLs (`slack://…`, `msteams://…`, `tgram://…`, "
            "`mailtos://…`, `json://…`; see the apprise documentation): one line per alert "
            "transition and per test, with the severity, title, source and the dashboard link. "
            "Empty: none.", secret=True),
    Setting("ALERTMANAGER_RESEND_SECONDS", 60.0, float,
            "Firing alerts are posted to Alertmanager again this often, each valid for four "
            "times as long, so a restarted Alertmanager learns them and one that stops hearing "
            "from pipewatch resolves them. Keep it well under Alertmanager's resolve_timeout."),
    Setting("PUBLIC_URL", "", str,
            "The dashboard's address as receivers should link to it (`https://pipewatch."
            "example.org`). Empty: http://HOST:PORT."),
    Setting("NOTIFY_TIMEOUT_SECONDS", 5.0, float,
            "Longest a notification's delivery may take (connect and answer); then it counts "
            "as failed and is retried."),
    Setting("NOTIFY_MAX_ATTEMPTS", 6, int,
            "Attempts per notification before it is marked failed (5xx, timeouts and refused "
            "connections are retried with exponential backoff and jitter; 4xx never are)."),
    Setting("NOTIFY_RETRY_SECONDS", 2.0, float,
            "Wait before the first retry; each next one waits twice as long (plus up to 50% "
            "jitter), at most 300 s."),
    Setting("NOTIFY_RETENTION_DAYS", 30, int,
            "Delivered and failed notifications are kept this long in the delivery log "
            "(GET /api/v1/notifications), then deleted (checked hourly); pending ones are kept."),
    Setting("NOTIFY_POLL_SECONDS", 1.0, float,
            "The sender looks for notifications written by other processes (and due retries) "
            "at least this often; its own process's are sent at once. 0 turns the in-process "
            "sender off (another process on the same database sends)."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then `overrides`; unknown override names are errors."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.default
        if setting.name in environ:
            try:
                value = setting.parse(environ[setting.name])
            except ValueError as exc:
                raise ConfigError(f"environment variable {setting.name} is invalid: {exc}") from None
        config[setting.name] = value
    for name, value in (overrides or {}).items():
        if name not in SETTINGS_BY_NAME:
            raise ConfigError(f"unknown setting {name!r}")
        config[name] = value
    _check(config)
    return config


def _check(config: Mapping[str, Any]) -> None:
    if not 0 <= config["WARNING_RATE"] <= config["HEALTHY_RATE"] <= 1:
        raise ConfigError("need 0 <= WARNING_RATE <= HEALTHY_RATE <= 1")
    if config["SOURCE_STALE_WARNING_SECONDS"] > config["SOURCE_STALE_ERROR_SECONDS"]:
        raise ConfigError("SOURCE_STALE_WARNING_SECONDS must not exceed SOURCE_STALE_ERROR_SECONDS")
    if config["ANOMALY_SEASONALITY"] not in ("hour_of_week", "hour_of_day", "none"):
        raise ConfigError("ANOMALY_SEASONALITY must be hour_of_week, hour_of_day or none")
    if config["SEASONAL_WEEKS"] < 1:
        raise ConfigError("SEASONAL_WEEKS must be at least 1")
    for name in ("PORT", "WS_MAX_CONNECTIONS", "WS_MAX_MESSAGE_BYTES", "MAX_BODY_BYTES",
                 "QUALITY_WINDOW_SECONDS", "SESSION_MAX_AGE_SECONDS",
                 "AUTH_FAILURE_WINDOW_SECONDS", "AUTH_THROTTLE_MAX_ADDRESSES"):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    for name in ("AUTH_FAILURE_LIMIT", "TRUSTED_PROXIES"):
        if config[name] < 0:
            raise ConfigError(f"{name} must not be negative")
    for name in ("SQLITE_LOCK_WAIT_SECONDS", "PG_CONNECT_TIMEOUT_SECONDS",
                 "PG_STATEMENT_TIMEOUT_SECONDS", "PG_LOCK_TIMEOUT_SECONDS"):
        if config[name] < 0:
            raise ConfigError(f"{name} must not be negative")
    for name in ("WEBHOOK_URLS", "ALERTMANAGER_URLS"):
        if not all(_http_url(url) for url in config[name]):
            raise ConfigError(f"{name} must list http:// or https:// URLs with a host")
    if not all("://" in url for url in config["APPRISE_URLS"]):
        raise ConfigError("APPRISE_URLS must list apprise URLs (scheme://...)")
    for name in ("NOTIFY_TIMEOUT_SECONDS", "ALERTMANAGER_RESEND_SECONDS", "NOTIFY_MAX_ATTEMPTS",
                 "NOTIFY_RETENTION_DAYS"):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    for name in ("NOTIFY_RETRY_SECONDS", "NOTIFY_POLL_SECONDS"):
        if config[name] < 0:
            raise ConfigError(f"{name} must not be negative")
    for name in ("PG_POOL_TIMEOUT_SECONDS", "READY_TIMEOUT_SECONDS"):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be positive")


def _http_url(url: str) -> bool:
    """An http(s) URL with a host: what a notification receiver must be."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """A database URL fit for logs and errors: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as nothing at all
        return "<unparsable database URL>"
