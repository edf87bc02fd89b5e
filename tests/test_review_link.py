"""An alert's link ``Review_leads?lead=N`` with a number no lead has, or no number at all:
the Review page says "No such lead" and shows its queue (it raised OverflowError for a number
past SQLite's integers)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from findme.cases.records import CaseDetails
from findme.config import Settings
from findme.ui import state
from tests.pages_helpers import PAGES, ROOT, make_user, signed_in, texts


def _review(records, lead: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    signed_in(at, records, "rita")
    at.query_params["lead"] = lead
    at.run()
    at.switch_page(PAGES["review"])
    at.run()
    return at


@pytest.mark.parametrize("lead", ["99999999999999999999999", "9223372036854775808", "-1",
                                  "abc", "1e9", "", "4242"])
def test_a_lead_link_to_no_lead_says_so(app_data: Settings, lead: str) -> None:
    records = state.workspace(app_data).records
    case = records.create_case(CaseDetails("Kid"))
    first = records.add_lead(None, case, None, [0, 0, 9, 9], 0.99, {}, "match")
    make_user(app_data, "rita", "reviewer")
    at = _review(records, lead)
    assert not at.exception, at.exception
    assert ("No such lead" in texts(at)) == (lead != "")  # no link: no message
    assert at.selectbox(key="lead_pick").value == first  # the queue is there as always
