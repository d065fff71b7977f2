"""A throwaway Prometheus Alertmanager for tests, started from the machine's binary (Debian's
`prometheus-alertmanager`) on a free loopback port, with a temporary config and storage,
gossip off. `restart()` stops it and starts a fresh one on the same port with empty storage,
which knows nothing until told again. `alerts()` reads its `GET /api/v2/alerts`.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.live_fixtures import free_port

INSTALL_HINT = ("apt-get install -y prometheus-alertmanager   (or: make test-deps, which does it "
                "when root)")
CONFIG = "route: {receiver: none, group_wait: 1s}\nreceivers: [{name: none}]\n"


class AlertmanagerUnavailable(RuntimeError):
    """The binary is missing or the server would not start."""


def find_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    raise AlertmanagerUnavailable(f"Alertmanager binary not found. Fix: {INSTALL_HINT}")


class AlertmanagerServer:
    def __init__(self) -> None:
        self.binary = find_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._dir: Path | None = None

    def start(self) -> "AlertmanagerServer":
        self._dir = Path(tempfile.mkdtemp(prefix="pipewatch-am-"))
        (self._dir / "am.yml").write_text(CONFIG)
        (self._dir / "data").mkdir()
        self._log = open(self._dir / "am.log", "wb")
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self._dir / 'am.yml'}",
             f"--storage.path={self._dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AlertmanagerUnavailable(f"alertmanager exited: {self.log()[-1500:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AlertmanagerUnavailable("alertmanager did not become ready within 30 s")

    def log(self) -> str:
        return (self._dir / "am.log").read_text(errors="replace") if self._dir else ""

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds and has not seen end (`GET /api/v2/alerts`)."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._dir is not None:
            self._log.close()
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> None:
        """A new Alertmanager on the same port with empty storage (it knows no alert)."""
        self.stop()
        self.start()
