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
