"""Found children beside missing reports (issue 21): matched both ways on save, duplicates caught
at the door, drives, merge. Real photos, real weights, real Chroma and SQLite in tmp folders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from findme.cases import leads
from findme.cases.crossleads import crossmatch
from findme.cases.duplicates import duplicate_pairs, merge_cases
from findme.cases.records import CaseDetails, RecordError
from findme.cases.registry import DuplicateSuspected, PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.workspace import Workspace

from .conftest import usable_photos

BASIS = "duty of care (Children's Home, intake register 44)"


def _inputs(paths: list[Path]) -> list[PhotoInput]:
    return [PhotoInput(p.name, p.read_bytes()) for p in paths]


def _found(name: str = "unknown", **kw: object) -> CaseDetails:
    return CaseDetails(name, kind="found", lawful_basis=BASIS, found_place="Central station",
                       found_at=dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC),
                       institution="Children's Home", institution_contact="+1 555 0100",
                       age_min=8, age_max=10, **kw)  # type: ignore[arg-type]


def _missing(name: str, **kw: object) -> CaseDetails:
    return CaseDetails(name, consent_recorded=True, guardian_contact="parent@example.org",
                       **kw)  # type: ignore[arg-type]


@pytest.fixture
def person(celeb5: Path, ws_settings: Settings) -> tuple[list[Path], list[Path]]:
    """One celebrity's photos split in two: (missing-report photos, found-child photos)."""
    people = identities(celeb5 / "train")
    photos = usable_photos(people["madonna"], ws_settings, 4)
    assert len(photos) == 4
    return photos[:2], photos[2:]


def test_found_record_needs_a_lawful_basis_and_no_guardian(workspace: Workspace,
                                                           person: tuple) -> None:
    _, found = person
    with pytest.raises(RecordError, match="lawful basis"):
        enroll_case(CaseDetails("unknown", kind="found", consent_recorded=True),
                    _inputs(found), workspace.records, workspace.store, workspace.settings)
    with pytest.raises(RecordError, match="guardian"):
        enroll_case(_found(guardian_contact="mum"), _inputs(found), workspace.records,
                    workspace.store, workspace.settings)
    assert workspace.records.list_cases(kind=None) == []


@pytest.mark.parametrize("found_first", [True, False])
def test_paired_on_save_from_either_side_with_one_lead(workspace: Workspace, person: tuple,
                                                       found_first: bool, celeb5: Path) -> None:
    """A child registered as missing from some photos and as found from others is paired when
    the second record is saved, whichever side comes first, with one cross-match lead."""
    ws = workspace
    missing_photos, found_photos = person
    steps = [("found", _found(), found_photos), ("missing", _missing("Madonna C."),
                                                  missing_photos)]
    if not found_first:
        steps.reverse()
    results = {kind: enroll_case(details, _inputs(photos), ws.records, ws.store, ws.settings,
                                 actor="rita")
               for kind, details, photos in steps}
    case_id, found_id = results["missing"].case_id, results["found"].case_id
    assert ws.records.get_case(found_id).kind == "found"
    assert ws.records.get_case(found_id).status == "in_care"
    assert ws.records.get_case(found_id).label == f"F-{found_id}"
    assert results[steps[0][0]].cross_pairs == []
    pairs = results[steps[1][0]].cross_pairs
    assert [(p.case_id, p.found_id) for p in pairs] == [(case_id, found_id)]
    assert pairs[0].new and pairs[0].decision in ("match", "possible")
    made = ws.records.leads()
    assert len(made) == 1 and made[0].found_id == found_id and made[0].case_id == case_id
    assert made[0].found_photo_id in {p.id for p in ws.records.photos(found_id)}
    assert made[0].photo_id in {p.id for p in ws.records.photos(case_id)}
    # adding photos searches again: the pair keeps its one lead
    more = usable_photos(identities(celeb5 / "val")["madonna"],
                         ws.settings, 1)
    from findme.cases.registry import add_photos

    add_photos(found_id, _inputs(more), ws.records, ws.store, ws.settings)
    assert len(ws.records.leads()) == 1


def test_stranger_found_record_pairs_with_nobody(workspace: Workspace, celeb5: Path,
                                                 ws_settings: Settings) -> None:
    ws = workspace
    people = identities(celeb5 / "train")
    for name in ("madonna", "elton_john", "ben_afflek"):
        enroll_case(_missing(name), _inputs(usable_photos(people[name], ws_settings, 2)),
                    ws.records, ws.store, ws.settings)
    distractors = sorted((celeb5.parent / "distractors").glob("*.jpg"))
    stranger = usable_photos(distractors, ws_settings, 1)
    result = enroll_case(_found(), _inputs(stranger), ws.records, ws.store, ws.settings)
    assert result.cross_pairs == []
    assert ws.records.leads() == []
    assert crossmatch(ws.records, ws.store, ws.settings).pairs == []


