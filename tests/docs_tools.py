"""Keeping README's generated settings table in step with api/settings.py."""
from __future__ import annotations

import contextlib
import io
import re
from argparse import Namespace

from api.cli import cmd_settings
from api.settings import REPO_ROOT

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def settings_markdown() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cmd_settings(Namespace(markdown=True))
    return out.getvalue()


def readme_settings_block() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    return match.group(1) if match else ""


def write_readme_settings() -> None:
    """`python -m tests.docs_tools` rewrites the table from the settings."""
    path = REPO_ROOT / "README.md"
    text = path.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{settings_markdown()}{END}{tail}")


if __name__ == "__main__":
    write_readme_settings()
