"""A crash in a background thread fails the test that caused it.

pytest.ini turns PytestUnhandledThreadExceptionWarning into an error; the workers (hub,
collector, simulator) hand the exceptions they survive to threading.excepthook
(api.runtime.report_thread_error); tests/conftest.py does the same for a request that ends in
an unexpected error, whichever thread served it. Proved here by running pytest, with the
project's pytest.ini and conftest, on a generated test file and reading each test's outcome.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree

from api.settings import REPO_ROOT

GENERATED = textwrap.dedent('''
    import threading
    import time

    import requests
    from sqlalchemy.exc import OperationalError

    from api import collector
    from api.live.hub import Hub
    from api.telemetry import Telemetry
    from tests.conftest import ServerThread


    def run_in_thread(target):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()


    def test_a_thread_that_dies():
        def crash():
            raise RuntimeError("boom-thread")
        run_in_thread(crash)


    def test_a_thread_stopped_with_system_exit():
        def stop():
            raise SystemExit
        run_in_thread(stop)


    def broadcast_once(compute):
        """A hub computing the status once for one subscriber, then stopped and joined."""
        computed = threading.Event()
        workers = []

        def start_worker(name, target):
            workers.append(threading.Thread(target=target, name=name, daemon=True))
            workers[-1].start()

        def compute_once():
            try:
                return compute()
            finally:
                computed.set()

        hub = Hub(compute_once, telemetry=Telemetry(), heartbeat_seconds=5, coalesce_seconds=0,
                  start_worker=start_worker, stopping=threading.Event())
        hub.subscribe(threading.Event(), limit=1)
        try:
            assert computed.wait(5), "the hub never computed"
        finally:
            hub.stop()
            workers[0].join(5)


    def test_a_hub_whose_status_cannot_be_serialised():
        broadcast_once(lambda: {"seq": 1, "not_json": object()})


    def test_a_hub_whose_status_computation_has_a_bug():
        broadcast_once(lambda: {}["boom-status"])


    def test_a_hub_whose_database_is_down():
        def compute():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))
        broadcast_once(compute)


    def test_a_collector_cycle_with_a_bug(make_sqlite_app):
        runtime = make_sqlite_app().server.extensions["pipewatch"]
        broken = {**runtime.config}
        del broken["QUALITY_WINDOW_SECONDS"]
        run_in_thread(lambda: collector.run_safely(runtime, "collector", broken))


    def test_a_request_that_crashes_in_a_server_thread(make_sqlite_app):
        app = make_sqlite_app()

        def crash():
            raise RuntimeError("boom-request")

        app.server.add_url_rule("/api/v1/crash", "crash", crash)
        server = ServerThread(app.server).start()
        try:
            assert requests.get(server.url + "/api/v1/crash", timeout=10).status_code == 500
        finally:
            server.stop()
''')

EXPECTED = {
    "test_a_thread_that_dies": ("failed", "boom-thread"),
    "test_a_thread_stopped_with_system_exit": ("passed", ""),
    "test_a_hub_whose_status_cannot_be_serialised": ("failed", "not JSON serializable"),
    "test_a_hub_whose_status_computation_has_a_bug": ("failed", "boom-status"),
    "test_a_hub_whose_database_is_down": ("passed", ""),
    "test_a_collector_cycle_with_a_bug": ("failed", "QUALITY_WINDOW_SECONDS"),
    "test_a_request_that_crashes_in_a_server_thread": ("failed", "boom-request"),
}


def outcomes(report: str) -> dict[str, tuple[str, str]]:
    """Each test case of a JUnit XML report: (passed | failed, the failure's text)."""
    found = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        problems = [*case.iter("failure"), *case.iter("error")]
        text = "\n".join((p.get("message") or "") + "\n" + (p.text or "") for p in problems)
        found[case.get("name")] = ("failed" if problems else "passed", text)
    return found


def test_a_crash_in_a_background_thread_fails_its_test(tmp_path):
    generated = tmp_path / "test_generated.py"
    generated.write_text(GENERATED)
    report = tmp_path / "report.xml"
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pytest.ini"),
         "--rootdir", str(REPO_ROOT), "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", f"--junitxml={report}", str(generated)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    found = outcomes(str(report))
    assert set(found) == set(EXPECTED), process.stdout[-3000:] + process.stderr[-3000:]
    for name, (outcome, text) in EXPECTED.items():
        assert found[name][0] == outcome, f"{name}: {found[name][0]}\n{found[name][1][-2000:]}"
        assert text in found[name][1], f"{name} failed for another reason:\n{found[name][1]}"
    assert process.returncode == 1  # some tests failed, and nothing else went wrong
