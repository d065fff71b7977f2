"""Pure figure builders: series rows in, a Plotly figure (a plain dict) out.

Rows are what `api.status.series.fetch_series` returns (one row per bucket and source, with all the
counts), so one query feeds all three trend charts, the sparklines and the CSV download.
Figures are plain dicts, not `plotly.graph_objects.Figure`: Dash sends them as they are, and
skipping graph_objects' validation keeps a chart update cheap on large ranges.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from api.csvcell import csv_text
from api.status.thresholds import STATUS_RANK, rate
from api.timeutil import isoformat

ALL_SOURCES = "all sources"
STATUS_COLOURS = {"healthy": "#198754", "warning": "#e0a800", "error": "#dc3545",
                  "pending": "#6c757d"}
PALETTE = ("#0d6efd", "#6f42c1", "#d63384", "#fd7e14", "#20c997", "#0dcaf0", "#6610f2",
           "#198754", "#adb5bd", "#795548")
METRIC_TITLES = {
    "geocoding_success_rate": "Geocoding success rate",
    "validation_pass_rate": "Validation pass rate",
    "volume": "Volume (events reaching geocoding)",
}
BUCKET_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
CSV_COLUMNS = ("bucket_start", "bucket", "source", "geocoding_attempts", "geocoding_successes",
               "geocoding_success_rate", "validation_attempts", "validation_passes",
               "validation_pass_rate", "volume")
MAX_LABELLED_PERIODS = 1
"""More periods than this are shaded without labels on the chart (they would overlap); the
page lists them under the charts instead."""


def shown_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the charts show them and the CSV carries them: ISO 8601 UTC, both rates."""
    shown = []
    for row in rows:
        start = row["bucket_start"]
        shown.append({
            "bucket_start": isoformat(start) if isinstance(start, datetime) else start,
            "bucket": row["bucket"],
            "source": row["source"] or ALL_SOURCES,
            "geocoding_attempts": int(row["geocoding_attempts"]),
            "geocoding_successes": int(row["geocoding_successes"]),
            "geocoding_success_rate": rate(row["geocoding_successes"], row["geocoding_attempts"]),
            "validation_attempts": int(row["validation_attempts"]),
            "validation_passes": int(row["validation_passes"]),
            "validation_pass_rate": rate(row["validation_passes"], row["validation_attempts"]),
            "volume": int(row["geocoding_attempts"]),
        })
    return shown


