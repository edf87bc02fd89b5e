"""User text on a page: shown as text, never as markdown.

Case names, notes, places, camera and file names (and ZIP member names, and errors that quote
any of them) come from people and from uploads; put into ``st.markdown``, a heading, a message,
a caption (of text or of an image), a progress text or a widget label as they are,
``![x](http://tracker)`` loads a picture from anywhere in a viewer's browser and
``:red-badge[MATCH 0.99]`` draws a fake badge. :func:`safe` escapes every character Streamlit's
markdown gives a meaning to, and keeps a bare address (``http://...``, ``www....``, an e-mail
address) from becoming a link (GitHub-flavoured markdown links those by themselves, escapes or
not: a word joiner, U+2060, which nobody sees, goes after ``http``, ``www`` and ``@``). Every
page puts user text through it.
"""

from __future__ import annotations

import re

_SPECIAL = set("\\`*_{}[]()#+-.!|:<>~$&=\"'")
WORD_JOINER = "\u2060"
_LINK_START = re.compile(r"(?i)(https?|ftp|www)(?=[:.])|(@)")


def as_seen(value: object) -> str:
    """``value`` as a browser shows it after :func:`safe`: line breaks flattened to spaces,
    and a word joiner after every ``http``/``https``/``ftp``/``www`` that starts an address and
    after every ``@`` (so nothing in it turns into a link)."""
    text = " ".join(str(value).splitlines())
    return _LINK_START.sub(lambda m: m.group(0) + WORD_JOINER, text)


def safe(value: object) -> str:
    """``value`` as text for markdown: special characters backslash-escaped, line breaks
    flattened to spaces (a note cannot start a heading or a list), bare addresses kept from
    becoming links (see :func:`as_seen`)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in as_seen(value))
