"""Every JSON document pipewatch sends, as pydantic models: the status document (REST, the
WebSocket, polling), metric rows and pages, series, sources, alerts, anomalies, the probes,
the ingest answers and the one error shape.

The routes build plain dicts (the hot path serialises the status once per change, with no model
in the way); these models describe what those dicts must be. The OpenAPI document is generated
from them (api.schemas.components), tests/test_documents.py validates every route's real
responses against them, and schemathesis checks every response of the live app against the
generated schemas. Each model forbids extra fields, so a field the server starts sending
without documenting it fails those checks.

Enums and limits come from where they are defined: statuses and metric types from
api.storage.models, severities from api.status.thresholds, series metrics and buckets from
api.status.series, anomaly kinds from api.status.anomalies.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

from api.errors import DATABASE_FAULTS
from api.schemas.fields import INT32_MAX
from api.schemas.problems import Problem
from api.schemas.rules import HoldSeconds, RuleRate, StaleSeconds, Threshold
from api.status.alerts import KINDS as ALERT_KINDS
from api.status.anomalies import KINDS as ANOMALY_KINDS
from api.status.quality import BASES as QUALITY_BASES
from api.status.series import BUCKETS, METRICS
from api.status.silences import STATES as SILENCE_STATES
from api.status.thresholds import SEVERITIES
from api.storage.models import (ALERT_STATES, METRIC_TYPES, OPEN_ALERT_STATES, QUALITY_STATUSES,
                                SCRAPE_STATUSES)

Time = AwareDatetime
"""ISO 8601 UTC with Z, as api.timeutil.isoformat writes it."""
Status = Literal[QUALITY_STATUSES]
Severity = Literal[SEVERITIES]
Rate = Optional[Annotated[float, Field(ge=0, le=1)]]
"""successes / attempts; null when there were no attempts."""
StoredCount = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count as a row stores it (an INTEGER column)."""
Sum = NonNegativeInt
"""A count summed over rows (no column bounds it)."""


class Document(BaseModel):
    """A document the server sends: every field it may carry is declared, nothing else."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


# region The error shape

class ErrorDetails(Document):
    """What else helps the caller; which fields appear depends on the error."""

    problems: list[Problem] = Field(default=None)
    """Every problem found (422, and 400 for a bad cursor)."""
    content_type: Optional[str] = Field(default=None)
    """The Content-Type that was sent (415)."""
    sign_in: str = Field(default=None)
    """Where a browser signs in (401 on a read)."""
    fix: str = Field(default=None)
    """What to do about it."""
    reason: str = Field(default=None)
    """Why the database could not be used (503), in words."""
    cause: Literal[tuple(DATABASE_FAULTS)] = Field(default=None)
    """The same as a word a program can act on (503): `locked` and `unavailable` pass (see
    Retry-After), `read_only` and `disk_full` need an operator."""
    dialect: str = Field(default=None)
    """The database kind that did not answer (/readyz)."""
    current: Optional[str] = Field(default=None)
    """The database's migration (/readyz: not the newest; null: none applied)."""
    head: str = Field(default=None)
    """The newest migration (/readyz)."""


class ErrorBody(Document):
    code: str
    """Stable, for programs: `unauthorized`, `bad_json`, `invalid_cursor`, ..."""
    message: str
    """For people."""
    details: Optional[ErrorDetails]


class Error(Document):
    """Every error under /api/ and of the probes: never HTML, never a traceback."""

    error: ErrorBody

# endregion

# region Stored rows and the export


class Metric(Document):
    """A data-quality metric row, as the export and the ingest answer show it."""

    id: int
    timestamp: Time
    """The end of the window the row covers."""
    window_seconds: Annotated[int, Field(ge=1)]
    metric_type: Literal[METRIC_TYPES]
    source: Optional[str]
    """null: all sources."""
    geocoding_attempts: StoredCount
    geocoding_successes: StoredCount
    geocoding_success_rate: Rate
    validation_attempts: StoredCount
    validation_passes: StoredCount
    validation_pass_rate: Rate
    status: Status
    created_at: Time


class ScrapeRun(Document):
    """A stored scrape run."""

    id: int
    source: str
    started_at: Time
    finished_at: Optional[Time]
    status: Literal[SCRAPE_STATUSES]
    items_found: StoredCount
    items_new: StoredCount
    error: Optional[str]


