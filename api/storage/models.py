"""SQLAlchemy 2 models: the tracker's tables (read) and pipewatch's metrics table (written).

The migrations in `alembic/versions` create exactly this schema; `tests/test_migrations.py`
proves there is no autogenerate difference between them.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    JSON,
    MetaData,
    Boolean,
    String,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    literal,
    or_,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.timeutil import UTC

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

GEOCODING_STATUSES = ("success", "failed", "pending")
VALIDATION_STATUSES = ("passed", "failed", "pending")
SCRAPE_STATUSES = ("success", "failed", "partial")
METRIC_TYPES = ("aggregate", "source", "hourly")
QUALITY_STATUSES = ("pending", "healthy", "warning", "error")

SOURCE_MAX_LENGTH = 100
"""The longest source name a column holds (String(100) in scrape_runs and the metrics)."""
SOURCE_PATTERN = r"^[^\W_](?:[\w .-]*[\w.-])?$"
r"""What a written source name may be (checked at ingest, with `re.fullmatch` and Python's
Unicode `\w`): a letter or digit of any script first, then letters, digits, `_`, spaces, `.`
and `-`, not ending in a space. Names are identifiers that travel in URLs (`?sources=a,b`),
file names and spreadsheets: no markup, quotes, commas or formula signs. Rows written before
the rule keep their names and stay readable; every CSV escapes them (api/csvcell.py)."""
SOURCE_RULE = ("must start with a letter or digit and hold only letters, digits, spaces, "
               "'.', '_' and '-' (not ending in a space)")
"""The 422 message for a name SOURCE_PATTERN refuses."""

RATES: dict[str, tuple[str, str]] = {
    "geocoding_success_rate": ("geocoding_successes", "geocoding_attempts"),
    "validation_pass_rate": ("validation_passes", "validation_attempts"),
}
"""Each rate of a metric row, and the (successes, attempts) counts it is computed from.

The one list of a metric row's counts and rates: the model's columns and checks, the collector,
the status rules, the series and the anomalies read their names from here and from COUNTS."""
COUNTS = tuple(name for successes, attempts in RATES.values() for name in (attempts, successes))
"""A metric row's count columns, in the order its rows, queries and documents list them."""


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores `timestamptz`; SQLite has no zones, so the value is stored as naive UTC
    text and given back its zone on the way out. Naive values are refused on the way in, so a
    local time can never be mistaken for UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def time_param(name: str) -> BindParameter:
    """A UTC time named in a statement and bound when it runs.

    What lets a statement be built once and reused: SQLAlchemy then neither rebuilds it nor
    recomputes its cache key (about 1 ms per statement on the status's hot path)."""
    return bindparam(name, type_=UTCDateTime())


def after_position(time_column, id_column, position: tuple[datetime, int]) -> ColumnElement:
    """Rows after keyset position (time, id) in (time, id) order: what every cursor page reads
    next. The `>=` prefix lets both databases range-scan the time index."""
    moment, row_id = position
    return and_(time_column >= moment,
                or_(time_column > moment, and_(time_column == moment, id_column > row_id)))


def as_time(value: datetime | BindParameter) -> ColumnElement:
    """A time bound for a statement: a datetime as a bound literal, a time_param as it is."""
    return value if isinstance(value, BindParameter) else literal(value, UTCDateTime())


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


def _counts_check(successes: str, attempts: str) -> CheckConstraint:
    """Counts are never negative, and never more successes than attempts."""
    kind = attempts.removesuffix("_attempts")
    return CheckConstraint(f"{attempts} >= 0 AND {successes} >= 0 AND {successes} <= {attempts}",
                           name=f"{kind}_counts")


def _rate(successes: str, attempts: str) -> Computed:
    """A rate derived by the database from its counts: it can never disagree with them."""
    return Computed(
        f"CASE WHEN {attempts} > 0 THEN CAST({successes} AS FLOAT) / {attempts} END",
        persisted=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[Optional[str]] = mapped_column(String(100))
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)