def to_csv(shown: Sequence[Mapping[str, Any]]) -> str:
    """CSV of `shown_rows` output: a header, one line per bucket and source, rates unrounded.

    Text cells go through the export's own `csv_text` (api/csvcell.py), so a source named like
    a formula reaches a spreadsheet as text here too; numbers are written as Python prints them.
    """
    lines = [",".join(CSV_COLUMNS)]
    for row in shown:
        lines.append(",".join(_cell(row.get(col)) for col in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return csv_text(value) if isinstance(value, str) else str(value)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _traces_by_source(shown: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    traces: dict[str, list[Mapping[str, Any]]] = {}
    for row in shown:
        traces.setdefault(row["source"], []).append(row)
    return traces


def _with_gaps(points: Sequence[Mapping[str, Any]], field: str, step: timedelta):
    """x and y lists where a missing bucket becomes a gap (None), never a line across it."""
    xs: list[str | None] = []
    ys: list[Any] = []
    previous: datetime | None = None
    for row in points:
        moment = _parse(row["bucket_start"])
        if previous is not None and moment - previous > step:
            xs.append(isoformat(previous + step))
            ys.append(None)
        xs.append(row["bucket_start"])
        ys.append(row[field])
        previous = moment
    return xs, ys


def _colour(index: int, name: str) -> str:
    return "#212529" if name == ALL_SOURCES else PALETTE[index % len(PALETTE)]


def _base_layout(title: str, uirevision: str, x_range: Sequence[str] | None) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"type": "date", "title": {"text": "UTC"}, "showgrid": False}
    if x_range:
        xaxis["range"] = list(x_range)
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "uirevision": uirevision,
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
        "height": 300,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "xaxis": xaxis,
        "shapes": [],
        "annotations": [],
    }


def threshold_bands(healthy: float, warning: float, y_floor: float) -> list[dict[str, Any]]:
    """Shaded warning band (between the two thresholds) and error band (below warning)."""
    band = {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
            "layer": "below", "line": {"width": 0}}
    return [
        {**band, "y0": warning, "y1": healthy, "fillcolor": STATUS_COLOURS["warning"],
         "opacity": 0.10},
        {**band, "y0": min(y_floor, warning), "y1": warning, "fillcolor": STATUS_COLOURS["error"],
         "opacity": 0.08},
    ]


def period_shapes(periods: Sequence[Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Shaded vertical bands (and short labels) for alert and anomaly periods."""
    shapes, notes = [], []
    for index, period in enumerate(periods):
        colour = STATUS_COLOURS.get(period.get("severity", "warning"), STATUS_COLOURS["warning"])
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": period["start"],
                       "x1": period["end"], "y0": 0, "y1": 1, "fillcolor": colour,
                       "opacity": 0.18 if period.get("kind") == "alert" else 0.12,
                       "layer": "below", "line": {"width": 0}})
        if len(periods) <= MAX_LABELLED_PERIODS:
            notes.append({"x": period["start"], "xref": "x", "xanchor": "left", "y": 1,
                          "yref": "paper", "yanchor": "top", "showarrow": False,
                          "text": period.get("label", period.get("kind", "")),
                          "font": {"size": 10, "color": colour}})
    return shapes, notes


def rate_figure(shown: Sequence[Mapping[str, Any]], metric: str, *, bucket: str,
                healthy: float, warning: float, periods: Sequence[Mapping[str, Any]] = (),
                uirevision: str = "", x_range: Sequence[str] | None = None,
                expected: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A line per source of `metric` (a rate), with threshold bands and shaded periods, and
    under each line its `expected` band when given (`band_rows` of rows read for `metric`)."""
    step = BUCKET_STEP[bucket]
    attempts_field = ("geocoding_attempts" if metric == "geocoding_success_rate"
                      else "validation_attempts")
    data, lowest = [], 1.0
    for index, (name, points) in enumerate(_traces_by_source(shown).items()):
        xs, ys = _with_gaps(points, metric, step)
        _, attempts = _with_gaps(points, attempts_field, step)
        lowest = min([lowest] + [y for y in ys if y is not None])
        data += expected_band([row for row in expected if row["source"] == name], step, name,
                              _colour(index, name))
        data.append({"type": "scatter", "mode": "lines+markers" if len(points) < 60 else "lines",
                     "name": name, "x": xs, "y": ys, "customdata": attempts,
                     "line": {"color": _colour(index, name), "width": 2},
                     "marker": {"size": 5},
                     "hovertemplate": f"{name}: %{{y:.1%}} of %{{customdata}}<extra></extra>",
                     "connectgaps": False})
    y_floor = max(0.0, min(lowest, warning) - 0.1)
    layout = _base_layout(METRIC_TITLES[metric], uirevision, x_range)
    layout["yaxis"] = {"tickformat": ".0%", "range": [y_floor, 1.01], "title": {"text": ""},
                       "gridcolor": "#e9ecef"}
    shapes, notes = period_shapes(periods)
    layout["shapes"] = threshold_bands(healthy, warning, y_floor) + shapes
    layout["annotations"] = notes
    if not data:
        layout["annotations"].append(_no_data_note())
    return {"data": data, "layout": layout}


def band_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The expected band of series rows (api/status/bands.py), where they carry one: bucket
    start (ISO), source, expected, lower, upper. Kept apart from `shown_rows`, so the CSV of
    the rows drawn stays as it was."""
    return [{"bucket_start": isoformat(row["bucket_start"])
             if isinstance(row["bucket_start"], datetime) else row["bucket_start"],
             "source": row["source"] or ALL_SOURCES,
             **{name: row[name] for name in ("expected", "lower", "upper")}}
            for row in rows if row.get("lower") is not None]


def expected_band(points: Sequence[Mapping[str, Any]], step: timedelta, name: str,
                  colour: str) -> list[dict[str, Any]]:
    """Two traces shading one source's expected band (`band_rows`), drawn under its line;
    none without a band."""
    if not points:
        return []
    xs, lower = _with_gaps(points, "lower", step)
    _, upper = _with_gaps(points, "upper", step)
    _, expected = _with_gaps(points, "expected", step)
    common = {"type": "scatter", "mode": "lines", "x": xs, "legendgroup": f"band:{name}",
              "showlegend": False, "connectgaps": False, "line": {"width": 0, "color": colour}}
    return [{**common, "name": f"{name} expected (low)", "y": lower, "hoverinfo": "skip"},
            {**common, "name": f"{name} expected band", "y": upper, "fill": "tonexty",
             "fillcolor": colour + "26", "customdata": expected,
             "hovertemplate": f"{name} expected: %{{customdata:.1%}}<extra></extra>"}]


def volume_figure(shown: Sequence[Mapping[str, Any]], *, bucket: str,
                  periods: Sequence[Mapping[str, Any]] = (), uirevision: str = "",
                  x_range: Sequence[str] | None = None) -> dict[str, Any]:
    """Bars of events per bucket, stacked by source."""
    data = []
    for index, (name, points) in enumerate(_traces_by_source(shown).items()):
        data.append({"type": "bar", "name": name, "x": [p["bucket_start"] for p in points],
                     "y": [p["volume"] for p in points],
                     "marker": {"color": _colour(index, name)},
                     "hovertemplate": f"{name}: %{{y}}<extra></extra>"})
    layout = _base_layout(METRIC_TITLES["volume"], uirevision, x_range)
    layout["barmode"] = "stack"
    layout["yaxis"] = {"title": {"text": f"events per {bucket}"}, "gridcolor": "#e9ecef",
                       "rangemode": "tozero"}
    shapes, notes = period_shapes(periods)
    layout["shapes"], layout["annotations"] = shapes, notes
    if not data:
        layout["annotations"].append(_no_data_note())
    return {"data": data, "layout": layout}


def _no_data_note() -> dict[str, Any]:
    return {"text": "No hourly metrics in this range", "xref": "paper", "yref": "paper",
            "x": 0.5, "y": 0.5, "showarrow": False, "font": {"size": 14, "color": "#6c757d"}}


def sparkline(shown: Sequence[Mapping[str, Any]], field: str, colour: str = "#0d6efd",
              percent: bool = True) -> dict[str, Any]:
    """A tiny axis-less line of `field` over the rows (the last 24 h on a status card)."""
    xs = [row["bucket_start"] for row in shown]
    ys = [row[field] for row in shown]
    trace = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "fill": "tozeroy",
             "line": {"color": colour, "width": 1.5}, "fillcolor": colour + "22",
             "hovertemplate": ("%{x|%H:%M}Z  %{y:.1%}" if percent else "%{x|%H:%M}Z  %{y}")
             + "<extra></extra>", "connectgaps": False}
    known = [y for y in ys if y is not None]
    y_range = ([max(0.0, min(known) - 0.05), 1.0] if percent and known else None)
    return {"data": [trace], "layout": {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "height": 48, "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "fixedrange": True, **({"range": y_range} if y_range else {})},
        "hovermode": "x"}}


def periods_from(alert_periods: Iterable[Mapping[str, Any]],
                 anomalies: Iterable[Mapping[str, Any]],
                 bucket_hint: timedelta = timedelta(hours=1)) -> list[dict[str, Any]]:
    """Alert periods and anomalies in the one shape `period_shapes` draws (ISO strings).

    An anomaly is about one closed hour: it is shaded over the hour that ends when it was
    detected, unless it names its own start and end.
    """
    periods = []
    for alert in alert_periods:
        start, end = alert.get("start") or alert.get("since"), alert.get("end")
        if start is None:
            continue
        periods.append({"kind": "alert", "start": _iso(start),
                        "end": _iso(end) if end is not None else None,
                        "severity": alert.get("severity", "warning"),
                        "label": alert.get("title") or alert.get("key") or "alert"})
    for anomaly in anomalies:
        end = anomaly.get("end") or anomaly.get("detected_at") or anomaly.get("timestamp")
        if end is None:
            continue
        end_dt = _as_dt(end)
        start = anomaly.get("start") or end_dt - bucket_hint
        label = f"anomaly: {anomaly.get('kind', '')}".strip()
        if anomaly.get("source"):
            label += f" ({anomaly['source']})"
        periods.append({"kind": "anomaly", "start": _iso(start), "end": _iso(end_dt),
                        "severity": anomaly.get("severity", "warning"), "label": label})
    return periods


def merge_periods(periods: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Overlapping or touching periods of one kind become one band (worst severity, labels
    joined): a chart shaded by 170 slivers says less than one band per incident."""
    merged: list[dict[str, Any]] = []
    for kind in ("alert", "anomaly"):
        current: dict[str, Any] | None = None
        for period in sorted((p for p in periods if p.get("kind") == kind),
                             key=lambda p: p["start"]):
            if current is not None and period["start"] <= current["end"]:
                current["end"] = max(current["end"], period["end"])
                if STATUS_RANK[period["severity"]] > STATUS_RANK[current["severity"]]:
                    current["severity"] = period["severity"]
                if period.get("label") not in current["labels"]:
                    current["labels"].append(period.get("label"))
                continue
            current = {**period, "labels": [period.get("label")]}
            merged.append(current)
    for period in merged:
        labels = [label for label in period.pop("labels") if label]
        period["label"] = ", ".join(labels[:2]) + (f" +{len(labels) - 2}" if len(labels) > 2 else "")
    return sorted(merged, key=lambda p: p["start"])


def _as_dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else _parse(str(value))


def _iso(value: Any) -> str:
    return isoformat(_as_dt(value))
