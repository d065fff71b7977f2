"""Anomalies: hours in which a source's rates or volume leave its own recent normal.

The rule is a robust z-score, `0.6745 * (x - median) / MAD`, of one closed hour's value
against the same source's trailing ANOMALY_BASELINE_DAYS of hourly rows. Median and MAD (median
absolute deviation) are not dragged along by the outliers they are meant to catch, so one bad
day does not hide the next. Kinds: `geocoding_success_rate`, `validation_pass_rate` (alarm on
drops only: a better rate is not a problem) and `volume` (= geocoding attempts, both ways).

The MAD is floored so that a flat baseline (MAD 0) still gives finite scores, and so that a
score never exceeds what the hour's own sample size can explain: a rate measured on n events
has a binomial standard error sqrt(p(1-p)/n), a count a Poisson one sqrt(mean); a continuity
correction (half a step) is taken off the distance. Without these, 4 of 6 against a median of
100 % would be "an anomaly" several times a day in the demo's history.

No alarm when the baseline holds fewer than ANOMALY_MIN_HISTORY_HOURS points, nor on a rate
whose hour has fewer than ANOMALY_MIN_ATTEMPTS attempts (such hours are left out of rate
baselines too). Hours a source was silent count as volume 0 once the source has appeared.

The baseline an hour is judged against depends on ANOMALY_SEASONALITY: by default the
source's seasonal expectation for that hour of the week (api/status/seasonal.py: hour of week,
falling back to hour of day, then to flat, trained on SEASONAL_WEEKS weeks with error incidents
left out), so a night lull or a weekend dip is judged against other nights and weekends;
`none` keeps the flat trailing ANOMALY_BASELINE_DAYS window (`scan`). The floors above apply
either way.

Pure rules (`robust_score`, `judge`, `scan`, `scan_seasonal`, `band`) are separate from the
queries (`load_hourly`, `error_periods`).
"""
from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.storage.models import COUNTS, RATES, time_param
from api.storage.models import DataQualityMetric as M
from api.status import seasonal
from api.status.quality import of_type
from api.status.rules import rules_of, scoped
from api.storage.alert_store import fired_overlapping
from api.timeutil import HOUR, isoformat

KINDS = (*RATES, "volume")
RATE_KINDS = tuple(RATES)
"""The kinds that are rates (0-1, shown as percentages); `volume` is a count of events."""
MAD_CONSTANT = 0.6745
"""MAD of a normal distribution in standard deviations: makes the score comparable to a z."""
RATE_MAD_FLOOR = 0.005
VOLUME_MAD_FLOOR = 0.5
ERROR_FACTOR = 2.0
"""|score| at or beyond this many times ANOMALY_THRESHOLD is an error, not a warning."""
SINCE_HOURS = 24
"""How far back the status looks for the start of an ongoing run of anomalous hours."""


# region pure rules
def median(sorted_values: Sequence[float]) -> float:
    n = len(sorted_values)
    middle = n // 2
    if n % 2:
        return float(sorted_values[middle])
    return (sorted_values[middle - 1] + sorted_values[middle]) / 2.0


def mad(sorted_values: Sequence[float], centre: float) -> float:
    return median(sorted(abs(value - centre) for value in sorted_values))


def noise_floor(kind: str, mean: float, attempts: int) -> float:
    """The smallest MAD a score may use: the hour's own sampling noise (as a MAD), or a small
    constant. `mean` is the baseline's mean (the noise of a rate depends on its level)."""
    if kind == "volume":
        return max(VOLUME_MAD_FLOOR, MAD_CONSTANT * math.sqrt(max(mean, 1.0)))
    n = max(attempts, 1)
    p = (mean * n + 1) / (n + 2)  # Agresti-Coull: no zero noise at 0 % or 100 %
    return max(RATE_MAD_FLOOR, MAD_CONSTANT * math.sqrt(p * (1 - p) / n))


