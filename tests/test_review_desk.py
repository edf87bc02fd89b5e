"""The review desk (issue 22) with ``AppTest`` on real photos and weights: filters (case, source,
camera, decision, dates), bulk reject with a note (one review and audit row per lead), the
registered side as a face crop, confirm then "add this face to the case" (audited, only with
cases.edit), links lead -> case page and case -> its leads; no literal "None" shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from findme.cases import leads
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.faces.image import crop_face, load_image
from findme.ui import state
from findme.ui.face_crops import registered_face
from findme.ui.text import safe
from tests.conftest import usable_photos
from tests.pages_helpers import PAGES, ROOT, make_user, open_page, signed_in, texts

pytestmark = pytest.mark.heavy


def _lead_of(ws, photos: list[Path], case_id: int) -> int:
    """Search ``photos`` one by one until one makes a lead for ``case_id``; its id."""
    for p in photos:
        result = ws.search(load_image(p, ws.settings), source="photo", source_ref=p.name)
        for lead_id in result.lead_ids:
            if leads.get(ws.records, lead_id).lead.case_id == case_id:
                return lead_id
    raise AssertionError(f"no photo made a lead for case #{case_id}")


def _desk(settings: Settings, celeb5: Path) -> dict[str, int]:
    """Two cases (Ben, Madonna) with two photos each; a photo lead for each and a CCTV lead
    (camera "Gate 3") for Madonna."""
    ws = state.workspace(settings)
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    out: dict[str, int] = {}
    for key, person, name in (("ben", "ben_afflek", "Ben Test"),
                              ("madonna", "madonna", "Madonna Test")):
        photos = usable_photos(train[person], settings, 2)
        res = enroll_case(CaseDetails(name, consent_recorded=True),
                          [PhotoInput(p.name, p.read_bytes()) for p in photos], ws.records,
                          ws.store, settings)
        out[key] = res.case_id
        out[f"{key}_lead"] = _lead_of(ws, val[person], res.case_id)
    photo = ws.records.photos(out["madonna"])[0]
    probe = ws.records.add_probe("cctv", "gate-3.mp4 12.0-14.0 s", 1, "Gate 3")
    out["cctv_lead"] = ws.records.add_lead(probe, out["madonna"], photo.id, [0, 0, 9, 9], 0.5,
                                           {}, "possible")
    return out


def _queue(at: AppTest) -> list[int]:
    return [int(i) for i in at.dataframe[0].value["lead"]]


def _frame(at: AppTest, column: str):
    """The first table of the page with ``column`` (tables without a widget key have none)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _no_none(at: AppTest) -> None:
    shown = texts(at) + "".join(d.value.to_csv() for d in at.dataframe)
    assert "None" not in shown, shown
    assert not at.exception, at.exception


def test_filters_narrow_the_queue(app_data: Settings, celeb5: Path) -> None:
    ids = _desk(app_data, celeb5)
    make_user(app_data, "rita", "reviewer")
    at = open_page("review", "rita")
    assert sorted(_queue(at)) == sorted([ids["ben_lead"], ids["madonna_lead"], ids["cctv_lead"]])
    assert len(at.image) == 2  # the searched face beside the registered face
    _no_none(at)

    at.multiselect(key="desk_source").select("cctv")
    at.run()
    assert _queue(at) == [ids["cctv_lead"]]
    assert at.dataframe[0].value["camera"].tolist() == ["Gate 3"]
    assert at.selectbox(key="lead_pick").value == ids["cctv_lead"]  # the picker follows
    assert safe("camera: Gate 3") in texts(at)
    _no_none(at)
    at.multiselect(key="desk_source").unselect("cctv")
    at.multiselect(key="desk_camera").select("Gate 3")
    at.run()
    assert _queue(at) == [ids["cctv_lead"]]
    at.multiselect(key="desk_camera").unselect("Gate 3")
    at.selectbox(key="desk_case").select(ids["ben"])
    at.run()
    assert _queue(at) == [ids["ben_lead"]]
    at.selectbox(key="desk_case").select(None)
    at.multiselect(key="desk_decision").select("possible")
    at.run()
    assert ids["cctv_lead"] in _queue(at)
    assert set(at.dataframe[0].value["decision"]) == {"possible"}
    at.multiselect(key="desk_decision").unselect("possible")
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    at.date_input(key="desk_dates").set_value((tomorrow, tomorrow + dt.timedelta(days=3)))
    at.run()
    assert not at.dataframe and "Clear the filters" in texts(at)
    at.date_input(key="desk_dates").set_value((dt.date.today() - dt.timedelta(days=1),
                                               tomorrow))
    at.run()
    assert len(_queue(at)) == 3


