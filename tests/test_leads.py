"""Lead review rules: one verdict per reviewer, rejection, two-person rule, queue order."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from findme.cases import leads
from findme.cases.records import CaseDetails, RecordError, open_records
from findme.config import Settings


def _records(settings: Settings, two: bool = False):
    return open_records(replace(settings, two_person_rule=two))


def _lead(records, case_id: int, score: float) -> int:
    probe = records.add_probe("photo", "p.jpg", 1)
    return records.add_lead(probe, case_id, None, [0, 0, 10, 10], score,
                            {"facenet": score}, "match")


def test_queue_is_score_first_then_oldest(ws_settings: Settings) -> None:
    r = _records(ws_settings)
    case = r.create_case(CaseDetails("A"))
    low = _lead(r, case, 0.6)
    time.sleep(0.01)
    high_new = _lead(r, case, 0.9)
    assert [v.lead.id for v in leads.queue(r)] == [high_new, low]
    view = leads.get(r, low)
    assert view.case_name == "A" and view.source == "photo" and view.source_ref == "p.jpg"


def test_reject_and_no_second_verdict(ws_settings: Settings) -> None:
    r = _records(ws_settings)
    case = r.create_case(CaseDetails("A"))
    lead = _lead(r, case, 0.9)
    out = leads.review(r, lead, "rita", "reject", "different child", mark_found=True)
    assert out.status == "rejected" and not out.case_marked_found
    assert r.get_case(case).status == "open"
    with pytest.raises(RecordError, match="already rejected"):
        leads.review(r, lead, "sam", "confirm")
    with pytest.raises(RecordError, match="verdict"):
        leads.review(r, _lead(r, case, 0.5), "sam", "maybe")


def test_confirm_marks_found_only_when_asked(ws_settings: Settings) -> None:
    r = _records(ws_settings)
    case = r.create_case(CaseDetails("A"))
    assert leads.review(r, _lead(r, case, 0.9), "rita", "confirm").status == "confirmed"
    assert r.get_case(case).status == "open"
    out = leads.review(r, _lead(r, case, 0.8), "rita", "confirm", "yes", mark_found=True)
    assert out.case_marked_found and r.get_case(case).status == "found"
    assert r.audit_log(actor="rita", action="case.status")


def test_two_person_rule(ws_settings: Settings) -> None:
    r = _records(ws_settings, two=True)
    case = r.create_case(CaseDetails("A"))
    lead = _lead(r, case, 0.9)
    first = leads.review(r, lead, "rita", "confirm", mark_found=True)
    assert first.status == "new" and first.confirmations_needed == 1
    assert r.get_case(case).status == "open"
    with pytest.raises(RecordError, match="already reviewed"):
        leads.review(r, lead, "rita", "confirm")
    second = leads.review(r, lead, "sam", "confirm", mark_found=True)
    assert second.status == "confirmed" and second.case_marked_found
    view = leads.get(r, lead)
    assert view.confirmations == 2 and view.lead.reviewed_by == "rita, sam"


def _make_lead_in_child(settings: Settings, case_id: int, fault: str | None):
    """Run create_lead in a separate process, optionally dying at a named point."""
    import os
    import subprocess
    import sys

    code = ("import pathlib, numpy as np; from dataclasses import replace\n"
            "from findme.config import get_settings\n"
            "from findme.cases.records import open_records\n"
            "from findme.cases.leads import NewLead, create_lead\n"
            "from findme.search.decision import Decision\n"
            f"s = replace(get_settings(), data_dir=pathlib.Path({str(settings.data_dir)!r}))\n"
            f"new = NewLead({case_id}, None, (5, 5, 40, 40), 0.99, {{'facenet': 0.9}},\n"
            "              Decision.MATCH, np.full((48, 48, 3), 120, np.uint8))\n"
            "print(create_lead(open_records(s), s, new, None, 'photo'))\n")
    env = {k: v for k, v in os.environ.items() if k != "FINDME_FAULT"}
    if fault:
        env["FINDME_FAULT"] = fault
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("fault", ["lead-before-alerts", "lead-before-commit"])
def test_a_crash_while_making_a_lead_leaves_no_lead_without_its_alerts(
        ws_settings: Settings, fault: str) -> None:
    """Lead row, audit entry and outbox rows commit together: killed in between, none stays;
    the crop written first is removed by the start-up reconcile."""
    from findme.alerts.store import list_alerts
    from findme.workspace import open_workspace

    r = open_records(ws_settings)
    case = r.create_case(CaseDetails("A"))
    died = _make_lead_in_child(ws_settings, case, fault)
    assert died.returncode == 70, died.stderr
    assert r.leads() == [] and list_alerts(r) == []
    assert not r.audit_log(action="lead.create")
    assert len(list(ws_settings.leads_dir.iterdir())) == 1  # the crop, written before the commit
    with open_workspace(ws_settings) as ws:
        assert ws.repaired.files_removed == 1
    assert list(ws_settings.leads_dir.iterdir()) == []

    made = _make_lead_in_child(ws_settings, case, None)
    assert made.returncode == 0, made.stderr
    (lead,) = r.leads()
    assert lead.id == int(made.stdout) and (ws_settings.data_dir / lead.crop_path).is_file()
    assert [a.lead_id for a in list_alerts(r) if a.channel == "dashboard"] == [lead.id]


def test_the_queue_groups_leads_of_one_probe_and_says_why(ws_settings: Settings) -> None:
    """A crowd photo is one row with its leads; each lead says its margin, stranger chance and
    the searched face's quality."""
    r = _records(ws_settings)
    a, b = r.create_case(CaseDetails("A")), r.create_case(CaseDetails("B"))
    crowd = r.add_probe("photo", "crowd.jpg", 3)
    for case, score in ((a, 0.97), (b, 0.91)):
        r.add_lead(crowd, case, None, [0, 0, 9, 9], score, {}, "match", margin=0.02,
                   stranger_rate=0.0004, quality={"face_px": 80, "sharpness": 120.0,
                                                  "reasons": []})
    alone = _lead(r, a, 0.95)
    groups = leads.grouped(leads.queue(r))
    assert [len(g.views) for g in groups] == [2, 1]
    assert groups[0].probe_id == crowd and groups[0].best.lead.fused_score == 0.97
    assert groups[1].best.lead.id == alone
    why = leads.why(groups[0].best.lead)
    assert "0.02 above the next case" in why and "compare both" in why
    assert "1 of 2,500 searches" in why and "80 px" in why
    assert "no other case came close" in leads.why(groups[1].best.lead)