def robust_score(value: float, sorted_baseline: Sequence[float], floor: float = 0.0,
                 granularity: float = 0.0) -> tuple[float, float]:
    """(score, median): 0.6745 * (value - median) / max(MAD, floor).

    `granularity` (half a step of the measured quantity: 0.5/attempts for a rate, 0.5 for a
    count) is taken off the distance first, a continuity correction: a discrete value cannot
    land nearer the median than that.
    """
    centre = median(sorted_baseline)
    spread = max(mad(sorted_baseline, centre), floor)
    distance = max(abs(value - centre) - granularity, 0.0)
    return math.copysign(MAD_CONSTANT * distance / spread, value - centre), centre


@dataclass(frozen=True)
class Verdict:
    kind: str
    value: float
    baseline: float
    score: float
    severity: str


def judge(kind: str, value: float | None, attempts: int, sorted_baseline: Sequence[float],
          config: Mapping[str, Any], history: int | None = None) -> Verdict | None:
    """The anomaly verdict for one hour's `value` of `kind`, or None when there is none.

    `sorted_baseline` is the source's values of the same kind the hour is compared with,
    ascending (its trailing window, or its seasonal slot); `history` how many usable hours the
    source's model was built from (default: the baseline's length), which
    ANOMALY_MIN_HISTORY_HOURS applies to: a slot of 12 values from 4 weeks is not short history.
    """
    known = len(sorted_baseline) if history is None else history
    if value is None or not sorted_baseline or known < config["ANOMALY_MIN_HISTORY_HOURS"]:
        return None
    if kind != "volume" and attempts < config["ANOMALY_MIN_ATTEMPTS"]:
        return None
    threshold = config["ANOMALY_THRESHOLD"]
    centre = median(sorted_baseline)
    if kind != "volume" and value >= centre:
        return None  # rates alarm on drops only
    mean = sum(sorted_baseline) / len(sorted_baseline)
    granularity = 0.5 if kind == "volume" else 0.5 / attempts
    floor = noise_floor(kind, mean, attempts)
    if MAD_CONSTANT * max(abs(value - centre) - granularity, 0.0) / floor < threshold:
        return None  # even the smallest spread allowed cannot make this an anomaly: skip the MAD
    score, centre = robust_score(value, sorted_baseline, floor, granularity)
    if kind == "volume":
        alarming = abs(score) >= threshold
    else:
        alarming = score <= -threshold
    if not alarming:
        return None
    severity = "error" if abs(score) >= ERROR_FACTOR * threshold else "warning"
    return Verdict(kind, value, centre, score, severity)


def band(expectation: seasonal.Expectation, end: datetime, attempts: int,
         config: Mapping[str, Any]) -> dict[str, Any] | None:
    """{expected, lower, upper, level} of the hour ending at `end`, measured on `attempts`
    events: the slot's median, and the values `judge` would NOT call an anomaly (median plus or
    minus ANOMALY_THRESHOLD robust spreads, floored and continuity-corrected as judge does;
    rates clipped to 0-1, volume at 0). None when the model is too short to judge."""
    level, values = expectation.baseline(end)
    if not values or expectation.history < config["ANOMALY_MIN_HISTORY_HOURS"]:
        return None
    centre = median(values)
    mean = sum(values) / len(values)
    volume = expectation.kind == "volume"
    granularity = 0.5 if volume else 0.5 / max(attempts, 1)
    spread = max(mad(values, centre), noise_floor(expectation.kind, mean, attempts))
    reach = config["ANOMALY_THRESHOLD"] * spread / MAD_CONSTANT + granularity
    lower, upper = max(centre - reach, 0.0), centre + reach
    if not volume:
        upper = min(upper, 1.0)
    return {"expected": centre, "lower": lower, "upper": upper, "level": level}
# endregion


