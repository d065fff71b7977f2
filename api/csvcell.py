"""One text cell of a CSV file: RFC 4180 quoting, and no formula a spreadsheet would run.

Every CSV pipewatch writes takes its free text through `csv_text`: the export
(api/http/formats.py), its PostgreSQL COPY twin (api/storage/export.py renders the same rule in
SQL from `FORMULA_PREFIXES`) and the page's Download CSV (dashboard/figures.py). A spreadsheet
runs a cell that begins with = + - @ (and some also after a leading tab or carriage return) as a
formula: `=HYPERLINK("http://x")` becomes a live link, `=cmd|' /C calc'!A0` a command. OWASP's
answer, used here: prefix such a cell with a single quote, which spreadsheets show as text, and
quote the cell. Readers that are not spreadsheets see the quote; they can strip one leading `'`
from a cell whose next character is one of FORMULA_PREFIXES.
"""
from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A cell beginning with one of these is escaped (OWASP's list for CSV injection)."""

_NEEDS_QUOTES = (",", '"', "\r", "\n")


def csv_text(value: str) -> str:
    """`value` as one RFC 4180 field that no spreadsheet evaluates.

    Quoted (inner quotes doubled) when it holds , " CR or LF, is empty, or begins or ends with
    whitespace (a reader may trim it otherwise); prefixed with ' and quoted when it begins like
    a formula. Everything else is written as is.
    """
    if value.startswith(FORMULA_PREFIXES):
        return "\"'" + value.replace('"', '""') + '"'
    if value == "" or value != value.strip() or any(ch in value for ch in _NEEDS_QUOTES):
        return '"' + value.replace('"', '""') + '"'
    return value
