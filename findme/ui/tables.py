"""Tables as people read them: an empty cell is empty, never "None", "NaN" or "NaT".

In: a pandas DataFrame. Out: the same rows; a column with an empty cell becomes text (times as
``2026-11-28 14:03:09``, whole numbers without ``.0``, empty cells as ""), the other columns keep
their types (so they still sort as numbers or times).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd


def _text(value: object) -> str:
    """One cell as text: "" for a missing value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def blank_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with empty cells shown as empty, never as "None" / "NaN" / "NaT"."""
    out = frame.copy()
    for column in out.columns:
        if out[column].isna().any():
            out[column] = [_text(v) for v in out[column]]
    return out