def test_bulk_reject_needs_a_note_and_audits_each_lead(app_data: Settings,
                                                       celeb5: Path) -> None:
    ids = _desk(app_data, celeb5)
    records = state.workspace(app_data).records
    make_user(app_data, "rita", "reviewer")
    at = open_page("review", "rita")
    two = [ids["madonna_lead"], ids["cctv_lead"]]
    for i in two:
        at.multiselect(key="bulk_pick").select(i)
    at.run()
    at.button(key="bulk_reject").click()
    at.run()
    assert any("Nothing rejected" in e.value for e in at.error)
    assert {leads.get(records, i).lead.status for i in two} == {"new"}
    at.text_input(key="bulk_note").input("not her: another woman on the platform")
    at.button(key="bulk_reject").click()
    at.run()
    assert any("2 lead(s) rejected" in s.value for s in at.success), texts(at)
    for i in two:
        view = leads.get(records, i)
        assert view.lead.status == "rejected" and view.lead.reviewed_by == "rita"
        assert view.reviews[0].note == "not her: another woman on the platform"
    audited = {e["target"] for e in records.audit_log(action="lead.reject", actor="rita")}
    assert audited == {f"lead:{i}" for i in two}
    assert _queue(at) == [ids["ben_lead"]]  # what is left
    _no_none(at)


def test_confirm_add_the_face_and_follow_the_links(app_data: Settings, celeb5: Path) -> None:
    ids = _desk(app_data, celeb5)
    ws = state.workspace(app_data)
    make_user(app_data, "inv", "investigator")
    make_user(app_data, "rita", "reviewer")
    before = len(ws.records.photos(ids["ben"], status="ready"))

    at = open_page("review", "inv")
    at.selectbox(key="lead_pick").select(ids["ben_lead"])
    at.run()
    assert "#" + str(ids["ben"]) + " Ben Test" in texts(at)
    at.text_area[0].input("same ears and jaw line")
    next(b for b in at.button if b.label == "Confirm").click()
    at.run()
    assert f"Lead {ids['ben_lead']}: confirmed." in texts(at)
    assert at.session_state["lead_status"] == "confirmed"  # the confirmed lead stays open
    assert at.selectbox(key="lead_pick").value == ids["ben_lead"]
    at.button(key="add_face").click()
    at.run()
    assert any("Face added to case" in s.value for s in at.success), texts(at)
    assert len(ws.records.photos(ids["ben"], status="ready")) == before + 1
    (entry,) = ws.records.audit_log(action="case.photos.from_lead")
    assert entry["target"] == f"case:{ids['ben']}" and f"lead:{ids['ben_lead']}" in entry["detail"]
    assert "consent" in entry["detail"]  # the lawful basis it was stored under

    rev = open_page("review", "rita")  # a reviewer may confirm, never add photos
    rev.segmented_control(key="lead_status").set_value("confirmed")
    rev.run()
    assert not [b for b in rev.button if b.key == "add_face"]

    at.button(key="open_case_link").click()  # lead -> its case page
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="open_case").value == ids["ben"]
    lead_table = _frame(at, "reviewed by")
    assert ids["ben_lead"] in set(lead_table["lead"])
    assert at.get("page_link")  # case -> its leads on the desk
    assert not [e for e in at.expander if e.label.startswith("History")]  # audit: admins only
    _no_none(at)
    make_user(app_data, "boss", "admin")
    boss = open_page("cases", "boss")
    boss.selectbox(key="open_case").set_value(ids["ben"])
    boss.run()
    history = _frame(boss, "what")
    assert "case.photos.from_lead" in set(history["what"])


def test_a_case_link_filters_the_desk_and_sightings_show_on_the_case(
        app_data: Settings, celeb5: Path) -> None:
    ids = _desk(app_data, celeb5)
    records = state.workspace(app_data).records
    make_user(app_data, "inv", "investigator")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    signed_in(at, records, "inv")
    at.query_params["case"] = str(ids["madonna"])
    at.run()
    at.switch_page(PAGES["review"])
    at.run()
    assert at.selectbox(key="desk_case").value == ids["madonna"]
    assert sorted(_queue(at)) == sorted([ids["madonna_lead"], ids["cctv_lead"]])

    cases = open_page("cases", "inv")
    cases.selectbox(key="open_case").select(ids["madonna"])
    cases.run()
    sightings = _frame(cases, "camera")
    assert sightings["lead"].tolist() == [ids["cctv_lead"]]
    assert sightings["camera"].tolist() == ["Gate 3"]
    assert ids["cctv_lead"] not in set(_frame(cases, "reviewed by")["lead"])
    table = _frame(cases, "face")
    assert all(str(u).startswith("data:image/jpeg;base64,") for u in table["face"])
    _no_none(cases)


def test_the_registered_side_is_the_stored_face_not_the_whole_photo(
        app_data: Settings, face_photo: Path) -> None:
    ws = state.workspace(app_data)
    res = enroll_case(CaseDetails("Kid", consent_recorded=True),
                      [PhotoInput("a.jpg", face_photo.read_bytes())], ws.records, ws.store,
                      app_data)
    (photo,) = ws.records.photos(res.case_id)
    whole = load_image(app_data.data_dir / photo.file_path, app_data)
    face = registered_face(app_data, photo, side=10_000)
    assert face is not None and photo.face_box
    expected = crop_face(whole, photo.face_box)
    assert face.shape == expected.shape and face.shape[0] < whole.shape[0]
    assert np.abs(face.astype(int) - expected.astype(int)).mean() < 3  # JPEG decoders agree