class MetricsCreated(Document):
    """`POST /api/v1/metrics` 201: every row stored, in the body's order."""

    items: list[Metric]


class ScrapeRunsCreated(Document):
    """`POST /api/v1/scrape-runs` 201: every run stored, in the body's order."""

    items: list[ScrapeRun]


class MetricsPage(Document):
    """`GET /api/v1/metrics` as JSON: one page of rows, in (timestamp, id) order."""

    items: list[Metric]
    next_cursor: Optional[str]
    """Pass back as `cursor` (with the same filters) for the next page; null on the last."""
    next_url: Optional[str]
    """This request with the next cursor."""
    truncated: bool
    """More rows follow this page."""
    limit: Annotated[int, Field(ge=1)]

# endregion

# region Series


class SeriesPoint(Document):
    """One bucket of one trace: counts summed over the hourly rows it holds."""

    bucket_start: Time
    bucket: Literal[tuple(BUCKETS)]
    source: Optional[str]
    """null: the all-sources trace."""
    metric: Literal[METRICS]
    attempts: Sum
    successes: Sum
    rate: Rate
    """Of the chosen rate metric (null for volume)."""
    volume: Sum
    value: Optional[float]
    """What the chart draws: the rate, or the volume."""
    status: Optional[Status]
    """The rate's status (null for volume)."""
    hours: Annotated[int, Field(ge=1)]
    """Hourly rows summed into the bucket."""
    geocoding_attempts: Sum
    geocoding_successes: Sum
    validation_attempts: Sum
    validation_passes: Sum
    expected: Optional[Annotated[float, Field(ge=0)]] = None
    """What `value` was expected to be: the source's seasonal expectation for this hour of the
    week (or of the day, or flat, when history is short; api/status/seasonal.py). Null for day
    buckets, the all-sources trace, ANOMALY_SEASONALITY=none, short history, or hour ranges
    over 14 days."""
    lower: Optional[Annotated[float, Field(ge=0)]] = None
    """The expected band's lower edge: a `value` below it is an anomaly (null as `expected`)."""
    upper: Optional[Annotated[float, Field(ge=0)]] = None
    """The band's upper edge (for volume: above it is an anomaly; rates alarm on drops only)."""


class Series(Document):
    """`GET /api/v1/metrics/series`: the buckets, by source then time."""

    metric: Literal[METRICS]
    bucket: Literal[tuple(BUCKETS)]
    """The bucket size used (`auto` resolved)."""
    start: Time
    end: Time
    sources: Optional[list[str]]
    """The sources asked for; null: the all-sources trace."""
    items: list[SeriesPoint]

# endregion

# region Alerts and anomalies


class Ack(Document):
    """Someone said they are on it; it ends with its occurrence."""

    by: str
    note: str
    at: Time


class Silenced(Document):
    """The active silence an alert is shown under (the longest-lasting one that matches)."""

    id: Annotated[int, Field(ge=1)]
    """The silence (`DELETE /api/v1/silences/{id}` ends it)."""
    until: Time
    """Its `ends_at`."""
    by: str
    comment: str


class Alert(Document):
    """An open occurrence of a condition an operator must act on (pending or firing)."""

    id: Annotated[int, Field(ge=1)]
    """The occurrence; the next occurrence of the same key gets a new id."""
    key: str
    """Stable while the condition lasts (`source_stale:punch`)."""
    state: Literal[OPEN_ALERT_STATES]
    """pending: seen for less than ALERT_FOR_SECONDS; firing: held that long (and keeps firing
    until clear for ALERT_KEEP_FIRING_SECONDS)."""
    severity: Severity
    title: str
    message: str
    """What was seen and what was expected (as last seen while the condition held)."""
    source: Optional[str]
    since: Optional[Time]
    """When the condition began, as far as the newest rows show."""
    fired_at: Optional[Time]
    """null while pending."""
    flapping: bool
    """Its key recorded more than ALERT_FLAPPING_TRANSITIONS transitions in the last hour."""
    ack: Optional[Ack]
    silenced: Optional[Silenced]
    """null, or the active silence matching it: it is still listed, never notified."""


class SilenceMatchers(Document):
    """An alert is covered when it equals every matcher set (null: any)."""

    source: Optional[str]
    kind: Optional[Literal[ALERT_KINDS]]
    key: Optional[str]


