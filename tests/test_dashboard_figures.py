"""Figure builders are pure: rows in, a valid Plotly figure out (checked by plotly itself)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import plotly.graph_objects as go

from dashboard import figures

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc)


def row(hour: int, source: str | None, g=(90, 100), v=(95, 100)) -> dict:
    return {"bucket_start": T0 + timedelta(hours=hour), "bucket": "hour", "source": source,
            "geocoding_successes": g[0], "geocoding_attempts": g[1],
            "validation_passes": v[0], "validation_attempts": v[1]}


ROWS = [row(0, None), row(1, None, g=(40, 50)), row(3, None), row(0, "punch", g=(0, 0))]


def test_shown_rows_are_iso_utc_with_both_rates():
    shown = figures.shown_rows(ROWS)
    assert shown[0]["bucket_start"] == "2026-11-25T00:00:00Z"
    assert shown[1]["geocoding_success_rate"] == 0.8
    assert shown[0]["source"] == figures.ALL_SOURCES
    assert shown[3]["geocoding_success_rate"] is None and shown[3]["volume"] == 0


def test_csv_has_a_header_and_one_line_per_row_with_empty_missing_rates():
    text = figures.to_csv(figures.shown_rows(ROWS))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(figures.CSV_COLUMNS)
    assert len(parsed) == len(ROWS)
    assert parsed[3]["geocoding_success_rate"] == ""


def test_rate_figure_breaks_the_line_at_missing_buckets_and_shades_bands():
    shown = figures.shown_rows(ROWS)
    figure = figures.rate_figure(shown, "geocoding_success_rate", bucket="hour", healthy=0.9,
                                 warning=0.75, uirevision="k")
    go.Figure(figure)  # raises if Plotly would reject it
    everything = figure["data"][0]
    assert everything["name"] == figures.ALL_SOURCES
    assert everything["y"] == [0.9, 0.8, None, 0.9]        # the gap at 02:00 stays a gap
    assert figure["layout"]["uirevision"] == "k"
    bands = [(s["y0"], s["y1"]) for s in figure["layout"]["shapes"]]
    assert (0.75, 0.9) in bands and any(y1 == 0.75 for _, y1 in bands)
    assert [t["name"] for t in figure["data"]] == [figures.ALL_SOURCES, "punch"]


def test_empty_rows_draw_a_note_instead_of_an_empty_chart():
    figure = figures.volume_figure([], bucket="day")
    go.Figure(figure)
    assert figure["data"] == []
    assert "No hourly metrics" in figure["layout"]["annotations"][-1]["text"]


def test_periods_are_merged_and_drawn_as_vertical_bands():
    periods = figures.periods_from(
        [{"start": "2026-11-25T01:00:00Z", "end": "2026-11-25T03:00:00Z", "severity": "warning",
          "title": "Source stale (punch)"},
         {"start": "2026-11-25T02:00:00Z", "end": "2026-11-25T05:00:00Z", "severity": "error",
          "title": "Scraper failing (punch)"}],
        [{"kind": "volume", "source": "punch", "detected_at": "2026-11-25T09:00:00Z",
          "severity": "warning"}])
    merged = figures.merge_periods(periods)
    assert [(p["kind"], p["start"], p["end"], p["severity"]) for p in merged] == [
        ("alert", "2026-11-25T01:00:00Z", "2026-11-25T05:00:00Z", "error"),
        ("anomaly", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z", "warning")]
    figure = figures.volume_figure(figures.shown_rows(ROWS), bucket="hour", periods=merged)
    go.Figure(figure)
    assert sum(1 for s in figure["layout"]["shapes"] if s["xref"] == "x") == 2


def test_sparkline_is_axisless_and_fixed():
    figure = figures.sparkline(figures.shown_rows(ROWS[:3]), "validation_pass_rate")
    go.Figure(figure)
    assert figure["layout"]["xaxis"]["visible"] is False
    assert figure["data"][0]["y"] == [0.95, 0.95, 0.95]


def test_period_span_names_the_end_day_when_it_differs():
    from dashboard.components import period_span

    assert period_span("2026-11-21T00:24:00Z", "2026-11-21T06:00:00Z") == \
        "2026-11-21 00:24 – 06:00 UTC"
    assert period_span("2026-11-21T00:24:00Z", "2026-11-22T00:25:00Z") == \
        "2026-11-21 00:24 – 2026-11-22 00:25 UTC"


def test_expected_band_is_shaded_under_each_source_line_and_kept_out_of_the_csv():
    rows = [{**row(hour, "punch"), "expected": 0.9, "lower": 0.8, "upper": 1.0}
            for hour in (0, 1, 3)] + [{**row(0, "vanguard"), "expected": None, "lower": None,
                                       "upper": None}]
    shown = figures.shown_rows(rows)
    figure = figures.rate_figure(shown, "geocoding_success_rate", bucket="hour", healthy=0.9,
                                 warning=0.75, expected=figures.band_rows(rows))
    go.Figure(figure)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["punch expected (low)", "punch expected band", "punch", "vanguard"]
    low, band = figure["data"][:2]
    assert low["y"] == [0.8, 0.8, None, 0.8] and band["y"] == [1.0, 1.0, None, 1.0]
    assert band["fill"] == "tonexty"
    assert "expected" not in figures.to_csv(shown).splitlines()[0]
