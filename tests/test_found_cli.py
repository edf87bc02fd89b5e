"""``findme enroll --found``, ``crossmatch``, ``duplicates``, ``merge`` from the command line
(real photos and weights, a tmp data folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from findme.config import Settings
from findme.evaluation.datasets import identities

from .conftest import usable_photos

FINDME = [sys.executable, "-m", "findme.cli"]
pytestmark = pytest.mark.heavy


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    return subprocess.run(FINDME + list(args), env=env, capture_output=True, text=True,
                          timeout=600)


def test_cli_found_crossmatch_duplicates_merge(ws_settings: Settings, celeb5: Path) -> None:
    people = identities(celeb5 / "train")
    madonna = [str(p) for p in usable_photos(people["madonna"], ws_settings, 4)]
    elton = [str(p) for p in usable_photos(people["elton_john"], ws_settings, 2)]

    no_basis = _run(ws_settings, "enroll", "--found", madonna[2])
    assert no_basis.returncode == 2 and "lawful basis" in no_basis.stderr
    found = _run(ws_settings, "enroll", "--found", "--lawful-basis", "duty of care",
                 "--found-place", "Platform 4", "--found-at", "2026-11-02T08:15",
                 "--institution", "Home", "--institution-contact", "+1 555 0100",
                 "--age-min", "8", "--age-max", "10", "--languages", "Hindi", "--json",
                 *madonna[2:])
    assert found.returncode == 0, found.stderr
    found_id = json.loads(found.stdout)["case_id"]
    assert json.loads(found.stdout)["kind"] == "found"

    missing = _run(ws_settings, "enroll", "--consent", "--name", "Madonna C.",
                   "--age-at-photo", "9", "--json", *madonna[:2])
    assert missing.returncode == 0, missing.stderr
    out = json.loads(missing.stdout)
    case_id = out["case_id"]
    assert [(p["case_id"], p["found_id"]) for p in out["cross_pairs"]] == [(case_id, found_id)]

    # a double registration is stopped (nothing saved) unless asked for
    again = _run(ws_settings, "enroll", "--consent", "--name", "Madonna Again", "--json",
                 *madonna[2:])
    assert again.returncode == 1 and json.loads(again.stdout)["duplicates"][0]["case_id"] \
        == case_id
    anyway = _run(ws_settings, "enroll", "--consent", "--name", "Madonna Again",
                  "--allow-duplicate", "--json", *madonna[2:])
    assert anyway.returncode == 0, anyway.stderr
    other = json.loads(anyway.stdout)["case_id"]
    elton_case = _run(ws_settings, "enroll", "--consent", "--name", "Elton", *elton)
    assert elton_case.returncode == 0, elton_case.stderr

    first = _run(ws_settings, "crossmatch", "--json")
    assert first.returncode == 0, first.stderr
    pairs = json.loads(first.stdout)["pairs"]
    assert {(p["case_id"], p["found_id"]) for p in pairs} == {(case_id, found_id),
                                                             (other, found_id)}
    assert all(set(p) >= {"case_id", "found_id", "score", "decision", "age_gap_years"}
               for p in pairs)
    # both pairs got their lead when the second record of each was saved: the drive adds none
    assert json.loads(first.stdout)["new_leads"] == 0
    assert all(p["lead_id"] for p in pairs)
    second = _run(ws_settings, "crossmatch", "--json")
    assert json.loads(second.stdout) == {**json.loads(first.stdout), "new_leads": 0}

    dups = _run(ws_settings, "duplicates", "--json")
    assert dups.returncode == 0, dups.stderr
    assert [(p["case_id"], p["other_case_id"]) for p in json.loads(dups.stdout)["pairs"]] \
        == [(case_id, other)]

    merged = _run(ws_settings, "merge", str(case_id), str(other), "--json")
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["photos_moved"] == 2
    listed = json.loads(_run(ws_settings, "cases", "--json").stdout)["cases"]
    assert {c["case_id"] for c in listed} == {case_id, int(elton_case.stdout.split()[0])}
    assert json.loads(_run(ws_settings, "duplicates", "--json").stdout)["pairs"] == []
    found_list = json.loads(_run(ws_settings, "cases", "--kind", "found", "--json").stdout)
    assert [(c["label"], c["status"]) for c in found_list["cases"]] == [(f"F-{found_id}",
                                                                        "in_care")]
