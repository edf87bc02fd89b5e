"""Drawing on pictures: numbered, coloured face boxes (pure OpenCV, no UI).

Used by the pages (uploaded photos) and by the live camera's frame callback; callers choose
each box's colour (see :class:`findme.search.decision.Decision` for decision colours).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: a box with no decision: green (usable face)
DEFAULT_COLOUR = "#2e7d32"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``."""
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def draw_boxes(image: np.ndarray, boxes: Sequence[Sequence[int]],
               colours: Sequence[str | None] | None = None,
               labels: Sequence[str] | None = None) -> np.ndarray:
    """A copy of ``image`` with each ``(x, y, w, h)`` box drawn in its hex colour (green when
    None) and labelled (``labels``, or numbered 1..n)."""
    out = np.ascontiguousarray(image.copy())
    scale = max(out.shape[:2]) / 800
    thick = max(2, round(2 * scale))
    for k, box in enumerate(boxes):
        x, y, w, h = (int(v) for v in box)
        colour = rgb((colours[k] if colours else None) or DEFAULT_COLOUR)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick)
        text = labels[k] if labels else str(k + 1)
        font = 0.6 * max(scale, 0.6)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = max(th + 4, y)
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 6, ty), colour, -1)
        cv2.putText(out, text, (x + 3, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, font,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out
