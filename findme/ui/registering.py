"""Registering a child from a page: the found-record fields, the save with its duplicate check,
and the duplicate prompt (*open it*, *add these photos to it*, *register anyway*).

Used by the Register page (missing or found) and the Live camera page (a spot-check face
registered as found). In: a page context, its one-time form (:class:`~findme.ui.page_state.
OneTimeForm`), the details and photos; out: an :class:`~findme.cases.registry.EnrollResult` once
something was saved. The rules (lawful basis, quality gate, duplicates, cross-matching) are all
``findme.cases.registry.enroll_case``; nothing here decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from findme.cases.duplicates import Duplicate
from findme.cases.records import GENDERS, CaseDetails
from findme.cases.registry import DuplicateSuspected, EnrollResult, PhotoInput, enroll_case
from findme.ui.page_state import OneTimeForm
from findme.ui.session import Context
from findme.ui.text import safe

KIND_LABELS = {"missing": "A missing child", "found": "A child found and in care"}
FOUND_BASIS_HELP = ("A found child has no guardian to consent: state the basis for keeping the "
                    "photo, e.g. a child welfare committee's order (with its number) or the "
                    "institution's duty of care.")


def found_fields(key: Callable[[str], str], place: str = "", institution: str = ""
                 ) -> Callable[[], CaseDetails]:
    """Draw the fields of a found record (inside an ``st.form``; ``key(widget)`` names each
    widget) and return a function that builds its :class:`CaseDetails` from the values."""
    left, right = st.columns(2)
    name = left.text_input("Name the child gives, or how to refer to them *", key=key("name"),
                           max_chars=200, placeholder="e.g. 'Raju' or 'unknown boy, platform 4'")
    age_min = left.number_input("Estimated age: from (years)", min_value=0, max_value=120,
                                value=None, step=1, key=key("age_min"))
    age_max = left.number_input("Estimated age: to (years)", min_value=0, max_value=120,
                                value=None, step=1, key=key("age_max"))
    gender = left.selectbox("Gender", GENDERS, index=None, key=key("gender"))
    languages = left.text_input("Languages the child speaks", key=key("languages"),
                                max_chars=200)
    found_place = right.text_input("Found where *", value=place, key=key("found_place"),
                                   max_chars=300)
    found_on = right.date_input("Found on", value=dt.date.today(),
                                min_value=dt.date(1900, 1, 1), max_value=dt.date.today(),
                                key=key("found_on"))
    holder = right.text_input("Institution caring for the child", value=institution,
                              key=key("institution"), max_chars=300)
    contact = right.text_input("Institution contact (phone / e-mail; not a guardian)",
                               key=key("institution_contact"), max_chars=300)
    marks = right.text_input("Identifying marks", key=key("marks"), max_chars=300)
    notes = st.text_area("What the child says, clothes, circumstances", key=key("notes"))
    basis = st.text_input("Lawful basis for keeping the photo *", key=key("lawful_basis"),
                          max_chars=300, help=FOUND_BASIS_HELP)

    def build() -> CaseDetails:
        """The found record's details from the values entered."""
        found_at = (dt.datetime.combine(found_on, dt.time(), tzinfo=dt.UTC)
                    if found_on else None)
        return CaseDetails(
            name=name, gender=gender, description=notes or None,
            lawful_basis=basis.strip() or None, kind="found",
            found_place=found_place.strip() or None, found_at=found_at,
            institution=holder.strip() or None, institution_contact=contact.strip() or None,
            age_min=int(age_min) if age_min is not None else None,
            age_max=int(age_max) if age_max is not None else None,
            languages=languages.strip() or None, marks=marks.strip() or None)

    return build


@dataclass
class Pending:
    """A registration held back because it may duplicate a record: the form token it came
    from, what was entered, and the records it may duplicate (best first)."""

    token: str
    details: CaseDetails
    photos: list[PhotoInput]
    duplicates: list[Duplicate]


def _pending_key(form: OneTimeForm) -> str:
    return f"{form.name}.pending"


def save(ctx: Context, mine: MutableMapping[str, Any], form: OneTimeForm, token: str,
         details: CaseDetails, photos: list[PhotoInput], allow_duplicate: bool = False,
         duplicate_of: int | None = None) -> EnrollResult | None:
    """Save a registration once per form token (:meth:`OneTimeForm.submit`) with the
    duplicate check on. A likely duplicate saves nothing: it is kept as :class:`Pending`
    (shown by :func:`duplicate_prompt`) and None is returned. ``allow_duplicate`` /
    ``duplicate_of`` are the prompt's answers. Record errors propagate (the form stays)."""

    def enroll() -> EnrollResult:
        """The one call that saves (or adds the photos to ``duplicate_of``)."""
        return enroll_case(details, photos, ctx.ws.records, ctx.ws.store, ctx.settings,
                           actor=ctx.user.username, allow_duplicate=allow_duplicate,
                           duplicate_of=duplicate_of)

    try:
        result = form.submit(token, enroll)
    except DuplicateSuspected as exc:
        mine[_pending_key(form)] = Pending(token, details, photos, list(exc.duplicates))
        return None
    mine.pop(_pending_key(form), None)
    return result


def duplicate_prompt(ctx: Context, mine: MutableMapping[str, Any], form: OneTimeForm,
                     open_record: Callable[[int], None]) -> EnrollResult | None:
    """Show the registration held back as a likely duplicate (if any, for the form's current
    token) with its three choices per suspected record: *open it* (``open_record(id)``),
    *add these photos to it*, or *register anyway* (audited). Returns the result when a
    choice saved something."""
    pending: Pending | None = mine.get(_pending_key(form))
    if pending is None or pending.token != form.token:
        return None
    out: EnrollResult | None = None
    with st.container(border=True):
        st.warning("**Not saved yet: this child may already be registered.** Look at the "
                   "record before you decide.", icon=":material/content_copy:")
        for d in pending.duplicates[:3]:
            c1, c2, c3 = st.columns([3, 1, 1])
            c1.markdown(safe(d.sentence()[0].upper() + d.sentence()[1:]) + ".")
            if c2.button(f"Open {d.label}", key=form.key(f"dup_open_{d.case_id}")):
                open_record(d.case_id)
            if c3.button(f"Add these photos to {d.label}", key=form.key(f"dup_add_{d.case_id}")):
                out = save(ctx, mine, form, pending.token, pending.details, pending.photos,
                           duplicate_of=d.case_id)
        if st.button("Register anyway as a new record (recorded in the audit log)",
                     key=form.key("dup_anyway")):
            out = save(ctx, mine, form, pending.token, pending.details, pending.photos,
                       allow_duplicate=True)
    return out


def open_record(mine: MutableMapping[str, Any], case_id: int) -> None:
    """Open a record on the Cases page (a duplicate's *open it*, a saved record's link)."""
    mine["registered_case"] = case_id
    st.switch_page("pages/2_Cases.py")


def saved_message(result: EnrollResult, label: str) -> str:
    """One sentence for a saved registration: the record, photos kept, cross-match pairs."""
    kept = sum(o.accepted for o in result.photos)
    text = f"{label} registered with {kept} photo(s)."
    pairs = [p for p in result.cross_pairs if p.lead_id is not None]
    if pairs:
        text += (f" It may match {len(pairs)} record(s) on the other side: "
                 f"{len(pairs)} cross-match lead(s) wait on *Review leads*.")
    return text


__all__ = ["FOUND_BASIS_HELP", "KIND_LABELS", "Pending", "duplicate_prompt", "found_fields",
           "open_record", "save", "saved_message"]
