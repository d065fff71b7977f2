"""The dashboard's two user-facing latencies: first render with data, and a chart update.

1. First render on the demo database (`seed_demo`, 30 days; 3 with --quick):
   - server side: the page (`GET /`), its layout with the first status (`/_dash-layout`), and the
     first trend and sparkline callbacks, over HTTP through the Flask test client;
   - in headless Chromium (when installed): from navigation to the geocoding card showing a
     percentage and the volume chart drawn, the app served by Werkzeug in a thread.
   Baseline in the same run: one `GET /api/v1/monitoring/pipeline-status` (the least work that
   gives the numbers).
2. Chart update after changing a control, on a SQLite file with 1 M metric rows (100 k with
   --quick; a year of the collector's realistic mix: per hour 9 `hourly` rows and 12 cycles of
   1 `aggregate` + 8 `source` rows): the trend callback over HTTP (`/_dash-update-component`),
   p50/p95 for several selections. Baseline: the naive way, loading the range's hourly rows with
   pandas, aggregating them there and building `plotly.graph_objects` figures.

    PYTHONPATH=. .venv/bin/python bench/dashboard.py [--quick] [--rows N] [--repeat N]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

# This file is bench/dashboard.py: Python puts bench/ first on sys.path, where this script would
# shadow the `dashboard` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from api.storage import migrate  # noqa: E402
from api.settings import load_config  # noqa: E402
from api.storage.db import Database  # noqa: E402
from api.timeutil import utcnow  # noqa: E402
from dashboard import ids  # noqa: E402

SOURCES = ["punch", "vanguard", "premium_times", "channels_tv", "guardian_ng", "daily_trust",
           "sahara_reporters", "thisday"]
QUIET = {"COLLECTOR_INTERVAL_SECONDS": 0, "SIMULATE": False, "LOG_LEVEL": "ERROR"}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


# region first render
def demo_database(directory: Path, days: int) -> str:
    from api.demo.seed import seed_demo

    url = f"sqlite:///{directory / 'demo.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    seed_demo(db, load_config({"DATABASE_URL": url}), days=days, seed=7, progress=False)
    db.dispose()
    return url


def trend_payload(range_value: str, sources: list[str], bucket: str) -> dict:
    values = [(ids.RANGE, "value", range_value), (ids.CUSTOM_START, "value", None),
              (ids.CUSTOM_END, "value", None), (ids.SOURCES_PICK, "value", sources),
              (ids.BUCKET, "value", bucket), (ids.DATA_VERSION, "data", None),
              (ids.REFRESH, "n_clicks", None)]
    outputs = [(ids.TREND_GEO, "figure"), (ids.TREND_VAL, "figure"), (ids.TREND_VOL, "figure"),
               (ids.TREND_DATA, "data"), (ids.TREND_NOTE, "children")]
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in values],
            "changedPropIds": [f"{ids.RANGE}.value"],
            "state": [{"id": ids.SHADING, "property": "data", "value": None}]}


def spark_payload() -> dict:
    outputs = [(ids.card(key, "spark"), "figure") for key in ids.CARD_KEYS]
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": ids.DATA_VERSION, "property": "data", "value": None},
                       {"id": ids.REFRESH, "property": "n_clicks", "value": None}],
            "changedPropIds": [], "state": []}


def server_first_render(client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout", headers={"Referer": "http://x/"}).status_code == 200
    assert client.post("/_dash-update-component",
                       json=trend_payload("7d", [], "auto")).status_code == 200
    assert client.post("/_dash-update-component", json=spark_payload()).status_code == 200


def browser_first_render(url: str, repeat: int) -> dict[str, list[float]] | str:
    if not shutil.which("chromedriver"):
        return "skipped: no chromedriver (apt-get install -y chromium chromium-driver)"
    from selenium import webdriver

    from tests.browser.conftest import pytest_setup_options

    driver = webdriver.Chrome(options=pytest_setup_options())
    # The page notes, on its own clock (ms since navigation started), when the numbers and the
    # charts first appear; the bench reads the notes at leisure, so its polling costs no CPU
    # the page needs (2 cores here).
    observer = """
      new MutationObserver(function () {
        var v = document.getElementById('%s');
        if (!window.__pwNumbers && v && /%%$/.test(v.textContent)) {
          window.__pwNumbers = performance.now(); }
        var g = document.querySelector('#%s .js-plotly-plot');
        if (!window.__pwCharts && g && g.data && g.data.length) {
          window.__pwCharts = performance.now(); }
      }).observe(document, {subtree: true, childList: true, characterData: true,
                            attributes: true});
    """ % (ids.card("geocoding", "value"), ids.TREND_VOL)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": observer})
    samples: dict[str, list[float]] = {"numbers": [], "charts": []}
    try:
        driver.get(url)  # warm the browser cache of the static files, like a returning user
        time.sleep(2)
        for _ in range(repeat):
            driver.get("about:blank")
            driver.get(url)
            seen = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                seen = driver.execute_script("return [window.__pwNumbers, window.__pwCharts]")
                if all(seen):
                    break
                time.sleep(0.25)
            samples["numbers"].append(seen[0] / 1000)
            samples["charts"].append(seen[1] / 1000)
            time.sleep(1)  # let the page's websocket and timers settle before the next load
    finally:
        driver.quit()
    return samples


def first_render(days: int, repeat: int) -> None:
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from app import create_app

    with tempfile.TemporaryDirectory() as folder:
        url = demo_database(Path(folder), days)
        app = create_app({**QUIET, "DATABASE_URL": url})
        client = app.server.test_client()
        server_first_render(client)  # warm-up: imports, first queries
        page = timed(lambda: server_first_render(client), repeat)
        status = timed(lambda: client.get("/api/v1/monitoring/pipeline-status"), repeat)
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            browser = browser_first_render(f"http://127.0.0.1:{server.server_port}/", repeat)
        finally:
            server.shutdown()
            app.server.extensions["pipewatch"].close()
    print(f"\nFirst render, demo database ({days} days), median of {repeat}:")
    print(f"  server: page + layout with status + first trend and sparkline callbacks "
          f"{median_ms(page):8.1f} ms")
    print(f"  baseline: GET /api/v1/monitoring/pipeline-status          {median_ms(status):8.1f} ms")
    if isinstance(browser, str):
        print(f"  browser: {browser}")
    else:
        for name, label in (("numbers", "cards show numbers"), ("charts", "trend charts drawn")):
            print(f"  headless Chromium, navigation -> {label:20} {median_ms(browser[name]):8.1f} ms"
                  f" (p95 {p95_ms(browser[name]):.1f})")
# endregion


# region chart update on many rows
def build_rows(path: Path, count: int) -> datetime:
    """`count` metric rows ending now, in the collector's realistic mix; returns the end time."""
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    rng = random.Random(7)
    end = utcnow().replace(minute=0, second=0, microsecond=0)
    per_hour = 9 + 12 * 9
    hours = max(1, count // per_hour)
    insert = ("INSERT INTO data_quality_metrics (timestamp, window_seconds, metric_type, source, "
              "geocoding_attempts, geocoding_successes, validation_attempts, validation_passes, "
              "status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)")
    connection = sqlite3.connect(path)
    written = 0
    batch = []
    for back in range(hours, 0, -1):
        hour_end = end - timedelta(hours=back - 1)
        text = hour_end.replace(tzinfo=None).isoformat(sep=" ")
        for source in [None] + SOURCES:
            attempts = rng.randint(8, 40) * (8 if source is None else 1)
            ok = int(attempts * rng.uniform(0.8, 1.0))
            batch.append((text, 3600, "hourly", source, attempts, ok, attempts,
                          int(attempts * rng.uniform(0.9, 1.0)), "healthy", text))
        for cycle in range(12):
            stamp = (hour_end - timedelta(minutes=5 * cycle)).replace(tzinfo=None).isoformat(sep=" ")
            for source in [None] + SOURCES:
                metric_type = "aggregate" if source is None else "source"
                attempts = rng.randint(150, 400) * (8 if source is None else 1)
                batch.append((stamp, 86400, metric_type, source, attempts,
                              int(attempts * 0.93), attempts, int(attempts * 0.97),
                              "healthy", stamp))
        if len(batch) >= 50_000:
            connection.executemany(insert, batch)
            written += len(batch)
            batch = []
    connection.executemany(insert, batch)
    written += len(batch)
    connection.commit()
    connection.close()
    print(f"  built {written:,} metric rows over {hours:,} hours")
    return end


def naive_update(url: str, start: datetime, end: datetime, sources: list[str] | None,
                 bucket: str) -> None:
    """The baseline: hourly rows into pandas, aggregated there, graph_objects figures."""
    import pandas as pd
    import plotly.graph_objects as go
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    where = "source IS NULL" if not sources else \
        "source IN (" + ",".join(f"'{s}'" for s in sources) + ")"
    frame = pd.read_sql(text(
        "SELECT timestamp, source, geocoding_attempts, geocoding_successes, validation_attempts,"
        " validation_passes FROM data_quality_metrics WHERE metric_type = 'hourly' AND "
        f"timestamp > :start AND timestamp <= :end AND {where}"), engine,
        params={"start": start.replace(tzinfo=None).isoformat(sep=" "),
                "end": end.replace(tzinfo=None).isoformat(sep=" ")})
    engine.dispose()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]) - pd.Timedelta(hours=1)
    frame["source"] = frame["source"].fillna("all sources")
    frame["bucket"] = frame["timestamp"].dt.floor("h" if bucket == "hour" else "D")
    grouped = frame.groupby(["source", "bucket"]).sum(numeric_only=True).reset_index()
    grouped["g"] = grouped["geocoding_successes"] / grouped["geocoding_attempts"]
    grouped["v"] = grouped["validation_passes"] / grouped["validation_attempts"]
    for column in ("g", "v", "geocoding_attempts"):
        figure = go.Figure()
        for name, part in grouped.groupby("source"):
            figure.add_trace(go.Scatter(x=part["bucket"], y=part[column], name=name))
        figure.to_json()  # what Dash would send


