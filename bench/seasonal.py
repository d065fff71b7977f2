"""Benchmark: seasonal expectations against today's flat baseline on the seeded demo history.

Seeds the demo (api/demo/seed.py: its rhythm of a night lull, morning editions and a weekend
dip, and its three injected incidents) into a fresh SQLite file, then judges the last JUDGED
days with api.status.anomalies.find_anomalies under each ANOMALY_SEASONALITY:
`hour_of_week` (the default chain), `hour_of_day` and `none` (the flat trailing 7-day window,
the model before issue 14). For each it counts:
- detections: for each injected incident, whether any anomaly of its source overlaps it, and
  how many anomalous hours;
- alarms outside the incidents, split into those in an hour where the source's scrape run
  failed or was partial (the seed's own random failures: real, if small, events) and false
  alarms (nothing happened), of which how many fell in the night lull (00-06 WAT) and in the
  morning editions (07-09 WAT);
- the time of the find_anomalies call.
The baseline is the flat model, measured in the same run on the same rows.

    PYTHONPATH=. .venv/bin/python bench/seasonal.py            # 30 days seeded, 7 judged
    PYTHONPATH=. .venv/bin/python bench/seasonal.py --quick    # 22 days seeded, 4 judged
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from api.demo import profiles
from api.demo.seed import seed_demo
from api.settings import load_config
from api.status.anomalies import find_anomalies
from api.storage import migrate
from api.storage.db import Database
from api.storage.models import ScrapeRun
from api.timeutil import HOUR, UTC, floor_hour, parse_iso

NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
"""Fixed, so every run judges the same history (a Wednesday afternoon)."""
MODES = ("hour_of_week", "hour_of_day", "none")


def overlaps(item: dict, span: dict) -> bool:
    return (item["source"] == span["source"] and parse_iso(item["start"]) < span["end"]
            and parse_iso(item["end"]) > span["start"])


def local_hour(item: dict) -> int:
    return profiles.local_hour(parse_iso(item["start"]).hour)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="22 days seeded, 4 judged")
    parser.add_argument("--days", type=int, help="days of demo history (default 30)")
    parser.add_argument("--judged", type=int, help="days judged (default 7)")
    args = parser.parse_args()
    days = args.days or (22 if args.quick else 30)
    judged_days = args.judged or (4 if args.quick else 7)
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'demo.db'}"
        db = Database(url)
        migrate.upgrade(db.engine)
        config = load_config({"DATABASE_URL": url}, environ={})
        started = time.perf_counter()
        summary = seed_demo(db, config, days=days, seed=7, now=NOW, progress=False)
        print(f"seeded {days} days up to {summary['now']} in {time.perf_counter() - started:.1f} s:"
              f" {summary['conflicts']:,} conflicts")
        incidents = {name: {"source": span["source"], "start": parse_iso(span["start"]),
                            "end": parse_iso(span["end"])}
                     for name, span in summary["incidents"].items()}
        with db.session() as session:
            troubled = {(source, floor_hour(started_at.replace(tzinfo=UTC)) + HOUR)
                        for source, started_at in session.execute(
                            select(ScrapeRun.source, ScrapeRun.started_at)
                            .where(ScrapeRun.status != "success"))}
        start = NOW - timedelta(days=judged_days)
        print(f"judged: {start:%Y-%m-%d %H:%M} to {NOW:%Y-%m-%d %H:%M} UTC\n")
        names = list(incidents)
        print("| model | " + " | ".join(names) + " | on failed runs | false alarms "
              "| of which night lull | of which morning editions | time |")
        print("| --- " * (len(names) + 6) + "|")
        for mode in MODES:
            with db.session() as session:
                began = time.perf_counter()
                items = find_anomalies(session, {**config, "ANOMALY_SEASONALITY": mode},
                                       start, NOW)
                seconds = time.perf_counter() - began
            caught = {name: [item for item in items if overlaps(item, span)]
                      for name, span in incidents.items()}
            outside = [item for item in items
                       if not any(overlaps(item, span) for span in incidents.values())]
            on_failures = [item for item in outside
                           if (item["source"], parse_iso(item["end"])) in troubled]
            false = [item for item in outside if item not in on_failures]
            night = sum(local_hour(item) in profiles.NIGHT_HOURS_WAT for item in false)
            burst = sum(local_hour(item) in profiles.BURST_HOURS_WAT for item in false)
            cells = [(f"yes ({len(found)} h)" if found else "**no**") for found in caught.values()]
            print(f"| {mode} | " + " | ".join(cells) + f" | {len(on_failures)} | {len(false)} "
                  f"| {night} | {burst} | {seconds * 1000:.0f} ms |")
        db.engine.dispose()


if __name__ == "__main__":
    main()
