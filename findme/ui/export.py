"""Exports people open in a spreadsheet: CSV that cannot run formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)`` in a failed sign-in name, or in an
uploaded file's name, would run when an admin opens the export). Such text cells are prefixed with
an apostrophe, as OWASP advises; numbers stay numbers.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> object:
    """A text value made safe for a spreadsheet; any other value as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index) with every formula-like text cell defused."""
    return frame.map(defuse).to_csv(index=False)