class Conflict(Base):
    __tablename__ = "conflicts"
    __table_args__ = (
        CheckConstraint(_one_of("geocoding_status", GEOCODING_STATUSES), name="geocoding_status"),
        CheckConstraint(_one_of("validation_status", VALIDATION_STATUSES), name="validation_status"),
        Index("ix_conflicts_scraped_at", "scraped_at"),
        Index("ix_conflicts_source_scraped_at", "source", "scraped_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_url: Mapped[str] = mapped_column(String(1000), unique=True)
    title: Mapped[Optional[str]] = mapped_column(Text)
    event_date: Mapped[Optional[date]] = mapped_column(Date)
    scraped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location_text: Mapped[Optional[str]] = mapped_column(String(300))
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("locations.id"))
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)
    geocoding_status: Mapped[str] = mapped_column(String(16), default="pending")
    validation_status: Mapped[str] = mapped_column(String(16), default="pending")
    fatalities: Mapped[Optional[int]] = mapped_column(Integer)
    event_type: Mapped[Optional[str]] = mapped_column(String(100))


class Forecast(Base):
    __tablename__ = "forecast"
    __table_args__ = (Index("ix_forecast_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    forecast_date: Mapped[date] = mapped_column(Date)
    risk_score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScrapeRun(Base):
    __tablename__ = "scrape_runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", SCRAPE_STATUSES), name="status"),
        CheckConstraint("items_found >= 0 AND items_new >= 0", name="item_counts"),
        Index("ix_scrape_runs_started_at", "started_at"),
        Index("ix_scrape_runs_source_started_at", "source", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)