# region hourly series
class Hour(namedtuple("Hour", ("end", *COUNTS), defaults=(0,) * len(COUNTS))):
    """One source's counts in one closed hour (`end` = the hourly row's timestamp), named and
    ordered as api.storage.models.COUNTS; an hour with no row has every count 0."""

    __slots__ = ()

    def value(self, kind: str) -> tuple[float | None, int]:
        """(value, attempts behind it); a rate with zero attempts is None."""
        if kind == "volume":
            return float(self.geocoding_attempts), self.geocoding_attempts
        successes, attempts = (getattr(self, name) for name in RATES[kind])
        return (successes / attempts if attempts else None), attempts


def build_series(rows: Iterable[Any], collected: Iterable[datetime] = (),
                 present: Iterable[str] = ()) -> dict[str, list[Hour]]:
    """Per source, its hours in time order, silent hours filled in as empty.

    `rows` are per-source hourly rows (source, timestamp, then the counts in COUNTS order),
    ordered by time; `collected` the hours
    known to have been collected (the all-sources rows). A source's silent collected hours after
    its first row become empty Hours (volume 0, no rates). Sources in `present` are known to
    have appeared before `collected` begins: all their silent collected hours are filled, and
    they get a series even with no row at all.
    """
    by_source: dict[str, dict[datetime, Hour]] = {}
    for source, stamp, *counts in rows:
        by_source.setdefault(source, {})[stamp] = Hour(stamp, *counts)
    hours = sorted(set(collected))
    earlier = set(present)
    for source in earlier:
        by_source.setdefault(source, {})
    series = {}
    for source, known in by_source.items():
        if not known and not hours:
            continue
        first = hours[0] if source in earlier and hours else min(known)
        later = hours[bisect_left(hours, first):]
        ends = later if known.keys() <= set(later) else sorted({*known, *later})
        series[source] = [known.get(end) or Hour(end) for end in ends]
    return series


def scan(hours: Sequence[Hour], start: datetime, end: datetime,
         config: Mapping[str, Any]) -> list[tuple[Hour, Verdict]]:
    """Every (hour, verdict) of one source's series whose hour ends in [start, end].

    `hours` is in time order. Each hour is judged against the hours ending in [its end -
    baseline days, its end); only the judged hours and the first one's baseline are visited,
    the window then slides (values enter and leave a sorted list by bisection).
    """
    span = timedelta(days=config["ANOMALY_BASELINE_DAYS"])
    min_attempts = config["ANOMALY_MIN_ATTEMPTS"]
    ends = [hour.end for hour in hours]
    first = bisect_left(ends, start)
    if first == len(ends) or ends[first] > end:
        return []
    origin = bisect_left(ends, ends[first] - span)  # the first judged hour's baseline begins
    found = []
    for kind in KINDS:
        points = [hour.value(kind) for hour in hours[origin:]]
        usable = [value if value is not None and (kind == "volume" or attempts >= min_attempts)
                  else None for value, attempts in points]
        judged = first - origin
        window = sorted(value for value in usable[:judged] if value is not None)
        leave = 0
        for index in range(judged, len(points)):
            moment = ends[origin + index]
            if moment > end:
                break
            if index > judged and usable[index - 1] is not None:
                window.insert(bisect_left(window, usable[index - 1]), usable[index - 1])
            while ends[origin + leave] < moment - span:
                if usable[leave] is not None:
                    del window[bisect_left(window, usable[leave])]
                leave += 1
            value, attempts = points[index]
            verdict = judge(kind, value, attempts, window, config)
            if verdict is not None:
                found.append((hours[origin + index], verdict))
    return found