def test_double_registration_is_caught_before_it_is_saved(workspace: Workspace,
                                                          person: tuple) -> None:
    ws = workspace
    first_photos, second_photos = person
    first = enroll_case(_missing("Asha K."), _inputs(first_photos), ws.records, ws.store,
                        ws.settings, actor="rita", allow_duplicate=False)
    before = ws.records.counts()
    with pytest.raises(DuplicateSuspected) as caught:
        enroll_case(_missing("Asha Kumari"), _inputs(second_photos), ws.records, ws.store,
                    ws.settings, actor="sam", allow_duplicate=False)
    dup = caught.value.duplicates[0]
    assert (dup.case_id, dup.name, dup.registered_by) == (first.case_id, "Asha K.", "rita")
    assert f"#{first.case_id}, Asha K., registered today by rita" in str(caught.value)
    assert ws.records.counts()["cases"] == before["cases"]
    assert ws.records.counts()["photos"] == before["photos"]
    # a found record is another side: no duplicate there, and the door stays per side
    enroll_case(_found(), _inputs(second_photos), ws.records, ws.store, ws.settings,
                allow_duplicate=False)
    # "add these photos to it"
    added = enroll_case(_missing("Asha Kumari"), _inputs(second_photos), ws.records, ws.store,
                        ws.settings, actor="sam", duplicate_of=first.case_id)
    assert added.case_id == first.case_id
    assert len(ws.records.photos(first.case_id)) == 4
    assert ws.records.audit_log(action="case.duplicate.added")
    # "register anyway" is audited with the suspected record
    anyway = enroll_case(_missing("Asha Kumari"), _inputs(second_photos), ws.records,
                         ws.store, ws.settings, actor="sam", allow_duplicate=True)
    entry = ws.records.audit_log(action="case.duplicate.allowed")[0]
    assert entry["target"] == f"case:{anyway.case_id}" and f"case:{first.case_id}" in \
        entry["detail"]
    pairs = duplicate_pairs(ws.records, ws.store, ws.settings)
    assert [(p.case_id, p.other_id) for p in pairs["missing"]] == [(first.case_id,
                                                                    anyway.case_id)]


def test_crossmatch_drive_is_idempotent_and_confirming_links(workspace: Workspace,
                                                             celeb5: Path,
                                                             ws_settings: Settings) -> None:
    ws = workspace
    people = identities(celeb5 / "train")
    found_ids, missing_ids = {}, {}
    for name in ("madonna", "elton_john"):
        photos = usable_photos(people[name], ws_settings, 4)
        # found first, then missing without searching on save: the drive must find them
        found_ids[name] = ws.records.create_case(_found(), "t")
        from findme.cases.registry import check_photo, store_prepared

        store_prepared(found_ids[name], [check_photo(p, ws_settings)  # type: ignore[misc]
                                         for p in _inputs(photos[2:])],
                       ws.records, ws.store, ws_settings)
        missing_ids[name] = ws.records.create_case(_missing(name), "t")
        store_prepared(missing_ids[name], [check_photo(p, ws_settings)  # type: ignore[misc]
                                           for p in _inputs(photos[:2])],
                       ws.records, ws.store, ws_settings)
    seen: list[tuple[int, int]] = []
    first = crossmatch(ws.records, ws.store, ws.settings,
                       progress=lambda done, total: seen.append((done, total)))
    got = {(p.case_id, p.found_id) for p in first.pairs}
    assert got == {(missing_ids[n], found_ids[n]) for n in found_ids}
    assert first.new_leads == 2 and seen and seen[-1][0] == seen[-1][1]
    scores = [p.score for p in first.pairs]
    assert scores == sorted(scores, reverse=True)
    second = crossmatch(ws.records, ws.store, ws.settings)
    assert second.new_leads == 0
    assert [p.as_dict() for p in second.pairs] == [p.as_dict() for p in first.pairs]
    assert len(ws.records.leads()) == 2

    lead = next(lead for lead in ws.records.leads()
                if lead.found_id == found_ids["madonna"])
    outcome = leads.review(ws.records, lead.id, "rita", "confirm")
    assert outcome.status == "confirmed" and outcome.case_marked_found
    assert ws.records.get_case(missing_ids["madonna"]).status == "found"
    child = ws.records.get_case(found_ids["madonna"])
    assert (child.status, child.linked_case_id) == ("identified", missing_ids["madonna"])
    assert ws.records.audit_log(target=f"case:{found_ids['madonna']}", action="case.status")


