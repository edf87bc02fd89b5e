"""The Search page's words (issue 22): a headline per face, NO MATCH rows folded away, each
decision with what it promises, long file names shortened and never headings, and a history of
who searched what (no faces kept). Unit tests, then the page with ``AppTest`` on real photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.search.decision import Decision
from findme.search.matcher import Match
from findme.ui import state
from findme.ui.search_history import REF_LIMIT, lead_words, photo_ref, split_ref
from findme.ui.search_words import headline, promise, short_name
from findme.ui.text import safe
from tests.conftest import usable_photos
from tests.pages_helpers import make_user, open_page, texts


def _match(decision: str, rate: float | None) -> Match:
    return Match(case_id=3, name="Kid", score=0.9, scores={}, decision=Decision(decision),
                 photo_id=1, box=(0, 0, 9, 9), stranger_rate=rate)


def test_headlines_and_promises() -> None:
    assert headline([]).text == "No registered child is close to this face."
    assert headline([_match("none", None)]).kind == "none"
    assert headline([_match("possible", 0.05)]).text == "Possible match: needs review."
    assert headline([_match("match", 1e-4)]).kind == "match"
    assert promise(_match("match", None)) == (
        "match: a person in no case scores this high in fewer than 1 search in 1,000")
    assert "about 1 search in 10,000" in promise(_match("match", 1e-4))
    assert "up to 1 search in 10" in promise(_match("possible", None))
    assert "about 1 search in 20;" in promise(_match("possible", 0.05))
    assert promise(_match("none", 0.5)).startswith("no match")


def test_long_names_are_shortened_in_the_middle() -> None:
    long = "https___images.example.org_" + "x" * 200 + "_child-photo.jpg"
    short = short_name(long)
    assert len(short) == 80 and short.endswith("child-photo.jpg") and "…" in short
    assert short_name("a.jpg") == "a.jpg" and short_name("a\nb.jpg") == "a b.jpg"
    assert split_ref("x (1).jpg (by anna)") == ("x (1).jpg", "anna")
    assert split_ref("clip.mp4") == ("clip.mp4", None) and split_ref(None) == ("", None)
    # a long file name ending in "(by admin)" cannot name another searcher: the name is cut,
    # never the real user
    spoof = "a" * 489 + " (by admin)" + ".jpg"
    ref = photo_ref(spoof, "api:partner")
    assert len(ref) == REF_LIMIT and split_ref(ref) == (spoof[:len(ref) - 17], "api:partner")
    assert split_ref(photo_ref("x (by admin).jpg", "rita")) == ("x (by admin).jpg", "rita")
    assert lead_words(()) == "none"
    assert lead_words(((4, 2, "possible", "new"),)) == "lead 4 → #2 (possible, new)"


@pytest.mark.heavy
def test_the_page_heads_each_face_folds_no_match_and_keeps_a_history(
        app_data: Settings, celeb5: Path) -> None:
    ws = state.workspace(app_data)
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    ben = enroll_case(CaseDetails("Ben Test", consent_recorded=True),
                      [PhotoInput(p.name, p.read_bytes())
                       for p in usable_photos(train["ben_afflek"], app_data, 2)],
                      ws.records, ws.store, app_data)
    make_user(app_data, "inv", "investigator")
    make_user(app_data, "shel", "shelter")
    long_name = "from-a-forwarded-message-" + "0123456789" * 8 + ".jpg"
    probe = usable_photos(val["ben_afflek"], app_data, 1)[0]
    stranger = usable_photos(val["madonna"], app_data, 1)[0]

    at = open_page("search", "inv")
    at.file_uploader(key="probe").set_value([(long_name, probe.read_bytes(), "image/jpeg"),
                                             (stranger.name, stranger.read_bytes(),
                                              "image/jpeg")])
    at.button(key="search").click()
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert long_name not in shown and safe(short_name(long_name)) in shown
    assert all(long_name[:40] not in h.value for h in [*at.subheader, *at.header])
    assert "Possible match: needs review." in shown or "Match: a registered child" in shown
    assert "No registered child is close to this face." in shown  # the stranger's face
    assert safe("a person in no case scores this high") in shown
    ranked = [m.value for m in at.markdown if m.value.startswith("1. ")]
    assert ranked[0].startswith(f"1. **#{ben.case_id} Ben Test**")
    assert ":red-badge[MATCH]" in ranked[0] or ":orange-badge[POSSIBLE]" in ranked[0]
    folded = [e for e in at.expander if "scored lower: no match" in e.label]
    assert folded and any(":gray-badge[NO MATCH]" in m.value for m in folded[0].markdown)
    history = at.dataframe[-1].value
    assert list(history["who"]) == ["inv", "inv"] and set(history["faces"]) == {1}
    assert any(v.startswith("lead ") and f"#{ben.case_id}" in v for v in history["leads"])
    assert "none" in set(history["leads"])
    assert "None" not in history.to_csv()

    shelter = open_page("search", "shel")  # a shelter sees only its own searches
    assert "No searches yet." in texts(shelter)
