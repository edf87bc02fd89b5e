"""Matching on real photos: ranked, calibrated, decided; leads only for likely matches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings, get_settings
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.workspace import Workspace

from .conftest import encode, usable_photos


def _enroll(ws: Workspace, name: str, photos: list[Path]) -> int:
    return enroll_case(CaseDetails(name=name, consent_recorded=True), [PhotoInput(p.name,
                                                                                  p.read_bytes())
                                                for p in photos],
                       ws.records, ws.store, ws.settings).case_id


@pytest.mark.heavy
def test_celeb5_every_val_photo_finds_its_case(workspace: Workspace, celeb5: Path) -> None:
    ws = workspace
    cases = {name: _enroll(ws, name, usable_photos(photos, ws.settings, 3))
             for name, photos in identities(celeb5 / "train").items()}
    hits, decisions = 0, {"match": 0, "possible": 0, "none": 0}
    total = 0
    for name, photos in identities(celeb5 / "val").items():
        for p in photos:
            faces = ws.matcher.search_image(load_image(p, get_settings())).faces
            best_true = max((m for f in faces for m in f.matches if m.case_id == cases[name]),
                            key=lambda m: m.score)
            top = max((f.best for f in faces if f.best), key=lambda m: m.score)
            hits += top.case_id == cases[name]
            decisions[best_true.decision] += 1
            if best_true.decision == "none":
                print(f"\n  {p.name[:40]}: true case score {best_true.score:.3f}", end="")
            total += 1
    print(f"\n5-celebrity: rank-1 {hits}/{total}, true-case decisions {decisions}")
    assert hits == total
    # open-set thresholds (a stranger reaches possible in at most 1 of 10 searches): at least
    # 23 of the 25 genuine photos reach possible and 20 match (the promise of issue 13)
    assert decisions["none"] <= 2 and decisions["match"] >= 20


@pytest.mark.heavy
def test_orl_closed_and_open_set(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    people = identities(orl)
    names = sorted(people, key=lambda s: int(s[1:]))
    enrolled, strangers = names[:30], names[30:]
    cases = {n: _enroll(ws, n, [orl / n / f"{i}.pgm" for i in (1, 2, 3)]) for n in enrolled}
    correct = total = 0
    for n in enrolled:
        for i in range(4, 11):
            best = ws.matcher.search_image(load_image(orl / n / f"{i}.pgm", get_settings())
                                           ).faces[0].best
            correct += best is not None and best.case_id == cases[n]
            total += 1
    stranger_decisions = {"match": 0, "possible": 0, "none": 0}
    for n in strangers:
        for i in range(1, 11):
            best = ws.matcher.search_image(load_image(orl / n / f"{i}.pgm", get_settings())
                                           ).faces[0].best
            stranger_decisions[best.decision if best else "none"] += 1
    print(f"\nORL: rank-1 {correct}/{total} = {correct / total:.3f}; never-enrolled "
          f"decisions {stranger_decisions}")
    assert correct / total >= 0.98
    # ORL is one lab's grey photos, people more alike than the portraits the stranger tail was
    # learned from: measured 1 of 100 stranger searches at match, 6 at possible (README)
    assert stranger_decisions["match"] <= 1 and stranger_decisions["possible"] <= 15


@pytest.mark.heavy
def test_leads_only_for_likely_matches(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    case_id = _enroll(ws, "Lead Child", [orl / "s11" / f"{i}.pgm" for i in (1, 2, 3)])
    _enroll(ws, "Other Child", [orl / "s12" / f"{i}.pgm" for i in (1, 2, 3)])
    hit = ws.search(load_image(orl / "s11" / "8.pgm", get_settings()), source="photo",
                                  source_ref="tip-1.jpg")
    assert len(hit.lead_ids) == 1 and hit.probe_id is not None
    (lead,) = ws.records.leads()
    assert lead.case_id == case_id and lead.status == "new"
    assert lead.decision in ("match", "possible") and lead.scores.keys() == set(ws.settings.models)
    assert (ws.settings.data_dir / lead.crop_path).is_file()
    before = sorted(ws.settings.leads_dir.iterdir())
    miss = ws.search(load_image(orl / "s35" / "1.pgm", ws.settings), source="photo",
                                   source_ref="tip-2.jpg")
    assert miss.lead_ids == [] and miss.faces[0].best.decision == "none"
    assert sorted(ws.settings.leads_dir.iterdir()) == before  # passers-by leave nothing
    assert ws.records.counts()["probes"] == 2


@pytest.mark.heavy
def test_match_values_are_complete(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    case_id = _enroll(ws, "Complete", [orl / "s13" / f"{i}.pgm" for i in (1, 2)])
    canvas = np.full((150, 260, 3), 128, np.uint8)
    canvas[10:122, 10:102] = load_image(orl / "s13" / "6.pgm", get_settings())
    canvas[10:122, 150:242] = load_image(orl / "s36" / "1.pgm", get_settings())
    result = ws.matcher.search_image(canvas)
    assert len(result.faces) == 2
    known = [f for f in result.faces if f.best and f.best.case_id == case_id][0]
    m = known.best
    assert m.box == known.face.box and m.box[0] < 100
    assert m.photo_id in {p.id for p in ws.records.photos(case_id)}
    assert set(m.scores) == set(ws.settings.models) and 0 <= m.score <= 1
    assert ws.records.counts()["probes"] == 0  # no source: nothing recorded


@pytest.mark.heavy
def test_found_cases_are_not_searched(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    case_id = _enroll(ws, "Found Already", [orl / "s14" / "1.pgm"])
    ws.records.set_case_status(case_id, "found")
    faces = ws.matcher.search_image(load_image(orl / "s14" / "5.pgm", get_settings())).faces
    assert faces[0].matches == []


@pytest.mark.heavy
def test_cli_search_many_images_with_one_bad(ws_settings: Settings, orl: Path,
                                             tmp_path: Path) -> None:
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    run = [sys.executable, "-m", "findme.cli"]
    enrolled = subprocess.run(run + ["enroll", "--consent", "--name", "Cli Child",
                                     *[str(orl / "s15" / f"{i}.pgm") for i in (1, 2, 3)]],
                              env=env, capture_output=True, text=True, timeout=600)
    assert enrolled.returncode == 0, enrolled.stderr
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(encode(np.zeros((50, 50, 3), np.uint8), "JPEG")[:100])
    proc = subprocess.run(run + ["search", str(orl / "s15" / "7.pgm"), str(bad),
                                 str(orl / "s37" / "2.pgm"), "--top", "3", "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [r["image"] for r in results] == [str(orl / "s15" / "7.pgm"), str(bad),
                                             str(orl / "s37" / "2.pgm")]
    first = results[0]
    assert first["error"] is None and len(first["faces"]) == 1
    match = first["faces"][0]["matches"][0]
    assert match["name"] == "Cli Child" and match["decision"] in ("match", "possible")
    assert set(match) >= {"case_id", "name", "score", "decision", "scores", "margin",
                          "stranger_rate"}  # added fields; none renamed
    assert 0 <= match["stranger_rate"] < 0.1
    assert len(first["faces"][0]["box"]) == 4
    assert results[1]["error"] and results[1]["faces"] == []
    stranger = results[2]["faces"][0]["matches"]
    assert all(m["decision"] != "match" for m in stranger)