def test_merge_keeps_every_photo_and_both_numbers(workspace: Workspace,
                                                  person: tuple) -> None:
    ws = workspace
    a_photos, b_photos = person
    a = enroll_case(_missing("Asha K."), _inputs(a_photos), ws.records, ws.store, ws.settings)
    b = enroll_case(_missing("Asha Kumari"), _inputs(b_photos), ws.records, ws.store,
                    ws.settings)
    photo_ids = {p.id for p in ws.records.photos(a.case_id) + ws.records.photos(b.case_id)}
    moved = merge_cases(ws.records, ws.store, a.case_id, b.case_id, actor="rita")
    assert moved == 2
    assert {p.id for p in ws.records.photos(a.case_id)} == photo_ids
    with pytest.raises(RecordError):
        ws.records.get_case(b.case_id)
    meta = {m: ws.store.metadata(m) for m in ws.settings.models}
    for m in ws.settings.models:
        assert {meta[m][p]["case_id"] for p in photo_ids} == {a.case_id}
    log = ws.records.audit_log(action="case.merge")
    assert {e["target"] for e in log} == {f"case:{a.case_id}", f"case:{b.case_id}"}
    # the merged number is never handed out again
    c = ws.records.create_case(_missing("Next Child"))
    assert c > b.case_id
    # erasing the merged record erases every photo, the ones kept in the old folder too
    from findme.cases.registry import delete_case

    delete_case(a.case_id, ws.records, ws.store, ws.settings)
    assert not [p for p in ws.settings.photos_dir.rglob("*")], "nothing left of either record"


def test_migration_upgrades_an_existing_database_keeping_every_row(
        ws_settings: Settings) -> None:
    """A database at 0013 with a case, a photo and a lead upgrades to found records: every row
    kept, every case a missing one, the lead's found side empty, ids never reused."""
    import sqlite3

    from findme.cases import records as rec

    engine = rec._engine(ws_settings.db_url)
    ws_settings.data_dir.mkdir(parents=True, exist_ok=True)
    rec.migrate(engine, "0013")
    from sqlalchemy import text

    n = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:  # rows as the 0013 schema holds them
        for sql in (
                "INSERT INTO cases (id, name, consent_recorded, status, created_at, updated_at)"
                " VALUES (1, 'Old Child', 1, 'open', :n, :n), (2, 'Erased', 1, 'open', :n, :n)",
                "INSERT INTO photos (id, case_id, file_path, sha256, status, created_at) "
                "VALUES (1, 1, 'photos/1/x.jpg', 'ab', 'ready', :n)",
                "INSERT INTO probes (id, source, faces, created_at) VALUES (1, 'photo', 1, :n)",
                "INSERT INTO leads (id, probe_id, case_id, photo_id, fused_score, decision, "
                "status, created_at) VALUES (1, 1, 1, 1, 0.9, 'match', 'new', :n)",
                "DELETE FROM cases WHERE id = 2"):
            conn.execute(text(sql), {"n": n})
    engine.dispose()
    case_id, photo, lead, erased = 1, 1, 1, 2

    records = rec.open_records(ws_settings)
    case = records.get_case(case_id)
    assert (case.kind, case.status, case.name, case.label) == ("missing", "open", "Old Child",
                                                               f"#{case_id}")
    assert [p.id for p in records.photos(case_id)] == [photo]
    assert records.photos(case_id)[0].age_at_photo is None
    (row,) = records.leads()
    assert (row.id, row.case_id, row.found_id, row.photo_id) == (lead, case_id, None, photo)
    with sqlite3.connect(ws_settings.data_dir / "findme.db") as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'leads'").fetchone()[0]
        assert "AUTOINCREMENT" in sql
    found = records.create_case(_found(), "t")
    assert found > erased and records.get_case(found).status == "in_care"


def test_found_record_past_retention_is_erased_leaving_nothing_on_disk(
        ws_settings: Settings, person: tuple) -> None:
    """An identified found record untouched past FINDME_FOUND_RETENTION_DAYS is erased by the
    sweep (as a case is): no row, photo, vector, lead or text of it anywhere in the folder."""
    from dataclasses import replace

    from findme.cases.found import expired, sweep_retention
    from findme.workspace import open_workspace

    from .test_erasure import find_text, find_vector

    missing_photos, found_photos = person
    settings = replace(ws_settings, found_retention_days=30)
    marks = "Retention-Probe scar above the left eyebrow"
    with open_workspace(settings) as ws:
        case = enroll_case(_missing("Kept Missing"), _inputs(missing_photos), ws.records,
                           ws.store, settings)
        child = enroll_case(_found(marks=marks, languages="Retention-Tongue"),
                            _inputs(found_photos), ws.records, ws.store, settings)
        (lead,) = ws.records.leads()
        assert lead.found_id == child.case_id
        ids = [o.photo_id for o in child.photos if o.accepted]
        vectors = {m: ws.store.vectors(m, ids) for m in settings.models}
        assert find_text(settings.data_dir, marks)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
        assert expired(ws.records, settings, later) == []  # still in care: kept
        ws.records.set_case_status(child.case_id, "identified", "rita")
        assert expired(ws.records, settings) == []  # not yet past retention
        assert sweep_retention(ws.records, ws.store, settings, later) == [child.case_id]
        assert ws.records.list_cases(kind="found") == [] and ws.records.leads() == []
        assert ws.records.get_case(case.case_id).status == "open"
        assert ws.records.audit_log(action="case.erase")[0]["actor"] == "retention"
        for model in settings.models:
            assert not set(ids) & ws.store.ids(model)
    for text in (marks, "Retention-Tongue"):
        assert find_text(settings.data_dir, text) == [], text
    for by_id in vectors.values():
        for vec in by_id.values():
            assert find_vector(settings.data_dir, vec) == []
    assert not (settings.photos_dir / str(child.case_id)).exists()


