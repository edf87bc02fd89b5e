"""Exports people open in a spreadsheet: CSV that cannot run formulas.

A cell, or a line inside a cell, that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)`` in a
failed sign-in name, or in an uploaded file's name, would run when an admin opens the export).
Such text gets a leading apostrophe, as OWASP advises (one rule, shared with ``findme export``:
:func:`findme.cases.transfer.defuse_cell`); numbers stay numbers. Lines end in CR LF, so a cell
holding a CR or an LF is always quoted and never splits its row.
"""

from __future__ import annotations

import pandas as pd

from findme.cases.transfer import FORMULA_STARTS, defuse_cell

__all__ = ["FORMULA_STARTS", "defuse", "safe_csv"]


def defuse(value: object) -> object:
    """A text value made safe for a spreadsheet (:func:`defuse_cell`); any other value as it
    is."""
    return defuse_cell(value) if isinstance(value, str) else value


def safe_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index, CR LF line ends) with every formula-like text cell
    defused."""
    return frame.map(defuse).to_csv(index=False, lineterminator="\r\n")