def train_source(hours: Sequence[Hour], day: datetime, config: Mapping[str, Any],
                 periods: Sequence[seasonal.Period] = (), kinds: Sequence[str] = KINDS,
                 prepared: dict[str, list[Any]] | None = None) -> dict[str, seasonal.Expectation]:
    """One source's seasonal model for `day`, per kind, from its time-ordered `hours`: the
    hours ending in the SEASONAL_WEEKS before the day, less those overlapping `periods` (its
    error incidents); a rate's hour with fewer than ANOMALY_MIN_ATTEMPTS attempts is not
    used (as in the flat baseline). `prepared` is `prepare(hours, config)`, when the caller
    trains many days from the same hours."""
    levels = seasonal.chain(config["ANOMALY_SEASONALITY"])
    after, until = seasonal.training_window(day, config["SEASONAL_WEEKS"])
    if prepared is None:
        prepared = prepare(hours, config)
    ends = prepared["ends"]
    first, last = bisect_right(ends, after), bisect_right(ends, until)
    dropped = seasonal.incident_hours(ends[first:last], periods, until)
    keep = [end not in dropped for end in ends[first:last]]
    slot_index = {level: prepared[level][first:last] for level in levels}
    model = {}
    for kind in kinds:
        points = [(end, value if kept else None) for end, value, kept in
                  zip(ends[first:last], prepared[kind][first:last], keep)]
        model[kind] = seasonal.train(points, kind, levels, slot_index)
    return model


def prepare(hours: Sequence[Hour], config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`hours` reduced once to what training reads (ends, each kind's usable value, each level's
    slot), so the models of consecutive days, which share all but one day of their hours, do
    not recompute them."""
    min_attempts = config["ANOMALY_MIN_ATTEMPTS"]
    levels = seasonal.chain(config["ANOMALY_SEASONALITY"])
    prepared: dict[str, list[Any]] = {"ends": [hour.end for hour in hours]}
    for kind in KINDS:
        column = []
        for hour in hours:
            value, attempts = hour.value(kind)
            usable = value is not None and (kind == "volume" or attempts >= min_attempts)
            column.append(value if usable else None)
        prepared[kind] = column
    for level in levels:
        prepared[level] = [seasonal.slot_of(level, end) for end in prepared["ends"]]
    return prepared


def scan_seasonal(hours: Sequence[Hour], start: datetime, end: datetime,
                  config: Mapping[str, Any], periods: Sequence[seasonal.Period] = (),
                  models: dict[datetime, dict[str, seasonal.Expectation]] | None = None,
                  ) -> list[tuple[Hour, Verdict]]:
    """`scan` against the seasonal model: every (hour, verdict) whose hour ends in [start, end].

    Each hour is judged against its day's model (seasonal.day_of), taken from `models` (day ->
    kind -> Expectation) or trained from `hours` (which then must reach back SEASONAL_WEEKS
    before the first judged day) and kept there. Same order as `scan`: by kind, then time."""
    models = {} if models is None else models
    ends = [hour.end for hour in hours]
    found = []
    prepared = None
    for hour in hours[bisect_left(ends, start):bisect_right(ends, end)]:
        day = seasonal.day_of(hour.end)
        model = models.get(day)
        if model is None:
            prepared = prepared or prepare(hours, config)
            model = models[day] = train_source(hours, day, config, periods, KINDS, prepared)
        for kind in KINDS:
            value, attempts = hour.value(kind)
            _, baseline = model[kind].baseline(hour.end)
            verdict = judge(kind, value, attempts, baseline, config, model[kind].history)
            if verdict is not None:
                found.append((hour, verdict))
    found.sort(key=lambda item: KINDS.index(item[1].kind))  # stable: time order within a kind
    return found
# endregion


# region query
def load_hourly(session: Session, start: datetime, end: datetime,
                sources: Iterable[str] | None = None) -> tuple[list[Any], list[datetime]]:
    """ONE read of the hourly rows ending in [start, end]: (per-source rows, collected hours).

    Reads through the (metric_type, timestamp) index; the all-sources rows only say which hours
    were collected.
    """
    query = (select(M.source, M.timestamp, *(getattr(M, name) for name in COUNTS))
             .where(*of_type("hourly", start, end))
             .order_by(M.timestamp, M.source))
    wanted = None if sources is None else set(sources)
    rows, collected = [], []
    for row in session.connection().execute(query).all():  # Core rows, fetched at once
        if row[0] is None:
            collected.append(row[1])
        elif wanted is None or row[0] in wanted:
            rows.append(row)
    return rows, collected


def error_periods(session: Session, start: datetime, end: datetime,
                  sources: Iterable[str] | None = None) -> dict[str, list[seasonal.Period]]:
    """Per source, its stored alert occurrences of error severity (any kind) that overlap
    [start, end], as (fired, resolved or None) periods: the incidents a seasonal model is not
    trained on (api/status/seasonal.py)."""
    periods: dict[str, list[seasonal.Period]] = {}
    for period in fired_overlapping(session, start, end, sources):
        if period["severity"] == "error" and period["source"] is not None:
            periods.setdefault(period["source"], []).append((period["start"], period["end"]))
    return periods


def train_models(session: Session, config: Mapping[str, Any], days: Sequence[datetime],
                 sources: Iterable[str] | None = None, kinds: Sequence[str] = KINDS,
                 ) -> dict[str, dict[datetime, dict[str, seasonal.Expectation]]]:
    """Per source, its seasonal model (of `kinds`) for each of `days`: ONE read of the hourly
    rows the models are trained on, and one of the error incidents to leave out."""
    after = min(days) - timedelta(weeks=config["SEASONAL_WEEKS"])
    rows, collected = load_hourly(session, after, max(days), sources)
    periods = error_periods(session, after, max(days), sources)
    models = {}
    for source, hours in build_series(rows, collected).items():
        prepared = prepare(hours, config)
        models[source] = {day: train_source(hours, day, config, periods.get(source, ()), kinds,
                                            prepared) for day in days}
    return models


def anomaly_item(source: str, hour: Hour, verdict: Verdict) -> dict[str, Any]:
    """The JSON shape of the status document's anomalies, plus the hour it covers (start, end)."""
    digits = 1 if verdict.kind == "volume" else 4
    return {"kind": verdict.kind, "source": source, "detected_at": isoformat(hour.end),
            "value": round(verdict.value, digits), "baseline": round(verdict.baseline, digits),
            "score": round(verdict.score, 2), "severity": verdict.severity,
            "start": isoformat(hour.end - HOUR), "end": isoformat(hour.end)}