def test_only_a_role_that_edits_cases_may_mark_one_found(ws_settings: Settings) -> None:
    """A reviewer confirms leads; taking a child out of every search needs ``cases.edit``."""
    r = _records(ws_settings)
    case = r.create_case(CaseDetails("A"))
    lead = _lead(r, case, 0.9)
    with pytest.raises(RecordError, match="cases.edit"):
        leads.review(r, lead, "rita", "confirm", "same child", mark_found=True, role="reviewer")
    assert r.get_case(case).status == "open" and leads.get(r, lead).lead.status == "new"
    out = leads.review(r, lead, "ivan", "confirm", "same child", mark_found=True,
                       role="investigator")
    assert out.case_marked_found and r.get_case(case).status == "found"


# ----------------------------------------------------------------------------- searched twice


def _enrolled(workspace, orl) -> int:
    """A case of ORL person s11 (photos 1-3), beside another child (s12)."""
    from findme.cases.registry import PhotoInput, enroll_case

    def enroll(name: str, person: str) -> int:
        return enroll_case(CaseDetails(name=name, consent_recorded=True),
                           [PhotoInput(f"{i}.pgm", (orl / person / f"{i}.pgm").read_bytes())
                            for i in (1, 2, 3)],
                           workspace.records, workspace.store, workspace.settings).case_id

    case = enroll("Lead Child", "s11")
    enroll("Other Child", "s12")
    return case


