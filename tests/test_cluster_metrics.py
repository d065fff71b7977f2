"""One scrape sees the whole server: `/metrics` of a two-worker gunicorn (README's several-worker
command, api/serving.py's hooks) sums every worker's counters and live gauges, forgets a dead
worker's gauges, and counts what pages report on their sockets and the delivery latency.

SQLite file: the cheapest database several processes share; the metrics path is the same on
PostgreSQL. The workers write their metrics to a directory this test gives
(PROMETHEUS_MULTIPROC_DIR), so it can also read each worker's own count of open sockets.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.live_fixtures import (ProductionServer, connect, recv_status, recv_until,
                                 shows_source, wait_for)

OPEN = "pipewatch_ws_open"
OPENED = "pipewatch_ws_opened_total"
SOCKET_SECONDS = 'pipewatch_page_seconds_total{mode="socket"}'
SOCKET_AGES = 'pipewatch_page_data_age_seconds_count{mode="socket"}'
DELIVERIES = "pipewatch_delivery_seconds_count"


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("multiproc")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, metrics_dir):
    database = tmp_path_factory.mktemp("cluster") / "pipewatch.db"
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")  # must be cleared
    server = ProductionServer(f"sqlite:///{database}", workers=2, WS_HEARTBEAT_SECONDS=60,
                              PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    yield server
    server.stop()


def open_sockets_by_worker(metrics_dir: Path, scratch: Path) -> dict[int, float]:
    """Each worker's own `pipewatch_ws_open`, read from its file alone."""
    counts = {}
    for path in metrics_dir.glob("gauge_livesum_*.db"):
        one = scratch / path.stem
        one.mkdir(exist_ok=True)
        shutil.copy(path, one / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(one))
        counts[int(path.stem.rsplit("_", 1)[1])] = registry.get_sample_value(OPEN) or 0.0
    return counts


def test_one_scrape_sums_the_workers_and_forgets_a_dead_ones_gauges(cluster, metrics_dir,
                                                                   tmp_path):
    assert not (metrics_dir / "counter_1.db").exists(), "an earlier run's file was cleared"
    workers = cluster.worker_pids()
    assert len(workers) == 2
    opened_before = cluster.metrics().get(OPENED, 0.0)
    sockets = []
    try:
        # The kernel spreads connections over the two workers; open until both hold some.
        while len(sockets) < 60:
            for _ in range(4):
                ws = connect(cluster.ws_url)
                recv_status(ws)  # subscribed: counted as open
                sockets.append(ws)
            per_worker = open_sockets_by_worker(metrics_dir, tmp_path)
            if sum(1 for pid in workers if per_worker.get(pid, 0) > 0) == 2:
                break
        assert all(per_worker.get(pid, 0) > 0 for pid in workers), per_worker
        assert sum(per_worker.values()) == len(sockets)

        scrape = cluster.metrics()  # answered by one worker, counting both
        assert scrape[OPEN] == len(sockets)
        assert scrape[OPENED] == opened_before + len(sockets)

        victim = workers[0]
        survivors = per_worker[workers[1]]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: cluster.metrics()[OPEN] == survivors, timeout=30)
        scrape = cluster.metrics()
        assert scrape[OPENED] == opened_before + len(sockets), "a dead worker's counts stay"
        assert victim not in open_sockets_by_worker(metrics_dir, tmp_path)
    finally:
        for ws in sockets:
            ws.close()
    wait_for(lambda: cluster.metrics()[OPEN] == 0)
    # These sockets never reported: scripts, not pages.
    assert cluster.metrics().get(SOCKET_SECONDS, 0.0) == 0


def test_page_reports_and_delivery_latency_reach_the_metrics(cluster):
    watchers = [connect(cluster.ws_url) for _ in range(3)]
    try:
        docs = [recv_status(ws) for ws in watchers]
        before = cluster.metrics()

        # A page's report: the timestamp of the status it shows (here: just received).
        watchers[0].send(json.dumps({"type": "report", "shown": docs[0]["timestamp"]}))
        wait_for(lambda: cluster.metrics().get(SOCKET_AGES, 0.0)
                 == before.get(SOCKET_AGES, 0.0) + 1)
        after_report = cluster.metrics()
        assert after_report[SOCKET_SECONDS] > before.get(SOCKET_SECONDS, 0.0)
        assert after_report['pipewatch_page_data_age_seconds_bucket{le="+Inf",mode="socket"}'] \
            == after_report[SOCKET_AGES]

        # A change reaches every socket; each frame written is one delivery observed.
        source = cluster.ingest_scrape_run()
        for ws in watchers:
            recv_until(ws, shows_source(source))
        wait_for(lambda: cluster.metrics()[DELIVERIES] >= before.get(DELIVERIES, 0) + 3)
        assert cluster.metrics()["pipewatch_delivery_seconds_sum"] > 0

        # The page goes: its last seconds count; sockets that never reported add none.
        watchers[0].close()
        wait_for(lambda: cluster.metrics()[SOCKET_SECONDS] > after_report[SOCKET_SECONDS])
    finally:
        for ws in watchers:
            ws.close()