def test_cross_lead_view_and_contacts_by_role(workspace: Workspace, person: tuple) -> None:
    """A reviewer sees both sides with the ages; a guardian's contact needs cases.contact (a
    viewer or a shelter never gets it), an institution's contact is shown with the record."""
    from findme.cases.crossleads import cross_view
    from findme.cases.found import contact_for, may_register

    ws = workspace
    missing_photos, found_photos = person
    case = enroll_case(_missing("Madonna C."), [
        PhotoInput(p.name, p.read_bytes(), age_at_photo=6.0) for p in missing_photos],
        ws.records, ws.store, ws.settings)
    child = enroll_case(_found(), _inputs(found_photos), ws.records, ws.store, ws.settings)
    (pair,) = child.cross_pairs
    view = cross_view(ws.records, pair.lead_id)  # type: ignore[arg-type]
    assert (view.case.id, view.found.id) == (case.case_id, child.case_id)
    assert view.case_photo_path and view.found_photo_path
    assert view.case_age == 6.0 and view.found_age is not None
    assert view.age_gap_years == pytest.approx(view.found_age - 6.0)
    assert pair.age_gap_years == pytest.approx(view.age_gap_years, abs=0.01)
    missing = ws.records.get_case(case.case_id)
    found = ws.records.get_case(child.case_id)
    for role in ("viewer", "shelter", None):
        shown = contact_for(missing, role)
        assert shown.contact is None and shown.hidden
        assert contact_for(found, role).contact == "+1 555 0100"
    assert contact_for(missing, "investigator").contact == "parent@example.org"
    assert may_register("investigator", "missing") and not may_register("viewer", "found")


def test_reconcile_gives_old_vectors_their_kind(workspace: Workspace, person: tuple) -> None:
    """Vectors stored before found records existed carry only a case id: the start-up
    reconcile adds ``kind`` so one-side searches find them."""
    from findme.cases.registry import reconcile

    ws = workspace
    result = enroll_case(_missing("Old Vector"), _inputs(person[0]), ws.records, ws.store,
                         ws.settings)
    ids = [o.photo_id for o in result.photos if o.accepted]
    for m in ws.settings.models:  # as a 0013 store holds them
        vectors = ws.store.vectors(m, ids)
        ws.store.collection(m).delete(ids=[str(i) for i in ids])
        ws.store.collection(m).add(ids=[str(i) for i in ids],
                                   embeddings=[vectors[i] for i in ids],
                                   metadatas=[{"case_id": result.case_id}] * len(ids))
        assert all("kind" not in ws.store.metadata(m)[i] for i in ids)
    reconcile(ws.records, ws.store, ws.settings)
    for m in ws.settings.models:
        meta = ws.store.metadata(m)
        assert {meta[i]["kind"] for i in ids} == {"missing"}


def test_a_photo_search_finds_missing_children_only_even_when_found_faces_crowd(
        workspace: Workspace, celeb5: Path, ws_settings: Settings) -> None:
    """A photo from the public asks *is this a missing child?*: a found record of the same
    child never appears among the matches, and its faces, nearer than the missing case's,
    do not push the missing case out of the candidates (one candidate per model here)."""
    from dataclasses import replace

    from findme.faces.image import load_image
    from findme.search.matcher import Matcher

    ws = workspace
    photos = usable_photos(identities(celeb5 / "train")["madonna"], ws_settings, 4)
    probe = identities(celeb5 / "val")["madonna"][0]
    case = enroll_case(_missing("Madonna Test"), _inputs(photos[:1]), ws.records, ws.store,
                       ws.settings)
    found = enroll_case(_found(), _inputs(photos[1:4]), ws.records, ws.store, ws.settings)
    matcher = Matcher(ws.records, ws.store, replace(ws.settings, search_candidates=1))
    assert matcher.gallery_faces() == 1  # the missing side's faces only
    (face,) = matcher.search_image(load_image(probe, ws.settings)).faces
    assert [m.case_id for m in face.matches] == [case.case_id]
    assert found.case_id not in [m.case_id for m in face.matches]