def chart_updates(count: int, repeat: int) -> None:
    from app import create_app

    selections = [("30d", [], "auto"), ("30d", ["punch", "vanguard"], "hour"),
                  ("7d", SOURCES, "hour"), ("30d", SOURCES, "day")]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.db"
        print(f"\nChart update after changing a control, {count:,} metric rows (SQLite):")
        end = build_rows(path, count)
        url = f"sqlite:///{path}"
        app = create_app({**QUIET, "DATABASE_URL": url})
        client = app.server.test_client()
        print(f"  {'selection':44} {'callback p50':>12} {'p95':>8}   {'naive p50':>9} {'ratio':>6}")
        for range_value, sources, bucket in selections:
            payload = trend_payload(range_value, sources, bucket)
            client.post("/_dash-update-component", json=payload)  # warm
            ours = timed(lambda: client.post("/_dash-update-component", json=payload), repeat)
            span = timedelta(days=30 if range_value == "30d" else 7)
            naive_bucket = "day" if bucket == "day" or (bucket == "auto" and span.days > 7) else "hour"
            naive_update(url, end - span, end, sources or None, naive_bucket)  # warm
            naive = timed(lambda: naive_update(url, end - span, end, sources or None, naive_bucket),
                          max(2, repeat // 3))
            label = f"{range_value}, {len(sources) or 'all'} source(s), {bucket}"
            print(f"  {label:44} {median_ms(ours):9.1f} ms {p95_ms(ours):5.1f} ms"
                  f"   {median_ms(naive):6.1f} ms {median_ms(naive) / median_ms(ours):5.1f}x")
        app.server.extensions["pipewatch"].close()
# endregion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3-day demo, 100 k rows, 3 repeats")
    parser.add_argument("--rows", type=int, help="metric rows for the chart update (1,000,000)")
    parser.add_argument("--repeat", type=int, help="repetitions per figure (default 9)")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 9)
    first_render(3 if args.quick else 30, repeat)
    chart_updates(args.rows or (100_000 if args.quick else 1_000_000), repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