class DataQualityMetric(Base):
    """One row of data quality over a window ending at `timestamp`.

    `metric_type`: `aggregate` (all sources, trailing window, every collector cycle), `source`
    (one source, trailing window), `hourly` (one closed clock hour; source NULL = all sources).
    Rates are computed columns, NULL when there were no attempts; `status` is then `pending`.
    """

    __tablename__ = "data_quality_metrics"
    __table_args__ = (
        CheckConstraint(_one_of("metric_type", METRIC_TYPES), name="metric_type"),
        CheckConstraint(_one_of("status", QUALITY_STATUSES), name="status"),
        *(_counts_check(successes, attempts) for successes, attempts in RATES.values()),
        CheckConstraint("window_seconds > 0", name="window_seconds"),
        Index("ix_data_quality_metrics_source", "source"),
        Index("ix_data_quality_metrics_metric_type", "metric_type"),
        Index("ix_data_quality_metrics_metric_type_timestamp", "metric_type", "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    window_seconds: Mapped[int] = mapped_column(Integer)
    metric_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[Optional[str]] = mapped_column(String(100))
    geocoding_attempts: Mapped[int] = mapped_column(Integer, default=0)
    geocoding_successes: Mapped[int] = mapped_column(Integer, default=0)
    geocoding_success_rate: Mapped[Optional[float]] = mapped_column(
        Float, _rate(*RATES["geocoding_success_rate"]))
    validation_attempts: Mapped[int] = mapped_column(Integer, default=0)
    validation_passes: Mapped[int] = mapped_column(Integer, default=0)
    validation_pass_rate: Mapped[Optional[float]] = mapped_column(
        Float, _rate(*RATES["validation_pass_rate"]))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """An ingest request's Idempotency-Key and the response it got, so a retry gets the same.

    Written in the same transaction as the rows it stands for: a key never exists without its
    rows, nor rows without their key, and every process and host on the database sees it.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of route + key
    request_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical body
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RevokedSession(Base):
    """A sign-in cookie's session that signed out before its cookie expired (POST /logout).

    The cookie itself is signed and carries its session id and the time it was issued
    (api/auth.py); a signed-out cookie would still verify until it expires, so its id is kept
    here until then (`expires_at`), where every process and host on the database sees it. Rows
    past `expires_at` are pruned by the next sign-out.
    """

    __tablename__ = "revoked_sessions"
    __table_args__ = (Index("ix_revoked_sessions_expires_at", "expires_at"),)

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


ALERT_STATES = ("pending", "firing", "resolved")
OPEN_ALERT_STATES = ("pending", "firing")


class AlertOccurrence(Base):
    """One occurrence of an alert: from the evaluation that first saw its condition to the one
    that resolved it (api/status/lifecycle.py). The next occurrence of the same `key` is a new
    row, so an ack (stored here) ends with its occurrence.

    `title`, `severity` and `message` are as of the last transition; the status shows the live
    ones while the condition holds. `cleared_at` is when a firing alert's condition was first
    seen clear (it resolves ALERT_KEEP_FIRING_SECONDS later unless the condition returns).
    """

    __tablename__ = "alert_occurrences"
    __table_args__ = (
        CheckConstraint(_one_of("state", ALERT_STATES), name="state"),
        Index("ix_alert_occurrences_state", "state"),
        Index("ix_alert_occurrences_key_started_at", "key", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[Optional[str]] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    since: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    cleared_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_by: Mapped[Optional[str]] = mapped_column(String(100))
    ack_note: Mapped[Optional[str]] = mapped_column(Text)
    ack_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


class AlertTransition(Base):
    """A state change of an occurrence (or a change of its severity), written once by the
    one evaluator of the database; GET /api/v1/alerts/events lists them."""

    __tablename__ = "alert_transitions"
    __table_args__ = (
        CheckConstraint(_one_of("state", ALERT_STATES), name="state"),
        Index("ix_alert_transitions_at", "at"),
        Index("ix_alert_transitions_key_at", "key", "at"),
        Index("ix_alert_transitions_occurrence_id", "occurrence_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("alert_occurrences.id"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[Optional[str]] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class AlertRule(Base):
    """An operator's override of the alert settings for a source, an alert kind, or both
    (api/status/rules.py says which applies where). Null columns leave the setting to less
    specific rules and then to the environment. PUT /api/v1/rules replaces the whole set in one
    transaction, after checking that no two rules share a scope."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[Optional[str]] = mapped_column(String(100))
    kind: Mapped[Optional[str]] = mapped_column(String(32))
    healthy_rate: Mapped[Optional[float]] = mapped_column(Float)
    warning_rate: Mapped[Optional[float]] = mapped_column(Float)
    stale_warning_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    stale_error_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    anomaly_threshold: Mapped[Optional[float]] = mapped_column(Float)
    for_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    keep_firing_for_seconds: Mapped[Optional[int]] = mapped_column(Integer)


class RuleChange(Base):
    """One PUT of the rules: who, when, why, and the whole set before and after (as
    GET /api/v1/rules lists it). Its id is the rules' `version`."""

    __tablename__ = "rule_changes"
    __table_args__ = (Index("ix_rule_changes_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    before: Mapped[list] = mapped_column(JSON)
    after: Mapped[list] = mapped_column(JSON)


class Silence(Base):
    """Matchers with a start, an end, a creator and a comment, like an Alertmanager silence.

    While active (`starts_at <= now < ends_at`, and `expired_at` unset or later than now) every
    open alert matching all of its set matchers (`source`, `kind`, `key`; at least one is set)
    is shown silenced. It never touches an occurrence or a transition: history is the same
    with or without it. DELETE sets `expired_at` (the row stays, listed as ended).
    """

    __tablename__ = "silences"
    __table_args__ = (
        CheckConstraint("source IS NOT NULL OR kind IS NOT NULL OR key IS NOT NULL",
                        name="matcher"),
        CheckConstraint("starts_at < ends_at", name="period"),
        Index("ix_silences_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[Optional[str]] = mapped_column(String(100))
    kind: Mapped[Optional[str]] = mapped_column(String(32))
    key: Mapped[Optional[str]] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)



NOTIFICATION_EVENTS = ("firing", "resolved", "acknowledged", "test")
"""What a notification announces: an alert fired or resolved, an operator acknowledged it, or
an operator asked for a test (POST /api/v1/notifications/test)."""
NOTIFICATION_STATES = ("pending", "delivered", "failed")
"""`pending` until a receiver accepted it (`delivered`) or the sender gave up (`failed`)."""


class Notification(Base):
    """The outbox: one row per (transition or ack x receiver), written in the transaction of
    what it announces (api/status/announce.py), delivered by api/notify/.

    `uid` is the id receivers de-duplicate by (a retry sends the same one). `receiver` names
    the receiver by kind and a hash of its URL, `target` shows it without secrets (kind and
    host): neither holds a token. `alert` is the JSON of the alert as the status document
    showed it when the row was written. A sender holding a row sets `lease_until`; a sender
    killed mid-delivery leaves it to be sent again once the lease passes."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_one_of("event", NOTIFICATION_EVENTS), name="event"),
        CheckConstraint(_one_of("state", NOTIFICATION_STATES), name="state"),
        Index("ix_notifications_receiver_state", "receiver", "state"),
        Index("ix_notifications_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    occurrence_id: Mapped[Optional[int]] = mapped_column(ForeignKey("alert_occurrences.id"))
    event: Mapped[str] = mapped_column(String(16))
    receiver: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(300))
    alert: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_status: Mapped[Optional[int]] = mapped_column(Integer)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

# Newest-first scans ("the latest rows") read this index from its start.
Index("ix_data_quality_metrics_timestamp", DataQualityMetric.timestamp.desc())
