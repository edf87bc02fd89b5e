"""Every dashboard page with ``AppTest``: the sign-in gate, what each role sees, and the real
register / search / review work on real photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.cases import users
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.ui import state
from tests.pages_helpers import (
    LIVE_PAGE,
    PAGES,
    PASSWORD,
    make_user,
    open_page,
    register_widgets,
    signed_in,
    texts,
)

pytestmark = pytest.mark.heavy

#: page -> roles allowed (the README's permission table, page by page)
ACCESS = {
    "overview": set(users.ROLES),
    "register": {"admin", "investigator", "shelter"},
    "cases": set(users.ROLES),
    "search": {"admin", "investigator", "reviewer", "shelter"},
    "review": {"admin", "investigator", "reviewer"},
    # AppTest has no WebRTC: see the browser test
    "live": {"admin", "investigator", "reviewer", "shelter"},
    "alerts": set(users.ROLES),
    "cctv": {"admin", "investigator", "reviewer", "shelter"},
    "evaluation": set(users.ROLES),
    "admin": {"admin"},
}
LINKS = {"overview": "Overview", "register": "Register a case", "cases": "Cases",
         "search": "Search photos", "review": "Review leads", "alerts": "Alerts",
         "cctv": "CCTV footage", "live": "Live camera",
         "evaluation": "Evaluation",
         "admin": "Admin"}


def _upload(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/jpeg")


def _register(at, name: str, photos: list[Path], consent: bool = True):
    """As a person does it: photos first (each is checked), then the details form."""
    register_widgets(at).photos.set_value([_upload(p) for p in photos])
    at.run()
    form = register_widgets(at)
    form.name.input(name)
    if consent:
        form.consent.check()
    form.save.click()
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", [*PAGES, "live"])
def test_signed_out_sees_only_sign_in(app_data: Settings, page: str) -> None:
    make_user(app_data, "boss", "admin")
    at = open_page("overview")
    path = LIVE_PAGE if page == "live" else PAGES[page]
    if path:
        at.switch_page(path)
        at.run()
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert not at.get("page_link") and not at.dataframe and not at.metric
    assert not at.file_uploader


def test_first_run_form_creates_one_admin_then_sign_in(app_data: Settings) -> None:
    at = open_page("overview")
    assert "Create the first admin account" in texts(at)
    at.text_input(key="first_name").input("boss")
    at.text_input(key="first_pw").input(PASSWORD)
    at.text_input(key="first_pw2").input(PASSWORD)
    at.text_input(key="first_code").input("WRONG123")
    at.button[0].click()
    at.run()
    assert any("setup code is wrong" in e.value for e in at.error)
    assert users.count_users(state.workspace(app_data).records) == 0
    code = users.setup_code(app_data).read_text().strip()
    at.text_input(key="first_code").input(code.lower())
    at.button[0].click()
    at.run()
    assert not (app_data.data_dir / "first-admin-code.txt").exists(), "the code is used up"
    assert [s.value for s in at.subheader] == ["Sign in"]  # the form is gone for good
    records = state.workspace(app_data).records
    assert [(u.username, u.role) for u in users.list_users(records)] == [("boss", "admin")]
    at.text_input(key="signin_name").input("boss")
    at.text_input(key="signin_pw").input(PASSWORD)
    at.button[0].click()
    at.run()
    assert [m.label for m in at.metric][:2] == ["Open cases", "Leads waiting for review"]
    assert records.audit_log(actor="boss", action="signin")
    at.button(key="sign_out").click()
    at.run()
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert records.audit_log(actor="boss", action="signout")


def test_wrong_passwords_lock_the_account(app_data: Settings) -> None:
    make_user(app_data, "ana", "reviewer")
    at = open_page("overview")
    for _ in range(app_data.lockout_attempts):
        at.text_input(key="signin_name").input("ana")
        at.text_input(key="signin_pw").input("wrong password!")
        at.button[0].click()
        at.run()
    assert "locked" in texts(at)
    at.text_input(key="signin_pw").input(PASSWORD)  # even the right password is refused now
    at.button[0].click()
    at.run()
    assert "too many failed attempts" in texts(at) and not at.metric


@pytest.mark.parametrize("role", users.ROLES)
def test_each_role_sees_what_the_permission_table_allows(app_data: Settings, role: str) -> None:
    make_user(app_data, f"u-{role}", role)
    for page in PAGES:
        at = open_page(page, f"u-{role}")
        refused = "does not allow this page" in texts(at)
        assert refused == (role not in ACCESS[page]), (role, page)
        links = {link.proto.label for link in at.get("page_link")}
        assert links == {LINKS[p] for p in [*PAGES, "live"] if role in ACCESS[p]}, (role, page)
    if role not in ACCESS["live"]:
        at = open_page("overview", f"u-{role}")
        at.switch_page(LIVE_PAGE)
        at.run()
        assert "does not allow this page" in texts(at) and not at.exception


def test_register_search_review_with_real_photos(app_data: Settings, celeb5: Path) -> None:
    people = identities(celeb5 / "train")
    make_user(app_data, "inv", "investigator")
    at = _register(open_page("register", "inv"), "Ben Test", people["ben_afflek"][1:3])
    assert any("registered with" in s.value for s in at.success), texts(at)
    ws = state.workspace(app_data)
    (case,) = ws.records.list_cases()
    assert case.name == "Ben Test" and case.consent_recorded
    ready = ws.records.photos(case.id, status="ready")
    assert ready and all(p.id in ws.store.ids(m) for p in ready for m in app_data.models)
    _register(open_page("register", "inv"), "Madonna Test", people["madonna"][:2])

    at = open_page("search", "inv")
    probe = identities(celeb5 / "val")["ben_afflek"][0]
    at.file_uploader(key="probe").set_value([_upload(probe)])
    at.button(key="search").click()  # one form: the photo goes with the Search press
    at.run()
    ranked = [m.value for m in at.markdown if m.value.startswith(("1. ", "2. "))]
    assert ranked[0].startswith(f"1. **#{case.id} Ben Test**"), ranked
    assert "red-badge[MATCH" in ranked[0] or "orange-badge[POSSIBLE" in ranked[0]
    assert at.get("download_button")  # CSV export

    at = open_page("review", "inv")
    at.text_area[0].input("same person: ears, jaw line")
    at.checkbox[0].check()
    next(b for b in at.button if b.label == "Confirm").click()
    at.run()
    assert any("confirmed" in s.value for s in at.success)
    assert ws.records.get_case(case.id).status == "found"
    actions = {e["action"] for e in ws.records.audit_log(actor="inv")}
    assert {"case.create", "lead.view", "lead.confirm", "case.status"} <= actions


def _truncated_jpeg(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


def test_bad_uploads_show_an_error_and_store_nothing(app_data: Settings, face_photo: Path) -> None:
    make_user(app_data, "inv", "investigator")
    at = open_page("register", "inv")
    register_widgets(at).photos.set_value([
        ("notes.jpg", b"this is not an image", "image/jpeg"),
        ("cut.jpg", _truncated_jpeg(face_photo), "image/jpeg")])
    at.run()
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # names shown escaped
    assert "notes.jpg" in errors and "cut.jpg" in errors
    form = register_widgets(at)
    form.name.input("Nobody")
    form.consent.check()
    form.save.click()
    at.run()
    assert any("Not saved" in e.value for e in at.error)
    ws = state.workspace(app_data)
    counts = ws.records.counts()
    assert counts["cases"] == 0 and counts["photos"] == 0
    assert not any(app_data.photos_dir.rglob("*.jpg")) if app_data.photos_dir.exists() else True

    at = open_page("search", "inv")
    at.file_uploader(key="probe").set_value([("x.png", b"\x89PNG\r\n\x1a\n broken", "image/png")])
    at.button(key="search").click()
    at.run()
    assert any("x\\.png" in e.value for e in at.error)  # shown as text, escaped
    assert ws.records.counts()["probes"] == 0


def test_form_values_are_checked(app_data: Settings, face_photo: Path) -> None:
    make_user(app_data, "inv", "investigator")
    at = open_page("register", "inv")
    register_widgets(at).photos.set_value([_upload(face_photo)])
    at.run()
    register_widgets(at).consent.check()
    register_widgets(at).save.click()  # no name
    at.run()
    assert any("a name is required" in e.value for e in at.error)
    form = register_widgets(at)  # a refused form keeps its token: what was typed stays
    assert form.consent.value
    form.name.input("Child")
    form.consent.uncheck()
    form.save.click()
    at.run()
    assert any("consent" in e.value for e in at.error)
    assert state.workspace(app_data).records.counts()["cases"] == 0


def test_viewer_sees_no_contacts_or_photos(app_data: Settings, face_photo: Path) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case

    ws = state.workspace(app_data)
    enroll_case(CaseDetails("Kid", guardian_contact="+15550001111", consent_recorded=True),
                [PhotoInput("a.jpg", face_photo.read_bytes())], ws.records, ws.store, app_data)
    make_user(app_data, "vic", "viewer")
    make_user(app_data, "inv", "investigator")
    seen = open_page("cases", "vic")
    assert "+15550001111" not in texts(seen)
    assert "guardian contact" not in seen.dataframe[0].value.columns
    assert not seen.image and not seen.get("download_button")
    assert "Photos are hidden" in texts(seen)
    assert not [b for b in seen.button if b.label in ("Mark found", "Erase for good")]
    inv = open_page("cases", "inv")
    assert "+15550001111" in texts(inv)
    assert inv.get("download_button")
    views = ws.records.audit_log(action="case.view")
    assert {v["actor"] for v in views} == {"vic", "inv"}


def test_case_status_edit_and_erasure(app_data: Settings, face_photo: Path) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case

    ws = state.workspace(app_data)
    res = enroll_case(CaseDetails("Kid", consent_recorded=True),
                      [PhotoInput("a.jpg", face_photo.read_bytes())], ws.records, ws.store,
                      app_data)
    make_user(app_data, "boss", "admin")
    at = open_page("cases", "boss")
    at.button(key="status_closed").click()
    at.run()
    assert ws.records.get_case(res.case_id).status == "closed"
    assert at.dataframe[0].value.empty  # the default filter shows open cases only
    at.multiselect(key="filter_status").select("closed")
    at.run()
    at.text_input(key="erase_confirm").input("999")
    at.button(key="erase").click()
    at.run()
    assert any("does not match" in e.value for e in at.error)
    assert ws.records.counts()["cases"] == 1
    at.text_input(key="erase_confirm").input(str(res.case_id))
    at.button(key="erase").click()
    at.run()
    assert ws.records.counts()["cases"] == 0 and ws.records.counts()["photos"] == 0
    assert not any(m for m in app_data.models if ws.store.ids(m))


def test_admin_manages_users_and_reads_the_audit_log(app_data: Settings) -> None:
    make_user(app_data, "boss", "admin")
    at = open_page("admin", "boss")
    at.text_input(key="new_name").input("rita")
    at.selectbox(key="new_role").select("reviewer")
    at.text_input(key="new_pw").input(PASSWORD)
    next(b for b in at.button if b.label == "Add user").click()
    at.run()
    records = state.workspace(app_data).records
    assert users.get_user(records, "rita").role == "reviewer"
    at.selectbox(key="edit_user").select("rita")
    at.run()
    at.button(key="toggle_active").click()
    at.run()
    assert not users.get_user(records, "rita").active
    at.text_input(key="email_rita").input("rita@ngo.test")
    at.button(key="set_contact").click()
    at.run()
    assert users.get_user(records, "rita").email == "rita@ngo.test"  # alerts reach her
    at.selectbox(key="edit_user").select("boss")
    at.run()
    at.button(key="toggle_active").click()  # the last admin cannot disable itself
    at.run()
    assert any("last active admin" in e.value for e in at.error)
    log = at.dataframe[2].value
    assert {"user.add", "user.disable"} <= set(log["action"])
    status = at.dataframe[3].value
    assert "case database" in set(status["setting"])
    assert PASSWORD not in texts(at)


def test_two_person_rule_needs_two_reviewers(app_data: Settings, celeb5: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.config import reset_settings

    monkeypatch.setenv("FINDME_TWO_PERSON_RULE", "1")
    reset_settings()
    from findme.config import get_settings

    settings = get_settings()
    ws = state.workspace(settings)
    train = identities(celeb5 / "train")["ben_afflek"]
    res = enroll_case(CaseDetails("Ben", consent_recorded=True),
                      [PhotoInput(p.name, p.read_bytes()) for p in train[1:3]], ws.records,
                      ws.store, settings)
    from findme.faces.image import load_image

    probe = load_image(identities(celeb5 / "val")["ben_afflek"][0], settings)
    assert ws.search(probe, source="photo").lead_ids
    make_user(settings, "r1", "reviewer")
    make_user(settings, "r2", "reviewer")

    def confirm(reviewer: str):
        at = open_page("review", reviewer)
        next(b for b in at.button if b.label == "Confirm").click()
        at.run()
        return at

    confirm("r1")
    assert ws.records.leads()[0].status == "new"  # one of two
    again = confirm("r1")
    assert any("already reviewed" in e.value for e in again.error)
    assert ws.records.leads()[0].status == "new"
    confirm("r2")
    assert ws.records.leads()[0].status == "confirmed"
    assert ws.records.get_case(res.case_id).status == "open"  # found was not asked


def test_overview_counts_and_chart(app_data: Settings) -> None:
    make_user(app_data, "boss", "admin")
    at = open_page("overview", "boss")
    assert {m.label for m in at.metric} >= {"Open cases", "Leads waiting for review",
                                             "Matches this week", "Alerts sent this week"}
    assert at.get("plotly_chart")
    assert any(b.label == "Load the demo workspace" for b in at.button)


def test_alert_link_opens_its_lead(app_data: Settings) -> None:
    from streamlit.testing.v1 import AppTest

    from findme.cases.records import CaseDetails
    from tests.pages_helpers import ROOT

    records = state.workspace(app_data).records
    case = records.create_case(CaseDetails("Kid"))
    records.add_lead(None, case, None, [0, 0, 9, 9], 0.99, {}, "match")
    low = records.add_lead(None, case, None, [0, 0, 9, 9], 0.70, {}, "possible")
    make_user(app_data, "rita", "reviewer")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    signed_in(at, records, "rita")
    at.query_params["lead"] = str(low)
    at.run()
    at.switch_page(PAGES["review"])
    at.run()
    assert at.selectbox(key="lead_pick").value == low  # not the top of the queue


def test_user_text_is_shown_as_text_never_as_markdown(app_data: Settings,
                                                      face_photo: Path) -> None:
    """A case name with an image link (a tracking pixel) and a fake badge, and notes with a
    heading: shown escaped on the Cases page, so nothing renders and nothing is fetched."""
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.ui.text import safe

    ws = state.workspace(app_data)
    evil = "![x](http://127.0.0.1:9/pixel.png) :red-badge[MATCH 0.99]"
    enroll_case(CaseDetails(evil, description="# Found!\n<img src=x>", last_seen_place="**bold**",
                            consent_recorded=True),
                [PhotoInput("a.jpg", face_photo.read_bytes())], ws.records, ws.store, app_data)
    make_user(app_data, "vic", "viewer")
    seen = open_page("cases", "vic")
    shown = texts(seen)
    assert safe(evil) in shown and evil not in shown.replace(safe(evil), "")
    assert "\\!\\[x\\]\\(http" in shown and "\\:red\\-badge\\[MATCH" in shown
    assert "\\# Found\\! \\<img src\\=x\\>" in shown and "\\*\\*bold\\*\\*" in shown
    assert safe("a_b*c") == "a\\_b\\*c" and safe("line1\nline2") == "line1 line2"


def test_a_password_reset_ends_the_sessions_opened_before(app_data: Settings) -> None:
    """Someone signed in on a shared shelter PC is signed out once an admin resets the
    password (or the account's own new password is set)."""
    make_user(app_data, "sam", "investigator")
    at = open_page("cases", "sam")
    assert "Sign in" not in [s.value for s in at.subheader]
    records = state.workspace(app_data).records
    users.reset_password(records, "sam", "a brand new passphrase", "boss")
    at.run()
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert "user" not in at.session_state


def test_only_camera_managers_may_give_a_stream_url(app_data: Settings) -> None:
    """The server connects to a stream URL itself, so only ``cameras.manage`` may give one: a
    reviewer sees no URL field, and the scan service refuses a URL from such a user."""
    from findme.video import scans

    make_user(app_data, "rev", "reviewer")
    make_user(app_data, "inv", "investigator")
    assert not [t for t in open_page("cctv", "rev").text_input if t.key == "url"]
    assert [t for t in open_page("cctv", "inv").text_input if t.key == "url"]
    ws = state.workspace(app_data)
    with pytest.raises(ValueError, match="cameras.manage"):
        scans.start_uploads(ws, [], "rtsp://192.168.1.20/stream", "Gate", 1.0, None, "rev")
    assert scans.list_scans(ws.records) == []


def test_admins_export_cases_and_investigators_see_the_import_form(app_data: Settings) -> None:
    """The Register page offers the import form (checking only, by default); the Admin page
    prepares an export ZIP of every case and offers it for download (audited)."""
    import io
    import zipfile

    from findme.cases.records import CaseDetails

    make_user(app_data, "boss", "admin")
    make_user(app_data, "inv", "investigator")
    records = state.workspace(app_data).records
    records.create_case(CaseDetails(name="Exported Child", ref="EX-1", consent_recorded=True))
    at = open_page("register", "inv")
    assert at.checkbox(key="import_dry").value is True
    assert "Import many cases" in [e.label for e in at.expander][-1]
    at = open_page("admin", "boss")
    at.button(key="export_go").click()
    at.run()
    assert not at.exception, at.exception
    from findme.ui.page_state import SESSION_KEY, owner_of

    held = at.session_state[SESSION_KEY]  # the export belongs to boss in this workspace
    assert held.owner == owner_of(app_data.data_dir, "boss")
    data, n = held.values["export_zip"]


    assert n == 1
    text = zipfile.ZipFile(io.BytesIO(data)).read("cases.csv").decode()
    assert "EX-1,Exported Child" in text
    assert records.audit_log(actor="boss", action="cases.export")
