"""Cross-match evaluation (issue 21 part 5): the split, the figures, the CLI and the Evaluation
page section. Real photos (ORL, 5-celebrity, the distractors), real weights, real SQLite and
Chroma in a temporary workspace. Bounds come from the open-set promise and the calibration's
own recall through the binomial helpers, never from figures that depend on the CPU."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from findme.config import Settings
from findme.evaluation import crossmatch as cm
from findme.evaluation import crossmatch_plan as plan_mod
from findme.evaluation.metrics import fewest_consistent_with, most_consistent_with
from findme.search import calibration as calib
from findme.search.open_set import MATCH_FPIR, POSSIBLE_FPIR

STEPS = (0.1, 0.3, 0.6, 1.5)  # years between two photos of a person: gaps of 0.7, 2.1, 4.2, 10.5


def _link(files: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f.name).symlink_to(f)


def _people(orl: Path, tmp: Path, names: list[str], ages: bool = True) -> Path:
    """A folder of links to some ORL people; with ``ages`` an ``ages.csv`` that makes person k's
    photo n (1..10) ``6 + n * STEPS[k % 4]`` years old (the first person by dates instead,
    90 days apart). The ages are made up: they only give every reunion a known gap."""
    out = tmp / "people"
    rows = ["file,age_at_photo,taken_on"]
    for k, name in enumerate(names):
        photos = plan_mod.people_of(orl)[name]
        _link(photos, out / name)
        for p in photos:
            n = int(p.stem)
            if k == 0:
                rows.append(f"{name}/{p.name},,{dt.date(2012, 1, 1) + dt.timedelta(90 * n)}")
            else:
                rows.append(f"{name}/{p.name},{6 + n * STEPS[k % 4]:.1f},")
    if ages:
        (out / "ages.csv").write_text("\n".join(rows) + "\n")
    return out


def _strangers(settings: Settings, tmp: Path, n: int) -> Path:
    out = tmp / "strangers"
    _link(sorted((settings.eval_dir / "distractors").iterdir())[:n], out)
    return out


def _found_with_false_pair(result: cm.CrossmatchEvaluation, level: str) -> int:
    return len({p["found_id"] for p in result.pairs if not p["true"]
                and (p["decision"] == "match" or level == "possible")})


# ----------------------------------------------------------------------------- no models


def test_plan_splits_each_person_and_refuses_what_cannot_pair(orl: Path, tmp_path: Path
                                                               ) -> None:
    plan = plan_mod.make_plan(orl, seed=3)
    assert plan == plan_mod.make_plan(orl, seed=3)  # a seed repeats the split
    assert plan.records != plan_mod.make_plan(orl, seed=4).records
    assert plan.people == 40 and len(plan.reunions) == 30  # a quarter on one side only
    for name in plan.reunions:
        missing, found = (next(r for r in plan.records if r.person == name and r.kind == k)
                          for k in ("missing", "found"))
        assert len(missing.photos) == 3 and len(found.photos) == 1
        used = {*missing.photos, *found.photos}
        assert len(used) == 4 and not used & {*missing.spares, *found.spares}
        assert not set(missing.spares) & set(found.spares)
    one_side = [r for r in plan.records if r.person not in plan.reunions]
    assert len(one_side) == 10 and {r.kind for r in one_side} == {"missing", "found"}

    few = tmp_path / "few"
    for name, n in (("a", 2), ("b", 1), ("c", 1)):
        _link(plan_mod.people_of(orl)[f"s{ord(name) - 96}"][:n], few / name)
    with pytest.raises(ValueError, match="too few people to pair: 1 of 3 have two or more"):
        plan_mod.make_plan(few)
    _link(plan_mod.people_of(orl)["s9"][:2], few / "d")
    plan = plan_mod.make_plan(few, one_side=0.0)
    assert sorted(plan.reunions) == ["a", "d"]
    assert any("2 person(s) have one photo" in w for w in plan.warnings)
    assert any("only 2 people are registered on both sides" in w for w in plan.warnings)


def test_ages_sidecar_orders_photos_and_gives_gaps(orl: Path, tmp_path: Path) -> None:
    folder = _people(orl, tmp_path, ["s1", "s2"])
    plan = plan_mod.make_plan(folder, one_side=0.0, seed=7)
    missing = next(r for r in plan.records if r.person == "s2" and r.kind == "missing")
    found = next(r for r in plan.records if r.person == "s2" and r.kind == "found")
    assert [p.name for p in missing.photos] == ["1.pgm", "2.pgm", "3.pgm"]  # earliest first
    assert [p.name for p in found.photos] == ["10.pgm"]
    assert plan_mod.gap_years(missing.photos[-1], found.photos[0], plan.ages) == \
        pytest.approx(7 * STEPS[1])
    dated = [next(r for r in plan.records if r.person == "s1" and r.kind == k)
             for k in ("missing", "found")]
    assert plan_mod.gap_years(dated[0].photos[-1], dated[1].photos[0], plan.ages) == \
        pytest.approx(7 * 90 / 365.25)
    assert [cm.band_of(g) for g in (0.7, 2.1, 4.2, 10.5)] == \
        ["0-1 years", "1-3 years", "3-5 years", "10+ years"]

    (folder / "ages.csv").write_text("file,age_at_photo\ns1/1.pgm,seven\n")
    with pytest.raises(ValueError, match="line 2: age_at_photo 'seven' is not a number"):
        plan_mod.read_ages(folder)
    (folder / "ages.csv").write_text("file,taken_on\ns1/1.pgm,2012-01-01\nnot/here.jpg,\n")
    ages, warnings = plan_mod.read_ages(folder)
    assert list(ages.values()) == [plan_mod.PhotoAge(None, dt.date(2012, 1, 1))]
    assert "1 row(s) name no photo" in warnings[0]


def test_figures_count_pairs_as_a_reviewer_reads_them() -> None:
    pairs = [{"decision": "match", "true": True, "stranger": False},
             {"decision": "possible", "true": True, "stranger": False},
             {"decision": "possible", "true": False, "stranger": True},
             {"decision": "possible", "true": False, "stranger": False}]
    at_match = cm.level_figures(pairs, 4, "match")
    at_possible = cm.level_figures(pairs, 4, "possible")
    assert (at_match["precision"], at_match["recall"], at_match["pairs_per_reunion"]) == \
        (1.0, 0.25, 1.0)
    assert (at_possible["precision"], at_possible["recall"],
            at_possible["pairs_per_reunion"], at_possible["stranger_pairs"]) == (0.5, 0.5, 2.0, 1)
    assert cm.level_figures([], 3, "match")["precision"] is None
    low, high = cm.wilson(2, 4)
    assert low < 0.5 < high and cm.wilson(0, 0) is None


# ----------------------------------------------------------------------------- real runs


@pytest.mark.heavy
def test_orl_with_distractors_pairs_every_reunion(settings: Settings, orl: Path) -> None:
    """ORL (40 people: 30 on both sides, 10 on one) and 305 never-registered found children:
    every reunion is paired at possible; false pairs stay inside the open-set promise."""
    before = sorted(p.name for p in settings.data_dir.iterdir())
    result = cm.evaluate_crossmatch(orl, settings=settings,
                                    distractors=settings.eval_dir / "distractors", seed=0)
    print("\norl + distractors:", json.dumps({k: result.levels[k] for k in cm.LEVELS}))
    counts = result.counts
    assert counts["reunions"] + counts["reunions_lost"] == 30
    assert counts["reunions"] >= 28 and counts["strangers"] >= 300
    at_match, at_possible = result.levels["match"], result.levels["possible"]
    assert at_possible["true_pairs"] == counts["reunions"]  # every reunion at possible
    recall = calib.load(settings).recall[f"fused:{calib.fusion_key(result.models)}"]["match"]
    assert at_match["true_pairs"] >= fewest_consistent_with(counts["reunions"], recall)
    found = counts["found_records"]
    assert _found_with_false_pair(result, "match") <= most_consistent_with(found, MATCH_FPIR)
    assert _found_with_false_pair(result, "possible") <= most_consistent_with(found,
                                                                              POSSIBLE_FPIR)
    for level, r in result.levels.items():
        assert r["pairs"] == r["true_pairs"] + r["false_pairs"]
        assert r["precision"] == pytest.approx(r["true_pairs"] / r["pairs"])
        assert r["pairs_per_reunion"] == pytest.approx(r["pairs"] / r["true_pairs"])
        assert r["precision_ci"][0] <= r["precision"] <= r["precision_ci"][1], level
    assert [p["score"] for p in result.pairs] == sorted((p["score"] for p in result.pairs),
                                                        reverse=True)
    assert counts["cross_leads"] >= counts["drive_pairs"] == at_possible["pairs"]
    assert result.by_age_gap == []
    assert all("lost a side at the quality gate" in w for w in result.warnings)
    # the live data folder was never touched, the temporary workspace is gone
    assert sorted(p.name for p in settings.data_dir.iterdir()) == before
    assert not [p for p in Path(tempfile.gettempdir()).glob("findme-crossmatch-eval-*")]


@pytest.mark.heavy
def test_by_age_gap_on_dated_photos(settings: Settings, orl: Path, tmp_path: Path) -> None:
    names = [f"s{k}" for k in range(1, 13)]
    folder = _people(orl, tmp_path, names)
    strangers = _strangers(settings, tmp_path, 30)
    result = cm.evaluate_crossmatch(folder, settings=settings, distractors=strangers, seed=2)
    assert result.counts["photos_rejected"] == 0  # so every reunion keeps its planned photos
    plan = plan_mod.make_plan(folder, strangers, seed=2)
    expected: dict[str, int] = {}
    for name in plan.reunions:
        missing, found = (next(r for r in plan.records if r.person == name and r.kind == k)
                          for k in ("missing", "found"))
        band = cm.band_of(plan_mod.gap_years(missing.photos[-1], found.photos[0], plan.ages))
        expected[band] = expected.get(band, 0) + 1
    assert {r["age_gap"]: r["reunions"] for r in result.by_age_gap if r["reunions"]} == expected
    for row in result.by_age_gap:
        assert row["possible"]["found_reunions"] >= row["match"]["found_reunions"]
    assert sum(r["possible"]["found_reunions"] for r in result.by_age_gap) == \
        result.levels["possible"]["true_pairs"] == len(plan.reunions)
    true_gaps = [p["age_gap_years"] for p in result.pairs if p["true"]]
    assert true_gaps and None not in true_gaps  # the ages came in with the photos


@pytest.mark.heavy
def test_cli_json_and_refusals(settings: Settings, celeb5: Path, orl: Path,
                               tmp_path: Path) -> None:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    run = [sys.executable, "-m", "findme.cli", "evaluate"]
    strangers = _strangers(settings, tmp_path, 40)
    report = tmp_path / "crossmatch.html"
    proc = subprocess.run(run + ["--crossmatch", str(celeb5), "--distractors", str(strangers),
                                 "--seed", "1", "--json", "--pairs", "--report", str(report)],
                          env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dataset"] == "celeb5" and out["seed"] == 1
    assert set(out) >= {"counts", "thresholds", "match", "possible", "by_age_gap", "warnings",
                        "pairs"}
    reunions = out["counts"]["reunions"]
    assert reunions + out["counts"]["reunions_lost"] == 4  # 5 people, one on one side only
    assert out["possible"]["true_pairs"] == reunions >= 3
    assert any("only 4 people" in w for w in out["warnings"])
    assert out["thresholds"]["match"] > out["thresholds"]["possible"]
    assert len(out["pairs"]) == out["possible"]["pairs"]
    text = report.read_text()
    assert "plotly" in text.lower() and 'id="chart-at_decisions"' in text
    assert "children registered on both sides" in text

    few = tmp_path / "few"
    for k in range(1, 4):
        _link(plan_mod.people_of(orl)[f"s{k}"][:1], few / f"s{k}")
    bad = subprocess.run(run + ["--crossmatch", str(few)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "too few people to pair" in bad.stderr


@pytest.mark.heavy
def test_evaluation_page_runs_a_crossmatch_evaluation(app_data: Settings, settings: Settings,
                                                      orl: Path, tmp_path: Path) -> None:
    from tests.pages_helpers import make_user, open_page, texts
    from tests.waiting import rerun_until

    folder = _people(orl, tmp_path, [f"s{k}" for k in range(20, 28)])
    strangers = _strangers(settings, tmp_path, 10)  # the provisioned public portraits
    make_user(app_data, "vic", "viewer")
    viewer = open_page("evaluation", "vic")  # no labelled set in this data folder, no own folder
    assert viewer.radio(key="cm_dataset").options == []
    make_user(app_data, "ana", "admin")
    at = open_page("evaluation", "ana")
    at.radio(key="cm_dataset").set_value("Another folder").run()
    at.text_input(key="cm_folder").set_value(str(folder)).run()
    at.text_input(key="cm_strangers").set_value(str(strangers)).run()
    at.button(key="cm_run").click().run()  # starts the worker; the charts come when it ends
    rerun_until(at, lambda at: bool(at.error or at.get("plotly_chart")), "the charts")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 3  # at the decisions, by age gap (recall, precision)
    shown = texts(at)
    assert "children registered on both sides" in shown
    assert "How many reunions the drive finds" in shown
    assert "only 6 people are registered on both sides" in shown
    assert len(at.dataframe) == 3  # decisions, age gaps, every pair
    assert len(at.get("download_button")) == 2  # JSON and the HTML report