@pytest.mark.heavy
def test_the_same_photo_searched_again_makes_no_second_lead(workspace, orl) -> None:
    """One open lead per case per searched image (its pixels): the same photo uploaded again,
    under another name, returns the open lead and notes the repeat (no second lead, crop or
    alert); another photo of the child makes its own lead; once the lead is reviewed, a new
    search of the photo may make a new one."""
    from findme.alerts.store import list_alerts
    from findme.faces.image import load_image

    ws = workspace
    case = _enrolled(ws, orl)
    photo = orl / "s11" / "8.pgm"
    first = ws.search(load_image(photo.read_bytes(), ws.settings), source="photo",
                      source_ref="tip.jpg")
    assert len(first.lead_ids) == 1
    alerts, crops = len(list_alerts(ws.records)), sorted(ws.settings.leads_dir.iterdir())

    again = ws.search(load_image(photo.read_bytes(), ws.settings), source="photo",
                      source_ref="tip (1).jpg")
    assert again.lead_ids == first.lead_ids and again.probe_id != first.probe_id
    (lead,) = ws.records.leads()
    assert lead.case_id == case and lead.probe_id == first.probe_id
    assert len(list_alerts(ws.records)) == alerts
    assert sorted(ws.settings.leads_dir.iterdir()) == crops
    assert len(ws.records.audit_log(action="lead.create")) == 1
    (repeat,) = ws.records.audit_log(action="lead.repeat")
    assert repeat["target"] == f"lead:{lead.id}" and f"probe:{again.probe_id}" in repeat["detail"]

    other = ws.search(load_image(orl / "s11" / "9.pgm", ws.settings), source="photo",
                      source_ref="another.jpg")
    assert len(other.lead_ids) == 1 and other.lead_ids != first.lead_ids

    leads.review(ws.records, lead.id, "rita", "reject", "not her")
    later = ws.search(load_image(photo.read_bytes(), ws.settings), source="photo")
    assert len(later.lead_ids) == 1 and later.lead_ids != first.lead_ids
    assert len(ws.records.leads(case_id=case)) == 3


@pytest.mark.heavy
def test_concurrent_searches_of_one_photo_make_one_lead(workspace, orl) -> None:
    """Four searches of the same photo at once, each with its own database connection (as four
    dashboard sessions or processes): the database, not a check before the insert, decides,
    so exactly one lead, one crop and one set of alerts remain, and every search names it."""
    import threading

    from findme.alerts.store import list_alerts
    from findme.faces.image import load_image

    ws = workspace
    _enrolled(ws, orl)
    image = load_image(orl / "s11" / "8.pgm", ws.settings)
    result = ws.matcher.search_image(image)
    assert result.faces[0].best.decision.makes_lead
    start, ids, errors = threading.Barrier(4), [], []

    def search() -> None:
        records = open_records(ws.settings)
        try:
            start.wait()
            ids.append(leads.record_search(records, ws.settings, image, result, "photo",
                                           "tip.jpg").lead_ids)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)
        finally:
            records.engine.dispose()

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    (lead,) = ws.records.leads()
    assert ids == [[lead.id]] * 4
    assert len(list(ws.settings.leads_dir.iterdir())) == 1
    assert {a.lead_id for a in list_alerts(ws.records)} == {lead.id}
    assert ws.records.counts()["probes"] == 4


def test_the_database_refuses_a_second_open_lead_for_one_image(ws_settings: Settings) -> None:
    """The rule lives in the schema (a partial unique index), so no writer can get round it; a
    reviewed lead leaves room for a new one, and leads without a fingerprint are not limited."""
    from sqlalchemy.exc import IntegrityError

    r = _records(ws_settings)
    case = r.create_case(CaseDetails("A"))

    def add(fp: str | None) -> int:
        return r.add_lead(None, case, None, [0, 0, 9, 9], 0.9, {}, "match", fingerprint=fp)

    first = add("f" * 64)
    with pytest.raises(IntegrityError):
        add("f" * 64)
    add("e" * 64)
    add(None)
    add(None)
    leads.review(r, first, "rita", "reject")
    add("f" * 64)
    assert len(r.leads()) == 5


@pytest.mark.heavy
def test_a_case_erased_between_search_and_lead_makes_no_lead_and_no_error(workspace,
                                                                           orl) -> None:
    """Searches and erasures run side by side: a match on a case erased a moment later leaves
    no lead, crop or alert (and no foreign-key error reaches the person searching)."""
    from findme.alerts.store import list_alerts
    from findme.cases.registry import delete_case
    from findme.faces.image import load_image

    ws = workspace
    case = _enrolled(ws, orl)
    image = load_image(orl / "s11" / "8.pgm", ws.settings)
    result = ws.search(image)  # ranked, nothing written yet
    assert result.faces[0].best.case_id == case and result.faces[0].best.decision.makes_lead
    delete_case(case, ws.records, ws.store, ws.settings)
    recorded = leads.record_search(ws.records, ws.settings, image, result, "photo", "tip.jpg")
    assert recorded.lead_ids == [] and ws.records.leads() == []
    assert not list(ws.settings.leads_dir.glob("*.jpg")) and not list_alerts(ws.records)
    best = result.faces[0]
    with pytest.raises(leads.CaseErased, match="erased"):  # a person's "Create lead" says so
        leads.lead_from_match(ws.records, ws.settings, image[:10, :10], best.face, best.best,
                              recorded.probe_id, "rita")
