"""What a search concludes about one probe face and one case: ``match``, ``possible`` or ``none``.

A :class:`Decision` is a ``StrEnum``: it compares equal to its value, is stored and printed as
``"match"`` / ``"possible"`` / ``"none"`` (JSON shapes and database rows are unchanged), and
carries its label and colour so every chart, badge and box shows a decision the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """The outcome of comparing a probe face with a case, best first."""

    MATCH = "match"
    POSSIBLE = "possible"
    NONE = "none"

    @property
    def makes_lead(self) -> bool:
        """Whether a face with this decision becomes a lead for a person to review."""
        return self in LEAD_DECISIONS

    @property
    def label(self) -> str:
        """The badge text: ``MATCH``, ``POSSIBLE`` or ``NO MATCH``."""
        return "NO MATCH" if self is Decision.NONE else self.value.upper()

    @property
    def colour(self) -> str:
        """Its colour (hex) in boxes, badges and charts."""
        return COLOURS[self]

    @property
    def badge_colour(self) -> str:
        """Its colour name for Streamlit's ``:color-badge[...]`` markup."""
        return {"match": "red", "possible": "orange"}.get(self.value, "gray")


#: decisions that become leads (and may alert)
LEAD_DECISIONS = frozenset({Decision.MATCH, Decision.POSSIBLE})
#: one colour per decision, everywhere
COLOURS = {Decision.MATCH: "#c62828", Decision.POSSIBLE: "#ef6c00", Decision.NONE: "#546e7a"}

