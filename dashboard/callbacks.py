"""Server-side callbacks: the status poll, the trend charts, sparklines, URL and CSV download.

Each callback is a thin wrapper around a plain function (`*_body`) that takes the runtime and
plain values, so tests call the bodies directly. The live panels are drawn in the browser
(assets/pipewatch.js); only what needs the database runs here.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

import dash
from dash import Input, Output, Patch, State, ctx, no_update

from api import queries
from api.status.series import SeriesError
from api.timeutil import age_seconds, isoformat, utcnow
from dashboard import figures, ids
from dashboard.components import shading_legend
from dashboard.pageconfig import POLL_MS
from dashboard.urlstate import Selection, from_query, selection_from_controls, to_query, window

log = logging.getLogger(__name__)
SPARK_HOURS = 24
POLL_TRIGGERS = (ids.POLL, ids.POLL_KICK)


# region status poll
def poll_body(runtime, trigger: str | None, now: datetime | None = None,
              conn: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The status for a page in polling mode (or a manual refresh): {ok, doc | error, at, via}.

    Polls (timer or the state machine's kick) are counted in `pipewatch_polls_total`; the
    refresh button is not a poll. A database fault is an answer too (ok False): HTTP works, so
    the page says what failed instead of calling itself disconnected. `via` ("poll" or
    "refresh") is what the page says its numbers came by.

    The timer's poll is also the polling page's report (api/telemetry.py `page_report`): one
    poll interval of page-seconds in polling mode, and the age of the status it showed when it
    asked (`shown` in its connection store `conn`, the store's small state, not the document).
    """
    from api.status.document import current_status

    polling = trigger in POLL_TRIGGERS
    via = "poll" if polling else "refresh"
    now = now or utcnow()
    if polling:
        runtime.telemetry.polls.inc()
    if trigger == ids.POLL:
        shown = conn.get("shown") if isinstance(conn, Mapping) else None
        runtime.telemetry.page_report("polling", POLL_MS / 1000, age_seconds(shown, now))
    at = isoformat(now)
    try:
        doc = current_status(runtime, caller="poll" if polling else "refresh")
    except Exception as exc:  # noqa: BLE001 - shown on the page as a banner, never a traceback
        log.warning("status for a poll failed: %s", type(exc).__name__)
        return {"ok": False, "error": "The database did not answer; numbers shown are the "
                                      "last known ones.", "at": at, "via": via}
    return {"ok": True, "doc": doc, "at": at, "via": via}
# endregion


# region trends
def _periods(runtime, start: datetime, end: datetime, sources: Sequence[str] | None,
             bucket: str) -> list[dict[str, Any]]:
    """Alert periods and anomalies in the window, for shading (empty if those modules fail)."""
    alert_rows: list[Mapping[str, Any]] = []
    anomaly_rows: list[Mapping[str, Any]] = []
    wanted = None if not sources else list(sources)
    try:
        alert_rows = queries.alert_history(runtime, start, end, wanted)
    except Exception as exc:  # noqa: BLE001 - charts still draw without shading
        log.warning("alert periods unavailable: %s", type(exc).__name__)
    try:
        anomaly_rows = queries.anomaly_history(runtime, start, end, wanted)
    except Exception as exc:  # noqa: BLE001
        log.warning("anomalies unavailable: %s", type(exc).__name__)
    alert_rows = [row for row in alert_rows if _worth_shading(row, wanted)]
    periods = figures.periods_from(alert_rows, anomaly_rows)
    start_iso, end_iso = isoformat(start), isoformat(end)
    for period in periods:
        if period["end"] is None or period["end"] > end_iso:
            period["end"] = end_iso
        period["start"] = max(period["start"], start_iso)
    return figures.merge_periods(periods)


def _worth_shading(period: Mapping[str, Any], sources: Sequence[str] | None) -> bool:
    """Error periods only (warnings come and go by the hour and would shade everything).
    The all-sources chart takes its own quality periods and any source's scraping outage;
    one source's bad hour is not the pipeline's. An `anomaly:` alert's hours are shaded
    already, as anomalies (from the anomaly history): shading them twice would hide nothing
    new and double the band."""
    if period.get("severity") != "error":
        return False
    if str(period.get("key", "")).startswith("anomaly:"):
        return False
    if sources is None and str(period.get("key", "")).startswith("quality:"):
        return period.get("source") is None
    return True


