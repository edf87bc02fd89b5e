"""Page state belongs to one workspace and one user; a form's submission counts once.

The pure parts (:func:`findme.ui.page_state.scoped`, :class:`OneTimeForm`) on plain dicts; the
pages with ``AppTest`` on real photos and real weights: a search and an export made in the demo
are gone after switching to *Real cases* (or after another person signs in at the same tab), a
demo result cannot make a lead in the real workspace, and a second click on *Register* makes no
second case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.ui.page_state import OneTimeForm, scoped
from tests.pages_helpers import (
    PASSWORD,
    make_user,
    open_page,
    register_widgets,
    signed_in,
    texts,
)


def test_page_state_belongs_to_one_workspace_and_one_user(tmp_path: Path) -> None:
    session: dict = {}
    mine = scoped(session, tmp_path / "data", "ana")
    mine["search_results"] = ["demo result"]
    assert scoped(session, tmp_path / "data" / ".." / "data", "ana") == {
        "search_results": ["demo result"]}, "one folder, two spellings: one workspace"
    assert scoped(session, tmp_path / "data" / "demo", "ana") == {}, "another workspace"
    assert scoped(session, tmp_path / "data", "ana") == {}, "switching back starts clean too"
    scoped(session, tmp_path / "data", "ana")["x"] = 1
    assert scoped(session, tmp_path / "data", "bob") == {}, "another user"
    assert list(session) == ["_page_state"], "one key of the session holds it all"


def test_a_form_submission_runs_once() -> None:
    state: dict = {}
    form = OneTimeForm(state, "register")
    first = form.token
    assert form.key("name") == f"register.name.{first}"
    calls: list[int] = []

    def save() -> int:
        calls.append(1)
        return len(calls)

    assert form.submit(first, save) == 1 and form.done == 1
    assert form.token != first and form.key("name") != f"register.name.{first}"
    assert form.submit(first, save) is None, "the same submission again"
    assert calls == [1]

    def broken() -> int:
        raise ValueError("no usable photo")

    second = form.token
    with pytest.raises(ValueError):
        form.submit(second, broken)
    assert form.token == second, "a failed submission keeps the form (and may be sent again)"
    assert form.submit(second, save) == 2 and calls == [1, 1]


def _upload(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/jpeg")


def _demo_with_two_cases(app_data: Settings, celeb5: Path):
    """The demo workspace (its folder makes the sidebar offer it) with two real cases."""
    from findme import demo
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.ui import state

    ws = state.workspace(demo.demo_settings(app_data))
    people = identities(celeb5 / "train")
    for name, person in (("DEMO · Ben", "ben_afflek"), ("DEMO · Madonna", "madonna")):
        enroll_case(CaseDetails(name, consent_recorded=True),
                    [PhotoInput(p.name, p.read_bytes()) for p in people[person][1:3]],
                    ws.records, ws.store, ws.settings)
    return ws


def _workspace(at, choice: str) -> None:
    at.radio(key="workspace_radio").set_value(choice)
    at.run()
    assert not at.exception, at.exception


def _ranked(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(("1. ", "2. ", "3. "))]


@pytest.mark.heavy
def test_demo_search_results_stay_in_the_demo(app_data: Settings, celeb5: Path) -> None:
    from findme.ui import state

    _demo_with_two_cases(app_data, celeb5)
    make_user(app_data, "inv", "investigator")
    make_user(app_data, "ida", "investigator")
    at = open_page("search", "inv")
    _workspace(at, "Demo")
    probe = identities(celeb5 / "val")["ben_afflek"][0]
    at.file_uploader(key="probe").set_value([_upload(probe)])
    at.button(key="search").click()
    at.run()
    assert not at.exception, at.exception
    ranked = _ranked(at)
    assert ranked and "DEMO · Ben" in ranked[0], texts(at)

    _workspace(at, "Real cases")
    assert "DEMO WORKSPACE" not in texts(at)
    assert not _ranked(at) and "DEMO" not in texts(at), texts(at)
    assert not [b for b in at.button if b.label == "Create lead"]
    assert not at.get("download_button"), "no export of the demo's results"
    real = state.workspace(app_data).records
    assert real.counts()["leads"] == 0

    _workspace(at, "Demo")  # back in the demo: a new start too
    assert not _ranked(at)

    # another person signing in at the same tab starts clean as well
    at.file_uploader(key="probe").set_value([_upload(probe)])
    at.button(key="search").click()
    at.run()
    assert _ranked(at)
    signed_in(at, real, "ida")
    at.run()
    assert not at.exception, at.exception
    assert not _ranked(at), "ida sees none of inv's results"


@pytest.mark.heavy
def test_a_demo_result_makes_no_lead_in_the_real_workspace(app_data: Settings,
                                                           celeb5: Path) -> None:
    """Acted on in another workspace, a result gives a sentence, never a database error, and
    writes nothing; in its own workspace it makes the lead."""
    from findme.cases.records import CaseDetails, RecordError
    from findme.ui import state
    from findme.ui.photo_search import Upload, create_lead, search_uploads

    demo_ws = _demo_with_two_cases(app_data, celeb5)
    real = state.workspace(app_data)
    real.records.create_case(CaseDetails("Real child", consent_recorded=True))  # case #1 too
    probe = identities(celeb5 / "val")["ben_afflek"][0]
    (found,) = search_uploads(demo_ws, [Upload(probe.name, probe.read_bytes())], "inv", 3)
    second = found.result.faces[0].matches[1]  # not made a lead of by the search itself
    with pytest.raises(RecordError, match="another workspace"):
        create_lead(real, found, 1, second, "inv")
    assert real.records.counts()["leads"] == 0
    before = demo_ws.records.counts()["leads"]
    lead = create_lead(demo_ws, found, 1, second, "inv")
    assert demo_ws.records.counts()["leads"] == before + 1
    assert create_lead(demo_ws, found, 1, second, "inv") == lead, "the same lead again"


@pytest.mark.heavy
def test_a_demo_export_is_not_offered_in_the_real_workspace(app_data: Settings,
                                                            celeb5: Path) -> None:
    from findme.cases.records import CaseDetails
    from findme.ui import state

    _demo_with_two_cases(app_data, celeb5)
    state.workspace(app_data).records.create_case(CaseDetails("Real child", ref="R-1",
                                                              consent_recorded=True))
    make_user(app_data, "boss", "admin")
    at = open_page("admin", "boss")
    _workspace(at, "Demo")
    at.button(key="export_go").click()
    at.run()
    assert [b.label for b in at.get("download_button") if "case(s)" in b.label][0].startswith(
        "Download 2 case(s)")
    _workspace(at, "Real cases")
    assert not [b for b in at.get("download_button") if "case(s)" in b.label], \
        "the demo's export is not offered in the real workspace"
    at.button(key="export_go").click()
    at.run()
    labels = [b.label for b in at.get("download_button") if "case(s)" in b.label]
    assert len(labels) == 1 and labels[0].startswith("Download 1 case(s)"), labels


@pytest.mark.heavy
def test_register_twice_makes_one_case(app_data: Settings, celeb5: Path) -> None:
    """A second click on *Register case* after success (or a rerun) saves nothing more: the
    form comes back empty, with the success and a link to the case."""
    from findme.ui import state

    make_user(app_data, "inv", "investigator")
    photos = identities(celeb5 / "train")["ben_afflek"][1:3]
    at = open_page("register", "inv")
    w = register_widgets(at)
    w.photos.set_value([_upload(p) for p in photos])
    at.run()
    w = register_widgets(at)
    w.name.input("Ben Twice")
    w.consent.check()
    w.save.click()
    at.run()
    assert not at.exception, at.exception
    records = state.workspace(app_data).records
    (case,) = records.list_cases()
    assert any("registered with" in s.value for s in at.success), texts(at)
    links = [link.proto for link in at.get("page_link") if "Open case" in link.proto.label]
    assert links and links[0].label == f"Open case #{case.id}", links

    register_widgets(at).save.click()  # the second click
    at.run()
    at.run()  # and a rerun
    assert not at.exception, at.exception
    assert len(records.list_cases()) == 1, "one case, not two"
    w = register_widgets(at)
    assert w.name.value == "" and not w.consent.value, "the form starts empty"
    assert PASSWORD not in texts(at)
