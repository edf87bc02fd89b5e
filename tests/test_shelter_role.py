"""The shelter role (issue 21): registers found children and runs spot checks and searches,
sees matches as case numbers and names, never a guardian's contact."""

from __future__ import annotations

import datetime as dt

from findme.cases import users
from findme.cases.found import contact_for, may_register
from findme.cases.tables import CaseRecord


def _case(kind: str) -> CaseRecord:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return CaseRecord(7, "Asha K.", None, None, None, None, None, None, "mum +1 555 0199", True,
                      None, "open", None, t, t, kind=kind,
                      institution_contact="+1 555 0100" if kind == "found" else None)


def test_shelter_permissions() -> None:
    assert "shelter" in users.ROLES
    for permission in ("cases.view", "search", "found.register", "alerts.view"):
        assert users.allowed("shelter", permission), permission
    for permission in ("cases.contact", "cases.edit", "photos.view", "cases.erase",
                       "leads.review", "users.manage", "audit.view"):
        assert not users.allowed("shelter", permission), permission
    assert may_register("shelter", "found") and not may_register("shelter", "missing")


def test_shelter_never_sees_a_guardian_contact() -> None:
    missing = contact_for(_case("missing"), "shelter")
    assert missing.contact is None and missing.hidden
    assert contact_for(_case("found"), "shelter").contact == "+1 555 0100"