class Silence(Document):
    """Matchers with a start, an end, a creator and a comment."""

    id: Annotated[int, Field(ge=1)]
    matchers: SilenceMatchers
    starts_at: Time
    ends_at: Time
    created_by: str
    comment: str
    created_at: Time
    expired_at: Optional[Time]
    """When DELETE ended it early; null otherwise."""
    state: Literal[SILENCE_STATES]
    """scheduled: starts later; active: silencing matching alerts now; ended: past `ends_at`
    or expired."""


class Silences(Document):
    """`GET /api/v1/silences`: the scheduled, the active and the recently ended silences."""

    items: list[Silence]
    """By `starts_at`, then id."""
    recent_days: Annotated[int, Field(ge=1)]
    """Ended silences are listed for this many days after they ended."""


class RuleDocument(Document):
    """One stored rule: its scope (null: any) and every setting, null where not overridden."""

    source: Optional[str]
    kind: Optional[Literal[ALERT_KINDS]]
    healthy_rate: RuleRate
    warning_rate: RuleRate
    stale_warning_seconds: StaleSeconds
    stale_error_seconds: StaleSeconds
    anomaly_threshold: Threshold
    for_seconds: HoldSeconds
    keep_firing_for_seconds: HoldSeconds


class RuleDefaults(Document):
    """The environment's settings: what applies where no rule overrides."""

    healthy_rate: float
    """HEALTHY_RATE"""
    warning_rate: float
    """WARNING_RATE"""
    stale_warning_seconds: int
    """SOURCE_STALE_WARNING_SECONDS"""
    stale_error_seconds: int
    """SOURCE_STALE_ERROR_SECONDS"""
    anomaly_threshold: float
    """ANOMALY_THRESHOLD"""
    for_seconds: float
    """ALERT_FOR_SECONDS"""
    keep_firing_for_seconds: float
    """ALERT_KEEP_FIRING_SECONDS"""


class Rules(Document):
    """`GET /api/v1/rules` (and a PUT's answer): the defaults, the rules, their version."""

    defaults: RuleDefaults
    rules: list[RuleDocument]
    """Least specific first: any source and kind, a kind, a source, a source and kind."""
    version: Annotated[int, Field(ge=0)]
    """The newest change's id (0: never changed); also the ETag, for If-Match."""
    updated_at: Optional[Time]
    updated_by: Optional[str]


class RuleChangeDocument(Document):
    """One PUT of the rules: who, when, why, and the whole set before and after."""

    id: Annotated[int, Field(ge=1)]
    at: Time
    by: str
    comment: str
    before: list[RuleDocument]
    after: list[RuleDocument]


class RuleChanges(Document):
    """`GET /api/v1/rules/changes`: newest first."""

    items: list[RuleChangeDocument]
    next_url: Optional[str]
    """The next (older) page; null on the last."""


class AlertPeriod(Document):
    """A stored alert occurrence that fired, from when it fired to when it resolved (one that
    resolved while still pending never fired and is not listed)."""

    key: str
    severity: Severity
    """The worst severity it had."""
    source: Optional[str]
    start: Time
    """When it fired."""
    end: Optional[Time]
    """When it resolved; null: still open."""
    title: str
    id: Annotated[int, Field(ge=1)]
    """The occurrence (`alert_id` of its events, `id` of the status document's alert)."""
    state: Literal["firing", "resolved"]


class Anomaly(Document):
    """An hour in which a source's rate or volume left its own recent normal."""

    kind: Literal[ANOMALY_KINDS]
    source: str
    detected_at: Time
    """The end of the hour."""
    value: float
    baseline: float
    """The median of the source's trailing hours."""
    score: float
    """Robust z-score: 0.6745 (value - median) / MAD."""
    severity: Severity


class AnomalousHour(Anomaly):
    """An anomaly of the history, with the hour it covers."""

    start: Time
    end: Time

# endregion

# region The status document


class SourceScraping(Document):
    """How one source's scraper is doing."""

    status: Status
    last_run_at: Time
    last_success_at: Optional[Time]
    """null: no successful run seen."""
    runs_24h: Sum
    failures_24h: Sum
    items_24h: Sum
    """New items in the last 24 h."""
    last_error: Optional[str]
    """The newest failure's error of the last 24 h (shortened)."""


class SourceHealth(SourceScraping):
    source: str


