"""Pictures for the pages: numbered face boxes, face crops, decision badges.

Pure functions over RGB arrays (no Streamlit import), so they are tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from findme.config import Settings

#: decision -> (label, colour) used for badges and boxes
DECISION_STYLE = {
    "match": ("MATCH", "#c62828"),
    "possible": ("POSSIBLE", "#ef6c00"),
    "none": ("NO MATCH", "#546e7a"),
}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def draw_faces(image: np.ndarray, boxes: Sequence[Sequence[int]],
               decisions: Sequence[str | None] | None = None,
               labels: Sequence[str] | None = None) -> np.ndarray:
    """A copy of ``image`` with each box drawn and numbered 1..n (coloured by decision when
    given; green for "usable", grey otherwise)."""
    out = np.ascontiguousarray(image.copy())
    scale = max(out.shape[:2]) / 800
    thick = max(2, round(2 * scale))
    for k, box in enumerate(boxes):
        x, y, w, h = (int(v) for v in box)
        decision = decisions[k] if decisions else None
        colour = _rgb(DECISION_STYLE[decision][1]) if decision in DECISION_STYLE \
            else (46, 125, 50)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick)
        text = labels[k] if labels else str(k + 1)
        font = 0.6 * max(scale, 0.6)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = max(th + 4, y)
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 6, ty), colour, -1)
        cv2.putText(out, text, (x + 3, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, font,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


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
    label = DECISION_STYLE.get(decision, (decision.upper(), ""))[0]
    colour = {"match": "red", "possible": "orange"}.get(decision, "gray")
    text = f"{label} {score:.2f}" if score is not None else label
    return f":{colour}-badge[{text}]"
