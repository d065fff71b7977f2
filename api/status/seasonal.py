"""Seasonal expectations: what a source's hour normally looks like at THIS hour of the week.

A flat baseline (every hour of the last days pooled) cannot tell "quiet because it is 3 am on
a Sunday" from "quiet because the scraper broke": a source with a daily rhythm either
false-alarms in its night lull or hides a real drop in the day. Here each source and measure
(volume and the two rates) gets an expected value per slot, trained on the hours of the last
SEASONAL_WEEKS weeks, with a fallback chain for short histories:

    hour_of_week (168 slots)  ->  hour_of_day (24 slots)  ->  flat (every trained hour)

A slot is used when it holds at least MIN_SLOT_POINTS usable values; otherwise the next, coarser
level answers for that hour. A slot pools its own hour with the NEIGHBOUR_HOURS either side
(in every trained week or day): four weeks then give 12 values for an hour of the week, enough
for a median and a MAD, and a rhythm is not sliced so thin that one odd week moves it.
ANOMALY_SEASONALITY=hour_of_day starts the chain one level down; `none` keeps the flat,
trailing ANOMALY_BASELINE_DAYS model of api/status/anomalies.scan (today's model).

Known incident periods are left out of the training: an hour is dropped when it overlaps a
stored alert occurrence of ERROR severity for that source (any kind: quality, scraper_failing,
source_stale, anomaly), from when it fired to when it resolved (still open: to the end of the
training). Warnings stay in: they are the normal wobble the band must include. So last week's
outage day does not teach the model that silence is normal on Wednesdays.

A model is trained for one UTC day (`day`: the hours STARTING that day are judged by it) on
the hours ending in (day - weeks, day]: every hour of a day is judged by the same model,
whichever range is asked, so judging a few hours agrees with judging them all; and the model
changes at most once a day unless its training rows or the incident periods do.

Pure: hours and periods in, expectations out (api/status/anomalies.py reads the rows).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Optional, Sequence

from api.timeutil import DAY, HOUR

LEVELS = ("hour_of_week", "hour_of_day", "flat")
SEASONALITIES = ("hour_of_week", "hour_of_day", "none")
"""Values of ANOMALY_SEASONALITY: where the chain starts (`none`: the flat trailing model)."""
SLOTS = {"hour_of_week": 168, "hour_of_day": 24, "flat": 1}
NEIGHBOUR_HOURS = 1
"""A slot also holds the values of the hours this many slots either side of it."""
MIN_SLOT_POINTS = 9
"""Fewer usable values than this in a slot (3 weeks, or 3 days, of 3 pooled hours): the next,
coarser level judges that hour."""

Period = tuple[datetime, Optional[datetime]]
"""An incident from `start` up to `end` (None: still open)."""


def slot_of(level: str, end: datetime) -> int:
    """The slot of the hour ENDING at `end` (an hourly row's timestamp), by the hour's start in
    UTC: Monday 00:00-01:00 is hour_of_week slot 0."""
    start = end - HOUR
    if level == "hour_of_week":
        return start.weekday() * 24 + start.hour
    if level == "hour_of_day":
        return start.hour
    return 0


def day_of(end: datetime) -> datetime:
    """The UTC day whose model judges the hour ending at `end` (the day the hour starts in)."""
    return (end - HOUR).replace(hour=0, minute=0, second=0, microsecond=0)


def chain(seasonality: str) -> tuple[str, ...]:
    """The levels tried, finest first, for an ANOMALY_SEASONALITY value."""
    if seasonality not in SEASONALITIES or seasonality == "none":
        raise ValueError(f"no seasonal chain for {seasonality!r}")
    return LEVELS[LEVELS.index(seasonality):]


def incident_hours(ends: Iterable[datetime], periods: Sequence[Period],
                   until: datetime) -> set[datetime]:
    """The hour ends among `ends` whose hour overlaps one of `periods` (an open period lasts
    to `until`)."""
    spans = [(start, end or until) for start, end in periods]
    return {stamp for stamp in ends
            if any(start < stamp and stamp - HOUR < end for start, end in spans)}


@dataclass(frozen=True)
class Expectation:
    """One source's trained normal for one measure (`kind`): sorted values per level and slot."""

    kind: str
    levels: tuple[str, ...]
    slots: Mapping[str, Mapping[int, list[float]]] = field(repr=False)
    history: int = 0
    """Usable trained hours in all (ANOMALY_MIN_HISTORY_HOURS applies to this)."""

    def baseline(self, end: datetime) -> tuple[str, list[float]]:
        """(level, sorted values) judging the hour ending at `end`: the finest level whose slot
        is full enough, else flat (which may be short: the caller checks `history`)."""
        for level in self.levels:
            values = self.slots[level].get(slot_of(level, end), [])
            if level == "flat" or len(values) >= MIN_SLOT_POINTS:
                return level, values
        raise AssertionError("the chain always ends with flat")


def train(points: Sequence[tuple[datetime, Optional[float]]], kind: str,
          levels: tuple[str, ...],
          slot_index: Optional[Mapping[str, Sequence[int]]] = None) -> Expectation:
    """An Expectation from (hour end, usable value or None) pairs; None values are skipped.

    Each value goes into its own slot and the NEIGHBOUR_HOURS either side at every level.
    `slot_index` (level -> each point's slot_of, in order) saves recomputing the slots when
    the same hours train many models."""
    slots: dict[str, dict[int, list[float]]] = {level: {} for level in levels}
    usable = [(index, value) for index, (_, value) in enumerate(points) if value is not None]
    for level in levels:
        size = SLOTS[level]
        if size == 1:
            slots[level][0] = sorted(value for _, value in usable)
            continue
        own_slot = (slot_index[level] if slot_index is not None
                    else [slot_of(level, end) for end, _ in points])
        raw: list[list[float]] = [[] for _ in range(size)]
        for index, value in usable:
            raw[own_slot[index]].append(value)
        for own in range(size):
            pooled = [value for step in range(-NEIGHBOUR_HOURS, NEIGHBOUR_HOURS + 1)
                      for value in raw[(own + step) % size]]
            if pooled:
                slots[level][own] = sorted(pooled)
    return Expectation(kind, levels, slots, len(usable))


def training_window(day: datetime, weeks: int) -> tuple[datetime, datetime]:
    """(after, up to): the hour ends a model for `day` is trained on: after < end <= up to."""
    return day - timedelta(weeks=weeks), day