class ScrapingHealth(Document):
    status: Status
    """The worst of the sources' (pending when none)."""
    sources: list[SourceHealth]
    runs_24h: Sum
    """Runs of every source in the last 24 h."""
    failures_24h: Sum
    """Of those, the runs that failed."""
    success_rate_24h: Rate
    """Share of the last 24 h's runs that did not fail (null: no runs)."""
    healthy_sources: Sum
    """Sources whose scraping status is healthy."""


class QualityFigures(Document):
    """Rates, their status and the counts they come from."""

    status: Status
    geocoding_success_rate: Rate
    validation_pass_rate: Rate
    geocoding_attempts: Sum
    geocoding_successes: Sum
    validation_attempts: Sum
    validation_passes: Sum


class SourceQualityFigures(QualityFigures):
    as_of: Time
    """The end of the window these figures cover."""


class SourceQuality(SourceQualityFigures):
    source: str


class DataQuality(QualityFigures):
    basis: Literal[QUALITY_BASES]
    """`metrics`: the collector's newest rows; `conflicts`: counted from the tracker's table
    (no metric row yet)."""
    as_of: Optional[Time]
    by_source: list[SourceQuality]
    geocoding_success_rate_status: Status
    """The geocoding rate's own status."""
    validation_pass_rate_status: Status
    """The validation rate's own status."""


class Freshness(Document):
    """The newest time in each table (null: empty)."""

    latest_conflict_at: Optional[Time]
    latest_metric_at: Optional[Time]
    latest_scrape_at: Optional[Time]
    latest_forecast_at: Optional[Time]


class PipelineStatus(Document):
    """The status document: `GET /api/v1/monitoring/pipeline-status`, every WebSocket message,
    every poll. Only `timestamp` moves while the database does not."""

    timestamp: Time
    overall_status: Status
    seq: Annotated[int, Field(ge=1)]
    """Grows by one each time the content (all but `timestamp`) changes."""
    scraping_health: ScrapingHealth
    data_quality: DataQuality
    anomalies: list[Anomaly]
    alerts: list[Alert]
    """Errors first, then warnings; by key within each."""
    freshness: Freshness

# endregion

# region Reads built on the status


class SourceItem(Document):
    source: str
    status: Status
    """The worse of its scraping and data-quality statuses."""
    scraping: Optional[SourceScraping]
    """null: no scrape run seen."""
    data_quality: Optional[SourceQualityFigures]
    """null: no recent metric row of this source."""
    alerts: list[Alert]


class Sources(Document):
    """`GET /api/v1/sources`: every known source, now, by name."""

    timestamp: Time
    seq: Annotated[int, Field(ge=1)]
    items: list[SourceItem]


class Alerts(Document):
    """`GET /api/v1/alerts`."""

    start: Time
    end: Time
    sources: Optional[list[str]]
    current: list[Alert]
    """Open now (from the status document)."""
    items: list[AlertPeriod]
    """Stored occurrences that fired and overlap the range, newest start first (then by key)."""


class AlertEvent(Document):
    """A transition of an alert occurrence (or a change of its severity while open)."""

    id: Annotated[int, Field(ge=1)]
    alert_id: Annotated[int, Field(ge=1)]
    """The occurrence (`id` of the status document's alert)."""
    key: str
    kind: Literal[ALERT_KINDS]
    source: Optional[str]
    at: Time
    state: Literal[ALERT_STATES]
    severity: Severity
    message: str


class AlertEvents(Document):
    """`GET /api/v1/alerts/events`: one page of transitions, in (at, id) order."""

    items: list[AlertEvent]
    next_cursor: Optional[str]
    """Pass back as `cursor` (with the same filters) for the next page; null on the last."""
    next_url: Optional[str]
    """This request with the next cursor."""
    truncated: bool
    """More transitions follow this page."""
    limit: Annotated[int, Field(ge=1)]


class Anomalies(Document):
    """`GET /api/v1/anomalies`."""

    start: Time
    end: Time
    sources: Optional[list[str]]
    current: list[Anomaly]
    """Of the newest hour (from the status document)."""
    items: list[AnomalousHour]
    """Every anomalous hour in the range, newest first."""

# endregion

# region Probes


class Liveness(Document):
    """`GET /healthz`: the process serves (says nothing about the database)."""

    status: Literal["ok"]


class Readiness(Document):
    """`GET /readyz`: the database answers at the newest migration."""

    status: Literal["ready"]
    revision: str

# endregion
