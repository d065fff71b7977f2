"""The trend selection survives a trip through the URL, and bad links fall back safely."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, strategies as st

from dashboard.urlstate import Selection, from_query, selection_from_controls, to_query, window

NOW = datetime(2026, 11, 25, 21, 30, 15, tzinfo=timezone.utc)


def test_defaults_when_the_query_is_empty_or_bad():
    assert from_query("") == Selection()
    assert from_query("?range=1y&bucket=minute") == Selection()


def test_query_round_trip_keeps_every_choice():
    chosen = Selection("custom", ("punch", "vanguard"), "day", date(2026, 11, 1), date(2026, 11, 8))
    assert to_query(chosen) == "?range=custom&start=2026-11-01&end=2026-11-08&sources=punch,vanguard&bucket=day"
    assert from_query(to_query(chosen)) == chosen


@given(st.sampled_from(["6h", "24h", "7d", "30d"]),
       st.lists(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), max_size=4, unique=True),
       st.sampled_from(["auto", "hour", "day"]))
def test_any_preset_selection_round_trips(range_value, sources, bucket):
    chosen = Selection(range_value, tuple(sources), bucket)
    assert from_query(to_query(chosen)) == chosen


def test_custom_range_without_valid_days_becomes_the_last_week():
    picked = from_query("?range=custom&start=nonsense")
    assert picked.range == "custom" and picked.end - picked.start == timedelta(days=6)


def test_window_picks_hour_buckets_up_to_seven_days_and_days_beyond():
    assert window(Selection("7d"), NOW) == (NOW - timedelta(days=7), NOW, "hour")
    start, end, bucket = window(Selection("30d"), NOW)
    assert (end - start, bucket) == (timedelta(days=30), "day")
    assert window(Selection("30d", bucket="hour"), NOW)[2] == "hour"


def test_custom_window_covers_whole_utc_days():
    start, end, bucket = window(Selection("custom", start=date(2026, 11, 1), end=date(2026, 11, 2)), NOW)
    assert start == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert end == datetime(2026, 11, 3, tzinfo=timezone.utc)
    assert bucket == "hour"


def test_controls_map_to_the_same_selection_as_the_url():
    from_controls = selection_from_controls("24h", None, None, ["vanguard"], "day")
    assert from_controls == from_query("?range=24h&sources=vanguard&bucket=day")
