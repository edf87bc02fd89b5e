"""Pictures for the pages: numbered face boxes, face crops, decision badges.

Pure functions over RGB arrays (no Streamlit import), so they are tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from findme.config import Settings
from findme.faces.draw import draw_boxes
from findme.search.decision import Decision


def draw_faces(image: np.ndarray, boxes: Sequence[Sequence[int]],
               decisions: Sequence[str | None] | None = None,
               labels: Sequence[str] | None = None) -> np.ndarray:
    """A copy of ``image`` with each box drawn and numbered 1..n (coloured by decision when
    given; green otherwise)."""
    colours = [Decision(d).colour if d else None for d in decisions] if decisions else None
    return draw_boxes(image, boxes, colours, labels)


def stored(settings: Settings, rel: str | None) -> Path | None:
    """Absolute path of a file the workspace stored (registered photo, lead crop), or None
    when it is gone or the path tries to leave the data folder."""
    if not rel:
        return None
    path = (settings.data_dir / rel).resolve()
    root = settings.data_dir.resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def badge(decision: str, score: float | None = None) -> str:
    """Markdown for a coloured decision badge (Streamlit's ``:color-badge[...]``)."""
    d = Decision(decision)
    text = f"{d.label} {score:.2f}" if score is not None else d.label
    return f":{d.badge_colour}-badge[{text}]"
