"""Erasing a case through the API leaves nothing on disk: no name, contact, searched file name,
photo, crop or vector, while the server runs and after it stops (as tests/test_erasure.py checks
for the registry itself)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from findme.cases.registry import PhotoInput, check_photo
from findme.config import Settings
from findme.evaluation.datasets import identities

from .api_server import add_key, findme, new_data_dir, running_api
from .conftest import usable_photos
from .test_erasure import find_text, find_vector

pytestmark = pytest.mark.heavy
NAME, PLACE, GUARDIAN = "Zuleika Api-Erasure", "Api Erasure Lane 4", "api-erasure@example.org"
UPLOAD = "zuleika-api-tip.jpg"


def test_erasure_through_the_api_leaves_nothing_on_disk(tmp_path: Path, settings: Settings,
                                                         celeb5: Path) -> None:
    data = new_data_dir(tmp_path, settings.weights_dir)
    investigator = add_key(data, "case-worker", "investigator")
    admin = add_key(data, "data-officer", "admin")
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    photos = usable_photos(train["madonna"], settings, 2)
    with running_api(data) as url:
        with httpx.Client(base_url=url, timeout=300,
                          headers={"Authorization": f"Bearer {investigator}"}) as c:
            kept = c.post("/api/v1/cases", data={"name": "Kept Api Child", "consent": "true"},
                          files=[("photos", (p.name, p.read_bytes()))
                                 for p in usable_photos(train["elton_john"], settings, 2)])
            assert kept.status_code == 201, kept.text
            made = c.post("/api/v1/cases", data={
                "name": NAME, "consent": "true", "last_seen_place": PLACE,
                "guardian_contact": GUARDIAN},
                files=[("photos", (p.name, p.read_bytes())) for p in photos])
            assert made.status_code == 201, made.text
            case_id = made.json()["case_id"]
            probe = val["madonna"][0]
            found = c.post("/api/v1/search",
                           files=[("photos", (UPLOAD, probe.read_bytes()))]).json()
            assert found["results"][0]["leads"], "the probe should make a lead with a crop"
            _error = c.delete(f"/api/v1/cases/{case_id}")
            assert _error.status_code == 403  # an investigator may not erase
        vectors = [vec for p in photos
                   for vec in check_photo(PhotoInput(p.name, p.read_bytes()),
                                          settings).item.vectors.values()]
        for text in (NAME, PLACE, GUARDIAN, UPLOAD):
            assert find_text(data, text), f"{text} is stored before erasure"
        assert find_vector(data, vectors[0]), "vectors are stored before erasure"

        with httpx.Client(base_url=url, timeout=300,
                          headers={"Authorization": f"Bearer {admin}"}) as c:
            gone = c.delete(f"/api/v1/cases/{case_id}")
            assert gone.status_code == 200 and gone.json() == {"erased": case_id}
            assert c.get(f"/api/v1/cases/{case_id}").status_code == 404
            assert c.delete(f"/api/v1/cases/{case_id}").status_code == 404
            again = c.post("/api/v1/search", files=[("photos", ("again.jpg",
                                                                 probe.read_bytes()))]).json()
            assert all(m["case_id"] != case_id for f in again["results"][0]["faces"]
                       for m in f["matches"])
            hits = c.post("/api/v1/search", files=[("photos", (
                "kept.jpg", val["elton_john"][0].read_bytes()))]).json()
            assert hits["results"][0]["faces"][0]["matches"][0]["case_id"] == \
                kept.json()["case_id"]
        for text in (NAME, PLACE, GUARDIAN, UPLOAD):  # while the server holds every file open
            assert find_text(data, text) == [], text
        for vec in vectors:
            assert find_vector(data, vec) == []
        assert not (data / "photos" / str(case_id)).exists()

    for text in (NAME, PLACE, GUARDIAN, UPLOAD):  # and after it let go of them
        assert find_text(data, text) == [], text
    for vec in vectors:
        assert find_vector(data, vec) == []
    # the API's search JSON is findme search --json's: the same faces, scores and decisions
    cli = findme(data, "search", "--json", "--no-leads", str(val["elton_john"][0]))
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["results"][0]["faces"] == hits["results"][0]["faces"]
    with sqlite3.connect(data / "findme.db") as db:
        erased = db.execute("SELECT actor FROM audit_log WHERE action = 'case.erase' AND "
                            "target = ?", (f"case:{case_id}",)).fetchall()
    assert erased == [("api:data-officer",)]