def find_anomalies(session: Session, config: Mapping[str, Any], start: datetime, end: datetime,
                   sources: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every anomalous hour inside the range, newest first (then source, kind).

    An hourly row covers the hour ending at its timestamp, so the hours in `start <= t < end`
    are those ending in (start, end] (docs/architecture.md, "Time ranges").

    One SQL read of the hourly rows from `start` minus the baseline days to `end`; the rest is
    pure Python.
    """
    flat = config["ANOMALY_SEASONALITY"] == "none"
    if flat:
        span = timedelta(days=config["ANOMALY_BASELINE_DAYS"])
    else:  # the first judged hour's model is trained on the weeks before its day
        span = start - seasonal.day_of(start) + timedelta(weeks=config["SEASONAL_WEEKS"])
    rows, collected = load_hourly(session, start - span, end, sources)
    periods = {} if flat else error_periods(session, start - span, end, sources)
    items = []
    for source, hours in build_series(rows, collected).items():
        judged = scoped(config, source, "anomaly")
        found = (scan(hours, start, end, judged) if flat else
                 scan_seasonal(hours, start, end, judged, periods.get(source, ())))
        items.extend(anomaly_item(source, hour, verdict)
                     for hour, verdict in found if hour.end > start)
    items.sort(key=lambda item: (item["source"], item["kind"]))
    items.sort(key=lambda item: item["detected_at"], reverse=True)
    return items


CONFIG_KEYS = ("ANOMALY_BASELINE_DAYS", "ANOMALY_MIN_HISTORY_HOURS", "ANOMALY_MIN_ATTEMPTS",
               "ANOMALY_THRESHOLD", "ANOMALY_SEASONALITY", "SEASONAL_WEEKS")
MODEL_KEYS = ("ANOMALY_MIN_ATTEMPTS", "ANOMALY_SEASONALITY", "SEASONAL_WEEKS")
"""The settings a seasonal model is trained with (the threshold only judges against it)."""
MODEL_REFRESH_SECONDS = 3600
"""A cached seasonal model is retrained at least this often (new incidents to leave out)."""


class AnomalyCache:
    """The last current_anomalies answer of one runtime, keyed by what it was computed from.

    The answer depends only on the newest hourly timestamp at or before `now`, the hourly rows
    in the window that follows from it, the CONFIG_KEYS settings and the stored rules (their
    fingerprint: a rule change can change a threshold). The rows are stood for by
    a fingerprint (count, id sum/max, sums of the counts and of id-weighted counts, source
    lengths) read in one aggregate over the (metric_type, timestamp) range: a new, deleted or
    replaced row changes it (SQLite may reuse a deleted max id, hence the weighted sums).
    One entry: anomalies change about once an hour. Answers are copied out, never shared.

    It also keeps the seasonal models of the days the newest answer judged (`models`), keyed by
    those days, MODEL_KEYS and a fingerprint of their training rows: a new hour re-reads only
    the last day's rows, and the models are retrained when a day turns or a training row
    changes (a backfill), and at least every MODEL_REFRESH_SECONDS, which is how a newly
    stored incident leaves the training: never at every status computation. Models are
    read-only once built.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[Any, list[dict[str, Any]]] | None = None
        self._models: tuple[Any, Any, float] | None = None

    def models(self, key: Any) -> tuple[Any, float] | None:
        """(models, when built: time.monotonic) if built for `key` within the refresh time."""
        with self._lock:
            entry = self._models
        if entry is None or entry[0] != key or time.monotonic() - entry[2] > MODEL_REFRESH_SECONDS:
            return None
        return entry[1], entry[2]

    def put_models(self, key: Any, models: Any) -> tuple[Any, float]:
        built = time.monotonic()
        with self._lock:
            self._models = (key, models, built)
        return models, built

    def get(self, key: Any) -> list[dict[str, Any]] | None:
        with self._lock:
            entry = self._entry
        if entry is None or entry[0] != key:
            return None
        return [dict(item) for item in entry[1]]

    def put(self, key: Any, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._entry = (key, [dict(item) for item in items])


@cache
def _hourly_fingerprint_statement():
    counts = [getattr(M, name) for name in COUNTS]
    factors = (1, 3, 7, 13)  # one per count (zip is strict: a new count needs a factor)
    weighted = sum((column * (M.id + factor)
                    for column, factor in zip(counts, factors, strict=True)), start=M.id * 0)
    return (select(func.count(), func.max(M.id), func.sum(M.id), func.count(M.source),
                   func.sum(func.length(M.source) * M.id),
                   *(func.sum(column) for column in counts), func.sum(weighted))
            .where(*of_type("hourly", time_param("start"), time_param("end"))))


def hourly_fingerprint(session: Session, start: datetime, end: datetime) -> tuple:
    """One aggregate row that changes whenever an hourly row stamped in [start, end] does."""
    return tuple(session.connection().execute(_hourly_fingerprint_statement(),
                                              {"start": start, "end": end}).one())


@cache
def _newest_hour_statement():
    return (select(M.timestamp).where(*of_type("hourly", end=time_param("now")))
            .order_by(M.timestamp.desc()).limit(1))


def current_anomalies(session: Session, config: Mapping[str, Any], now: datetime,
                      cache: AnomalyCache | None = None) -> list[dict[str, Any]]:
    """The anomalies of the newest collected hour (per source and kind), each with `since`:
    the start of its unbroken run of anomalous hours, looking back at most SINCE_HOURS.

    With a `cache` (one per runtime), an unchanged set of hourly rows and settings is answered
    from it without re-reading the rows: the answer is the same either way."""
    newest = session.connection().execute(_newest_hour_statement(), {"now": now}).scalar()
    if newest is None:
        return []
    first = newest - timedelta(hours=SINCE_HOURS)
    if config["ANOMALY_SEASONALITY"] != "none":
        return _current_seasonal(session, config, newest, first, cache)
    span = timedelta(days=config["ANOMALY_BASELINE_DAYS"])
    key = None
    if cache is not None:
        book = rules_of(config)
        key = (newest, tuple(config[name] for name in CONFIG_KEYS),
               book.fingerprint() if book is not None else None,
               hourly_fingerprint(session, first - span, newest))
        cached = cache.get(key)
        if cached is not None:
            return cached
    rows, collected = load_hourly(session, first - span, newest)
    items = _current(config, newest, first, build_series(rows, collected),
                     lambda hours, start, end, judged, source: scan(hours, start, end, judged))
    if cache is not None:
        cache.put(key, items)
    return items


def _current_seasonal(session: Session, config: Mapping[str, Any], newest: datetime,
                      first: datetime, cache: AnomalyCache | None) -> list[dict[str, Any]]:
    """current_anomalies against the seasonal models of the judged days (at most two: the
    SINCE_HOURS before the newest hour), kept in `cache` between computations."""
    days = sorted({seasonal.day_of(first), seasonal.day_of(newest)})
    after = days[0] - timedelta(weeks=config["SEASONAL_WEEKS"])
    if cache is None:  # one read of the training weeks; a day's model only when judged
        rows, collected = load_hourly(session, after, newest)
        periods = error_periods(session, after, newest)
        trained: dict[str, dict] = {}
        return _current(config, newest, first, build_series(rows, collected),
                        lambda hours, start, end, judged, source: scan_seasonal(
                            hours, start, end, judged, periods.get(source, ()),
                            trained.setdefault(source, {})))
    book = rules_of(config)
    model_key = (tuple(days), tuple(config[name] for name in MODEL_KEYS),
                 hourly_fingerprint(session, after, days[-1]))
    found = cache.models(model_key)
    if found is None:
        found = cache.put_models(model_key, train_models(session, config, days))
    models, built = found
    key = (newest, tuple(config[name] for name in CONFIG_KEYS),
           book.fingerprint() if book is not None else None, model_key, built,
           hourly_fingerprint(session, first, newest))
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows, collected = load_hourly(session, first, newest)
    series = build_series(rows, collected, present=models)
    items = _current(config, newest, first, series,
                     lambda hours, start, end, judged, source: scan_seasonal(
                         hours, start, end, judged, models=dict(models.get(source, {}))))
    cache.put(key, items)
    return items


def _current(config: Mapping[str, Any], newest: datetime, first: datetime,
             series: Mapping[str, list[Hour]], judge_range) -> list[dict[str, Any]]:
    """The newest hour's anomalies of each source's `series`, with `since`; `judge_range(hours,
    start, end, config, source)` is scan or scan_seasonal."""
    items = []
    for source, hours in series.items():
        judged = scoped(config, source, "anomaly")
        if hours[-1].end != newest or not judge_range(hours, newest, newest, judged, source):
            continue  # judging the earlier hours only matters for an ongoing anomaly
        flagged = {(hour.end, verdict.kind): verdict
                   for hour, verdict in judge_range(hours, first, newest, judged, source)}
        for kind in KINDS:
            verdict = flagged.get((newest, kind))
            if verdict is None:
                continue
            since = newest
            while (since - HOUR, kind) in flagged:
                since -= HOUR
            item = anomaly_item(source, hours[-1], verdict)
            item["since"] = isoformat(since - HOUR)
            items.append(item)
    items.sort(key=lambda item: (item["source"], item["kind"]))
    return items
# endregion
