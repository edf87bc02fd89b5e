"""What a photo search's result says, in words: a headline per face, each decision worded with
what it promises (the calibration's stranger rate), short file names.

Input: :class:`~findme.search.matcher.FaceResult` / :class:`~findme.search.matcher.Match`
values and names. Output: plain strings (the caller passes user text through ``safe``).
"""

from __future__ import annotations

from dataclasses import dataclass

from findme.search.decision import Decision
from findme.search.matcher import Match
from findme.search.open_set import MATCH_FPIR, POSSIBLE_FPIR

NAME_CHARS = 80  # a file name longer than this is shortened in the middle


@dataclass(frozen=True)
class Headline:
    """A face's headline: ``kind`` (``none`` / ``possible`` / ``match``) and its sentence."""

    kind: str
    text: str


def headline(matches: list[Match]) -> Headline:
    """The face's headline from its ranked matches (best first)."""
    best = matches[0] if matches else None
    if best is None or not Decision(best.decision).makes_lead:
        return Headline("none", "No registered child is close to this face.")
    if Decision(best.decision) == Decision.MATCH:
        return Headline("match", "Match: a registered child scores very high. A person "
                                 "reviews it before anything is done.")
    return Headline("possible", "Possible match: needs review.")


def one_in(rate: float) -> str:
    """``1 search in 1,000`` for a rate of 0.001."""
    return f"1 search in {round(1 / rate):,}"


def promise(match: Match) -> str:
    """What the decision of ``match`` promises, e.g. ``match: a person in no case scores this
    high in fewer than 1 search in 1,000``. Uses the calibration's stranger rate for this score
    and gallery when known, else the decision's promised rate."""
    d = Decision(match.decision)
    rate = match.stranger_rate
    if d == Decision.MATCH:
        text = f"fewer than {one_in(MATCH_FPIR)}"
        if rate is not None and rate > 0:
            text = f"about {one_in(rate)}" if rate < MATCH_FPIR else text
        elif rate == 0:
            text = "practically no search"
        return f"match: a person in no case scores this high in {text}"
    if d == Decision.POSSIBLE:
        text = f"up to {one_in(POSSIBLE_FPIR)}"
        if rate is not None and rate > 0:
            text = f"about {one_in(rate)}"
        return (f"possible: a person in no case scores this high in {text}; compare the "
                "faces")
    return "no match: people in no case often score this high; not a lead"


def short_name(name: str, limit: int = NAME_CHARS) -> str:
    """``name`` shortened in the middle to at most ``limit`` characters (``abc…xyz.jpg``), so a
    long web file name fits on one line; the ending (extension) is kept."""
    name = " ".join(name.split())
    if len(name) <= limit:
        return name
    keep = limit - 1
    return name[:keep - keep // 3] + "…" + name[-(keep // 3):]
