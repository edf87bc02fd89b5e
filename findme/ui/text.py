"""User text on a page: shown as text, never as markdown.

Case names, notes, places, camera and file names come from people (and from uploads); put into
``st.markdown`` or a caption as they are, ``![x](http://tracker)`` loads a picture from anywhere
in a viewer's browser and ``:red-badge[MATCH 0.99]`` draws a fake badge. :func:`safe` escapes
every character Streamlit's markdown gives a meaning to; every page puts user text through it.
"""

from __future__ import annotations

_SPECIAL = set("\\`*_{}[]()#+-.!|:<>~$&=\"'")


def safe(value: object) -> str:
    """``value`` as text for markdown: special characters backslash-escaped, line breaks
    flattened to spaces (a note cannot start a heading or a list)."""
    text = " ".join(str(value).splitlines())
    return "".join("\\" + c if c in _SPECIAL else c for c in text)
