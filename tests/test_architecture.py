"""The layout's rules, checked by import-linter (contracts in .importlinter at the repo root):
routes and the live path above the status rules above storage, the page never importing SQL,
the API never importing the page, and no import cycle between the modules of any package."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(REPO / ".importlinter"), "--no-cache"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
