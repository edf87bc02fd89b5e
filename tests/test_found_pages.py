"""Children found and in care on the dashboard (issue 21), with ``AppTest`` and real photos: a
shelter registers a found child on the Register page, an investigator registers the missing
report and is told of the cross-match, the reviewer sees both sides and confirms; a double
registration is held back with *register anyway* / *add these photos to it*; a drive from the
Cases page shows its progress and result."""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.cases import drive_jobs, leads
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.ui import state
from findme.ui.text import safe
from tests.conftest import usable_photos
from tests.pages_helpers import make_user, open_page, register_widgets, texts
from tests.waiting import rerun_until

pytestmark = pytest.mark.heavy


def _upload(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/jpeg")


def _field(at, label: str):
    return next(t for t in at.text_input if t.label == label)


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _register_found(at, photos: list[Path], name: str = "unknown girl, platform 4"):
    """The shelter's found-child form, as a person fills it."""
    assert "Registering: **a child found and in care**" in texts(at), texts(at)
    register_widgets_photos(at).set_value([_upload(p) for p in photos])
    at.run()
    _field(at, "Name the child gives, or how to refer to them *").input(name)
    _field(at, "Found where *").input("Central station, platform 4")
    _field(at, "Institution caring for the child").input("Hope Children's Home")
    _field(at, "Institution contact (phone / e-mail; not a guardian)").input("+1 555 0100")
    _field(at, "Lawful basis for keeping the photo *").input("CWC order 2026/118")
    _button(at, "Register found child").click()
    at.run()
    assert not at.exception, at.exception
    return at


def register_widgets_photos(at):
    """The photo uploader of the Register page (either registry)."""
    return next(u for u in at.file_uploader if u.label.startswith("Photos of the child"))


def _register_missing(at, name: str, photos: list[Path]):
    register_widgets(at).photos.set_value([_upload(p) for p in photos])
    at.run()
    form = register_widgets(at)
    form.name.input(name)
    form.consent.check()
    form.save.click()
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def madonna(celeb5: Path, app_data: Settings) -> list[Path]:
    """Four usable photos of one person: two for each registry."""
    photos = usable_photos(identities(celeb5 / "train")["madonna"], app_data, 4)
    assert len(photos) == 4
    return photos


def test_shelter_registers_found_investigator_missing_reviewer_confirms(
        app_data: Settings, madonna: list[Path]) -> None:
    make_user(app_data, "shel", "shelter")
    make_user(app_data, "inv", "investigator")
    make_user(app_data, "rev", "reviewer")
    ws = state.workspace(app_data)

    at = _register_found(open_page("register", "shel"), madonna[2:])
    assert any("F-" in s.value and "registered with 2 photo(s)" in s.value for s in at.success)
    (found,) = ws.records.list_cases(kind="found")
    assert (found.kind, found.status, found.institution) == ("found", "in_care",
                                                              "Hope Children's Home")
    assert not [r for r in at.radio if r.label == "Who are you registering?"]  # found only
    assert not [e for e in at.expander if e.label.startswith("Import")]

    at = _register_missing(open_page("register", "inv"), "Madonna Test", madonna[:2])
    (case,) = ws.records.list_cases()
    shown = texts(at)
    assert f"#{case.id} registered with 2 photo(s)" in shown, shown
    assert "cross-match lead(s) wait on *Review leads*" in shown
    (lead,) = leads.queue(ws.records)
    assert (lead.lead.case_id, lead.lead.found_id) == (case.id, found.id)

    at = open_page("review", "rev")
    shown = texts(at)
    assert f"Cross-match: #{case.id} Madonna Test ↔ F-{found.id}" in shown, shown
    assert safe("Central station, platform 4") in shown and safe("Hope Children's Home") in shown
    assert "Age gap between the photos" in shown
    assert len(at.image) == 2  # the missing report's photo beside the found child's
    at.text_area[0].input("same face; the home confirms the name she gives")
    _button(at, "Confirm").click()
    at.run()
    assert any("confirmed" in s.value for s in at.success), texts(at)
    assert ws.records.get_case(case.id).status == "found"
    assert ws.records.get_case(found.id).status == "identified"
    assert ws.records.get_case(found.id).linked_case_id == case.id

    at = open_page("cases", "shel")  # a shelter opens the found registry first
    at.multiselect(key="filter_status_found").select("identified")
    at.run()
    assert at.dataframe[0].value["number"].tolist() == [f"F-{found.id}"]
    assert f"Identified as missing case #{case.id}" in texts(at)
    assert safe("+1 555 0100") in texts(at)  # the institution's contact, never a guardian's


def test_a_double_registration_is_held_back_until_a_person_decides(
        app_data: Settings, celeb5: Path) -> None:
    ben = usable_photos(identities(celeb5 / "train")["ben_afflek"], app_data, 5)
    assert len(ben) == 5
    make_user(app_data, "inv", "investigator")
    ws = state.workspace(app_data)
    _register_missing(open_page("register", "inv"), "Ben Test", ben[:2])
    (first,) = ws.records.list_cases()

    at = _register_missing(open_page("register", "inv"), "Ben again", ben[2:4])
    shown = texts(at)
    assert "this child may already be registered" in shown.lower(), shown
    assert f"#{first.id}, Ben Test, registered today by inv" in shown
    assert len(ws.records.list_cases()) == 1  # nothing saved yet

    _button(at, "Register anyway as a new record (recorded in the audit log)").click()
    at.run()
    assert not at.exception, at.exception
    assert len(ws.records.list_cases()) == 2
    assert ws.records.audit_log(action="case.duplicate.allowed")

    before = len(ws.records.photos(first.id, status="ready"))
    at = _register_missing(at, "Ben third", ben[4:5])
    assert "may already be registered" in texts(at).lower()
    _button(at, f"Add these photos to #{first.id}").click()
    at.run()
    assert not at.exception, at.exception
    assert len(ws.records.list_cases()) == 2
    assert len(ws.records.photos(first.id, status="ready")) == before + 1
    assert ws.records.audit_log(action="case.duplicate.added")


def test_a_drive_from_the_cases_page_shows_progress_and_adds_no_lead_twice(
        app_data: Settings, madonna: list[Path]) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case

    ws = state.workspace(app_data)
    found = enroll_case(CaseDetails("unknown", kind="found", lawful_basis="duty of care",
                                    found_place="market"),
                        [PhotoInput(p.name, p.read_bytes()) for p in madonna[2:]],
                        ws.records, ws.store, app_data)
    case = enroll_case(CaseDetails("Madonna Test", consent_recorded=True),
                       [PhotoInput(p.name, p.read_bytes()) for p in madonna[:2]],
                       ws.records, ws.store, app_data)
    assert [p.found_id for p in case.cross_pairs] == [found.case_id]
    make_user(app_data, "inv", "investigator")
    at = open_page("cases", "inv")
    at.button(key="drive_start").click()
    at.run()
    assert any("Drive 1 started" in s.value for s in at.success), texts(at)
    rerun_until(at, lambda a: safe("likely pair(s)") in texts(a) or "failed" in texts(a),
                "the drive")
    (job,) = drive_jobs.recent(ws.records)
    assert (job.status, job.pairs, job.new_leads) == ("done", 1, 0), job  # made on save already
    assert job.total_faces == job.done_faces == 2
    assert safe("1 likely pair(s), 0 new lead(s) to review") in texts(at)
    assert len(leads.queue(ws.records, status=None)) == 1
