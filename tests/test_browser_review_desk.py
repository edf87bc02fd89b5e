"""The review desk in a real browser (issue 22): filter the queue, open a lead by clicking its
row, reject two leads at once with a note, confirm one and add its face to the case.

Headless Debian Chromium (Playwright) against ``streamlit run app.py`` on 127.0.0.1, on real
photos and weights. The cases and leads are made before the app starts (an embedded Chroma folder
belongs to one process at a time). Screenshots go to ``tests/artifacts/review-desk/`` (the user
guide uses them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.cases import leads, users
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.ui import review_desk
from findme.workspace import open_workspace
from tests.conftest import usable_photos
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app
from tests.live_app import sign_in as live_sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"
HEADER_PX = 35  # a Streamlit dataframe's header row and each row (default row height)
ROW_PX = 35


def _prepare(settings: Settings, celeb5: Path) -> dict[str, int]:
    """Ben and Madonna registered (two photos each), a photo lead for each, a CCTV lead for
    Madonna on camera "Gate 3", and an investigator ``inv``."""
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    out: dict[str, int] = {}
    with open_workspace(settings) as ws:
        for key, person, name in (("ben", "ben_afflek", "Ben Test"),
                                  ("madonna", "madonna", "Madonna Test")):
            res = enroll_case(CaseDetails(name, consent_recorded=True),
                              [PhotoInput(p.name, p.read_bytes())
                               for p in usable_photos(train[person], settings, 2)],
                              ws.records, ws.store, settings)
            out[key] = res.case_id
            for p in val[person]:
                made = ws.search(load_image(p, settings), source="photo",
                                 source_ref=f"{p.name} (by inv)").lead_ids
                mine = [i for i in made if leads.get(ws.records, i).lead.case_id == res.case_id]
                if mine:
                    out[f"{key}_lead"] = mine[0]
                    break
            assert f"{key}_lead" in out, f"no photo of {person} made a lead"
        photo = ws.records.photos(out["madonna"])[0]
        probe = ws.records.add_probe("cctv", "gate-3.mp4 12.0-14.0 s", 1, "Gate 3")
        out["cctv_lead"] = ws.records.add_lead(probe, out["madonna"], photo.id, [0, 0, 9, 9],
                                               0.5, {}, "possible")
        users.add_user(ws.records, "inv", PASSWORD, "investigator")
        order = [v.lead.id for v in review_desk.ordered(leads.queue(ws.records))]
        out.update({f"row_{i}": k for k, i in enumerate(order)})
    return out


def test_filter_click_bulk_reject_and_add_a_face_in_chromium(ws_settings: Settings,
                                                              celeb5: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)  # the first page loads the models
    ids = _prepare(ws_settings, celeb5)
    shots = ARTIFACTS / "review-desk"
    shots.mkdir(parents=True, exist_ok=True)

    with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.set_default_timeout(120_000)
        page.goto(url)
        live_sign_in(page, "inv", PASSWORD)
        try:
            _walk(page, ids, shots, expect)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "review-desk-failure.png"), full_page=True)
            raise
        browser.close()

    with open_workspace(ws_settings) as ws:
        assert {leads.get(ws.records, i).lead.status
                for i in (ids["madonna_lead"], ids["cctv_lead"])} == {"rejected"}
        assert leads.get(ws.records, ids["ben_lead"]).lead.status == "confirmed"
        assert len(ws.records.photos(ids["ben"], status="ready")) == 3
        assert ws.records.audit_log(action="case.photos.from_lead")


def _walk(page, ids: dict[str, int], shots: Path, expect) -> None:
    """The desk as a person works it (signed in as ``inv``)."""

    def shot(name: str) -> None:
        """A screenshot once the page has finished running and its pictures are in."""
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        page.wait_for_load_state("networkidle")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        page.screenshot(path=str(shots / name), full_page=True)

    page.locator('[data-testid="stSidebar"]').get_by_role("link",
                                                          name="Review leads").click()
    expect(page.get_by_role("heading", name="Review leads")).to_be_visible()
    table = page.get_by_test_id("stDataFrame").first
    expect(page.get_by_text("3 lead(s). Click a row")).to_be_visible()
    page.wait_for_load_state("networkidle")
    shot("1-review-desk-queue.png")

    def click_row(k: int) -> None:
        """Tick row ``k`` (0-based) by its row marker, as a person clicks it."""
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 16, box["y"] + HEADER_PX + ROW_PX * k + ROW_PX / 2)

    def heading(case_id: int, name: str):
        return page.get_by_role("heading", name=f"#{case_id} {name}")

    # filter: only the CCTV sighting is left, and it is the lead shown
    source = page.get_by_test_id("stMultiSelect").filter(has_text="Source")
    source.click()
    page.get_by_role("option", name="cctv").click()
    expect(page.get_by_text("1 lead(s) of 3")).to_be_visible()
    expect(page.get_by_text("camera: Gate 3")).to_be_visible()
    page.keyboard.press("Escape")
    shot("2-filtered-by-source.png")
    source.locator("input").focus()
    page.keyboard.press("Backspace")  # the filter taken off again
    page.keyboard.press("Escape")
    expect(page.get_by_text("3 lead(s). Click a row")).to_be_visible()
    page.get_by_role("heading", name="Review leads").click()  # the dropdown closed

    # open a lead by clicking its row (the top row is open at first: click another)
    second = next(i for i in (ids["ben_lead"], ids["madonna_lead"], ids["cctv_lead"])
                  if ids[f"row_{i}"] == 1)
    second_case = ids["ben"] if second == ids["ben_lead"] else ids["madonna"]
    click_row(1)
    expect(heading(second_case, "Ben Test" if second_case == ids["ben"]
                   else "Madonna Test")).to_be_visible()
    shot("3-lead-opened-by-click.png")
    click_row(1)  # untick it again

    # bulk reject: tick Madonna's two leads, say why, reject both
    order = sorted((i for i in (ids["ben_lead"], ids["madonna_lead"], ids["cctv_lead"])),
                   key=lambda i: ids[f"row_{i}"])
    for lead in (ids["madonna_lead"], ids["cctv_lead"]):
        click_row(order.index(lead))
    bulk = page.get_by_test_id("stExpander").filter(has_text="Reject several leads")
    expect(bulk.get_by_role("button", name="Reject 2 lead(s)")).to_be_visible()
    bulk.get_by_label("Why (kept on each lead)").fill("not her: another woman")
    bulk.get_by_label("Why (kept on each lead)").press("Enter")
    shot("4-bulk-reject-two-leads.png")
    bulk.get_by_role("button", name="Reject 2 lead(s)").click()
    expect(page.get_by_text("2 lead(s) rejected.")).to_be_visible()
    expect(page.get_by_text("1 lead(s). Click a row")).to_be_visible()
    shot("5-bulk-rejected.png")

    # confirm Ben's lead (the one left) and add the searched face to his case
    expect(heading(ids["ben"], "Ben Test")).to_be_visible()
    page.get_by_label("Note (what you checked, why)").fill("same ears and jaw line")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text(f"Lead {ids['ben_lead']}: confirmed.")).to_be_visible()
    add = page.get_by_role("button", name=f"Add this face to case #{ids['ben']}")
    expect(add).to_be_visible()
    shot("6-confirmed-add-face.png")
    add.click()
    expect(page.get_by_text(f"Face added to case #{ids['ben']}")).to_be_visible()
    shot("7-face-added-to-case.png")

    # the lead's link opens its case page, with the new photo and the lead
    page.get_by_role("button", name=f"Open case #{ids['ben']}").click()
    expect(page.get_by_role("heading", name=f"#{ids['ben']} Ben Test")).to_be_visible()
    expect(page.get_by_role("link", name="Review this record's leads")).to_be_visible()
    page.wait_for_load_state("networkidle")
    shot("8-case-page.png")
    assert page.get_by_text("None", exact=True).count() == 0