def trends_body(runtime, selection: Selection, now: datetime | None = None,
                shading: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the trend section shows for `selection`: three figures, the rows, a note.
    (Alert and anomaly shading is added by `shading_body` once the lines are on screen; a
    data refresh of the same selection reuses the last `shading`, so it never blinks off.)"""
    start, end, bucket = window(selection, now)
    try:
        rows = queries.series(runtime, "geocoding_success_rate", start, end,
                              list(selection.sources), bucket)
    except SeriesError as exc:
        return {"error": str(exc)}
    shown = figures.shown_rows(rows)
    config = runtime.config
    key = selection.key()
    x_range = [isoformat(start), isoformat(end)]
    rate_args = {"bucket": bucket, "healthy": config["HEALTHY_RATE"],
                 "warning": config["WARNING_RATE"], "uirevision": key,
                 "x_range": x_range}
    drawn = {
        "geocoding": figures.rate_figure(shown, "geocoding_success_rate", **rate_args),
        "validation": figures.rate_figure(shown, "validation_pass_rate", **rate_args),
        "volume": figures.volume_figure(shown, bucket=bucket, uirevision=key, x_range=x_range),
    }
    query = to_query(selection)
    bands = {name: list(figure["layout"]["shapes"]) for name, figure in drawn.items()}
    if shading and shading.get("query") == query and shown:
        for figure in drawn.values():
            figure["layout"]["shapes"] += shading["shapes"]
            figure["layout"]["annotations"] += shading["annotations"]
    return {
        **drawn,
        "data": {"rows": shown, "query": query, "start": x_range[0], "end": x_range[1],
                 "bucket": bucket, "sources": list(selection.sources), "bands": bands},
        "note": f"{len(shown)} points · {bucket} buckets · {x_range[0]} – {x_range[1]}",
    }


def shading_body(runtime, data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Alert and anomaly periods for the charts just drawn from `data`: {shapes, annotations}.

    A separate step, because finding anomalies over a month is the slow part (baselines of
    every hour, in Python): the charts show their new lines first, the shading follows.
    """
    from api.timeutil import parse_iso

    if not data or not data.get("start"):
        return None
    start, end = parse_iso(data["start"]), parse_iso(data["end"])
    periods = _periods(runtime, start, end, data.get("sources") or None, data.get("bucket", "hour"))
    shapes, notes = figures.period_shapes(periods)
    return {"query": data.get("query"), "shapes": shapes, "annotations": notes,
            "periods": periods}


def _range_includes_now(selection: Selection, now: datetime) -> bool:
    _, end, _ = window(selection, now)
    return end >= now - timedelta(hours=1)


def sparklines_body(runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    """The three 24 h sparklines (all sources, hourly): volume, geocoding, validation."""
    end = now or utcnow()
    rows = queries.series(runtime, "volume", end - timedelta(hours=SPARK_HOURS), end,
                          bucket="hour")
    shown = figures.shown_rows(rows)
    return [figures.sparkline(shown, "volume", "#6f42c1", percent=False),
            figures.sparkline(shown, "geocoding_success_rate", "#0d6efd"),
            figures.sparkline(shown, "validation_pass_rate", "#198754")]
# endregion


# region url and download
def sync_url_body(trigger: str | None, search: str | None, controls: Sequence[Any]) -> tuple:
    """Keep the controls and the URL query string in step, in one callback (no cycle).

    The URL changed (load, back/forward): set the controls from it, unless they already
    match. A control changed: write the canonical query string. Returns (controls..., search).
    """
    current = selection_from_controls(*controls)
    if trigger == ids.URL or trigger is None:
        wanted = from_query(search or "")
        if wanted == current:
            return (no_update,) * 6
        return (wanted.range, wanted.start.isoformat() if wanted.start else None,
                wanted.end.isoformat() if wanted.end else None, list(wanted.sources),
                wanted.bucket, no_update)
    query = to_query(current)
    return (no_update,) * 5 + ((query if query != (search or "") else no_update),)


def download_body(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A CSV of exactly the rows the charts show (the same store they were drawn from)."""
    rows = (data or {}).get("rows") or []
    start = (data or {}).get("start", "").replace(":", "")
    end = (data or {}).get("end", "").replace(":", "")
    name = f"pipewatch-trends_{start}_{end}.csv" if start else "pipewatch-trends.csv"
    return {"content": figures.to_csv(rows), "filename": name, "type": "text/csv",
            "base64": False}
# endregion


def register(app: dash.Dash) -> None:
    """Attach the server-side callbacks to `app`."""
    from api.runtime import get_runtime

    @app.callback(Output(ids.POLL_RESULT, "data"),
                  Input(ids.POLL, "n_intervals"), Input(ids.POLL_KICK, "data"),
                  Input(ids.REFRESH, "n_clicks"), State(ids.CONN, "data"),
                  prevent_initial_call=True)
    def _poll(_n, _kick, _clicks, conn):
        return poll_body(get_runtime(), ctx.triggered_id, conn=conn)

    controls = [Input(ids.RANGE, "value"), Input(ids.CUSTOM_START, "value"),
                Input(ids.CUSTOM_END, "value"), Input(ids.SOURCES_PICK, "value"),
                Input(ids.BUCKET, "value")]

    @app.callback([Output(ids.RANGE, "value"), Output(ids.CUSTOM_START, "value"),
                   Output(ids.CUSTOM_END, "value"), Output(ids.SOURCES_PICK, "value"),
                   Output(ids.BUCKET, "value"), Output(ids.URL, "search")],
                  [Input(ids.URL, "search")] + controls)
    def _sync_url(search, *values):
        return sync_url_body(ctx.triggered_id, search, values)

    @app.callback([Output(ids.TREND_GEO, "figure"), Output(ids.TREND_VAL, "figure"),
                   Output(ids.TREND_VOL, "figure"), Output(ids.TREND_DATA, "data"),
                   Output(ids.TREND_NOTE, "children")],
                  controls + [Input(ids.DATA_VERSION, "data"), Input(ids.REFRESH, "n_clicks")],
                  State(ids.SHADING, "data"))
    def _trends(range_value, start, end, sources, bucket, _version, _clicks, shading):
        selection = selection_from_controls(range_value, start, end, sources, bucket)
        now = utcnow()
        if ctx.triggered_id == ids.DATA_VERSION and not _range_includes_now(selection, now):
            return (no_update,) * 5
        try:
            result = trends_body(get_runtime(), selection, now, shading)
        except Exception as exc:  # noqa: BLE001 - keep the last charts, say why
            log.warning("trend query failed: %s", type(exc).__name__)
            return (no_update,) * 4 + ("Trends unavailable: the database did not answer.",)
        if "error" in result:
            return (no_update,) * 4 + (f"Cannot draw this range: {result['error']}",)
        return (result["geocoding"], result["validation"], result["volume"], result["data"],
                result["note"])

    @app.callback([Output(ids.TREND_GEO, "figure", allow_duplicate=True),
                   Output(ids.TREND_VAL, "figure", allow_duplicate=True),
                   Output(ids.TREND_VOL, "figure", allow_duplicate=True),
                   Output(ids.SHADING, "data"), Output(ids.TREND_SHADED, "children")],
                  Input(ids.TREND_DATA, "data"), prevent_initial_call=True)
    def _shade(data):
        try:
            shading = shading_body(get_runtime(), data)
        except Exception as exc:  # noqa: BLE001 - the charts stay, unshaded
            log.warning("shading failed: %s", type(exc).__name__)
            return [no_update] * 5
        if not shading or not data.get("rows"):
            return [no_update] * 4 + [[]]
        patches = []
        for name in ("geocoding", "validation", "volume"):
            patch = Patch()  # replaces the shapes: the figure's own bands, then the periods
            patch["layout"]["shapes"] = data["bands"][name] + shading["shapes"]
            patch["layout"]["annotations"] = shading["annotations"]
            patches.append(patch)
        return patches + [shading, shading_legend(shading["periods"])]

    # REFRESH is an input of its own (no callback writes it), so Dash makes the initial call
    # even when DATA_VERSION's clientside callback answers no_update on load.
    @app.callback([Output(ids.card(key, "spark"), "figure") for key in ids.CARD_KEYS],
                  Input(ids.DATA_VERSION, "data"), Input(ids.REFRESH, "n_clicks"))
    def _sparklines(_version, _clicks):
        try:
            return sparklines_body(get_runtime())
        except Exception as exc:  # noqa: BLE001
            log.warning("sparklines failed: %s", type(exc).__name__)
            return [no_update] * 3

    @app.callback(Output(ids.DOWNLOAD, "data"), Input(ids.DOWNLOAD_BUTTON, "n_clicks"),
                  State(ids.TREND_DATA, "data"), prevent_initial_call=True)
    def _download(_clicks, data):
        return download_body(data)
