"""Evaluation metrics against hand-worked values, real-data results, CLI, page and report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from findme.config import Settings, get_settings
from findme.evaluation import metrics
from findme.evaluation import protocol as ev
from findme.workspace import Workspace


def test_roc_auc_eer_tar_hand_values() -> None:
    genuine, impostor = np.array([0.9, 0.8, 0.4]), np.array([0.5, 0.3, 0.2, 0.1])
    far, tar, t = metrics.roc_curve(genuine, impostor)
    # threshold 0.8: 2/3 genuine accepted, no impostor; 0.5: 2/3 and 1/4; 0.4: 3/3 and 1/4
    assert (far[t == 0.8][0], tar[t == 0.8][0]) == (0.0, pytest.approx(2 / 3))
    assert (far[t == 0.4][0], tar[t == 0.4][0]) == (0.25, 1.0)
    # AUC = P(g > i): 0.9, 0.8 beat all 4; 0.4 beats 3 of 4 -> 11/12
    assert metrics.auc(far, tar) == pytest.approx(11 / 12)
    assert metrics.tar_at_far(far, tar, 0.0) == pytest.approx(2 / 3)
    assert metrics.tar_at_far(far, tar, 0.25) == 1.0
    assert metrics.eer(*metrics.roc_curve(np.array([1.0]), np.array([0.0]))[:2]) == 0.0
    # fully overlapping scores: EER 0.5
    far2, tar2, _ = metrics.roc_curve(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    assert metrics.eer(far2, tar2) == pytest.approx(0.5)


def test_cmc_det_confusion_hand_values() -> None:
    assert metrics.cmc(np.array([1, 2, 0, 1]), 3).tolist() == [0.5, 0.75, 0.75]
    correct = np.array([True, True, False])
    top = np.array([0.9, 0.6, 0.7])
    strangers = np.array([0.8, 0.2])
    c = metrics.confusion(correct, top, strangers, 0.65)
    # alerts: probe0 (correct) TP, probe2 wrong FP, stranger0 FP; probe1 below -> FN; stranger1 TN
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (1, 2, 2, 1)
    assert c["precision"] == pytest.approx(1 / 3) and c["recall"] == pytest.approx(1 / 3)
    assert c["accuracy"] == pytest.approx(2 / 6)
    fpir, fnir, t = metrics.det_curve(correct, top, strangers)
    k = list(t).index(0.7)
    assert fpir[k] == 0.5 and fnir[k] == pytest.approx(2 / 3)


def test_person_scores_and_metrics_on_crafted_sets() -> None:
    photo = np.array([[0.9, 0.2, 0.1], [0.3, 0.1, 0.8], [0.2, 0.7, 0.6]])
    s = ev.person_scores(photo, ["a", "a", "b"])
    assert s.people == ["a", "b"] and s.matrix.tolist() == [[0.9, 0.1], [0.3, 0.8],
                                                            [0.7, 0.6]]
    m = ev.metrics_from_scores(s, ["a", "b", "b"], ev.Scores(["a", "b"], np.zeros((0, 2))),
                               {"possible": 0.65})
    assert m["rank1"] == pytest.approx(2 / 3) and m["rank5"] == 1.0
    # genuine 0.9, 0.8, 0.6 vs impostor 0.1, 0.3, 0.7: pairs won 3+3+2 = 8 of 9
    assert m["auc"] == pytest.approx(8 / 9)
    lo, hi = m["rank1_ci"]
    assert 0 <= lo <= 2 / 3 <= hi <= 1


def test_bootstrap_interval_brackets_the_mean() -> None:
    values = np.r_[np.ones(80), np.zeros(20)]
    lo, hi = metrics.bootstrap_ci(values, lambda v: float(v.mean()))
    assert lo < 0.8 < hi and hi - lo < 0.2


@pytest.mark.parametrize("condition", ev.CONDITIONS)
def test_degradations_keep_an_rgb_image(face_rgb: np.ndarray, condition: str) -> None:
    from findme.faces.detect import detect

    out = ev.degrade(face_rgb, detect(face_rgb, get_settings())[0], condition)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    if condition != "original":
        assert out.shape != face_rgb.shape or np.abs(out.astype(int) - face_rgb).mean() > 1


def test_split_protocols(orl: Path, celeb5: Path, tmp_path: Path) -> None:
    s = ev.split_dataset(orl, enroll=3)
    assert len(s.gallery) == 120 and len(s.probes) == 280
    assert {p.name for p, k in s.gallery if k == "s1"} == {"1.pgm", "2.pgm", "3.pgm"}
    c = ev.split_dataset(celeb5)  # train/val: the number enrolled is honoured too
    assert len(c.gallery) == 15 and len(c.probes) == 25
    assert len(ev.split_dataset(celeb5, enroll=50).gallery) == 93  # every train photo
    assert ev.split_warnings(c) == [
        "only 5 people are searched for: every rate rests on few people, so read it with its "
        "interval, not as a promise",
        "no never-enrolled people: false alerts (FPIR) are estimated only by searching each "
        "person as if unregistered; a folder of never-enrolled people measures them on real "
        "strangers"]
    one_each = tmp_path / "one-each"  # one photo per person but one: one person searched for
    for person in ("s1", "s2", "s3"):
        (one_each / person).mkdir(parents=True)
        shutil.copy(orl / person / "1.pgm", one_each / person / "1.pgm")
    shutil.copy(orl / "s1" / "2.pgm", one_each / "s1" / "2.pgm")
    with pytest.raises(ValueError, match="only 1 person"):
        ev.split_warnings(ev.split_dataset(one_each, enroll=1))
    with pytest.raises(FileNotFoundError):
        ev.split_dataset(tmp_path)
    small = tmp_path / "small"
    for person in ("s1", "s2"):
        shutil.copytree(orl / person, small / person)
    d = ev.split_dataset(small, enroll=3, distractors=orl)
    assert len(d.distractors) == 380  # 38 other people x 10; enrolled people are never strangers
    assert not {lbl for _, lbl in d.distractors} & {"distractor:s1", "distractor:s2"}


@pytest.mark.heavy
def test_real_data_results(orl: Path, celeb5: Path, settings: Settings) -> None:
    for dataset, floor in ((celeb5, 1.0), (orl, 0.98)):
        result = ev.evaluate(dataset, enroll=3, settings=settings)
        fused = result.results["fused"]
        line = "  ".join(f"{k}: AUC {r['auc']:.4f} rank-1 {r['rank1']:.3f}"
                         for k, r in result.results.items())
        print(f"\n{dataset.name}: {line}")
        assert fused["rank1"] >= floor
        for name, r in result.results.items():
            if name != "fused":
                assert fused["auc"] >= r["auc"] - 0.002, f"fusion hurts vs {name}"


@pytest.mark.heavy
def test_cli_json_report_and_bad_input(settings: Settings, orl: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    for person in ("s1", "s2", "s3", "s4"):
        shutil.copytree(orl / person, small / person)
    report = tmp_path / "report.html"
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    run = [sys.executable, "-m", "findme.cli", "evaluate"]
    proc = subprocess.run(run + [str(small), "--enroll", "3", "--json", "--report", str(report),
                                 "--conditions", "blur,grayscale"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for scorer in ("facenet", "arcface-mbf", "fused"):
        assert set(out[scorer]) >= {"auc", "eer", "tar_at_far", "rank1", "rank5", "precision",
                                    "recall", "f1", "fpir", "fnir"}
    assert set(out["conditions"]) == {"blur", "grayscale"}
    text = report.read_text()
    assert "plotly" in text.lower() and 'id="chart-roc"' in text and 'id="chart-det"' in text
    bad = subprocess.run(run + [str(tmp_path / "missing")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.heavy
def test_evaluation_page_runs_a_small_protocol(app_data: Settings, orl: Path,
                                               tmp_path: Path) -> None:
    from tests.pages_helpers import make_user, open_page
    from tests.waiting import rerun_until

    small = tmp_path / "small"
    for person in ("s5", "s6", "s7"):
        shutil.copytree(orl / person, small / person)
    make_user(app_data, "vic", "viewer")
    viewer = open_page("evaluation", "vic")  # a viewer: the public sets only, no server folder
    assert "Another folder" not in viewer.radio(key="dataset").options
    with pytest.raises(PermissionError, match="public sets"):
        ev.check_folder(app_data, app_data.photos_dir, any_folder=False)
    with pytest.raises(PermissionError):
        ev.check_folder(app_data, app_data.eval_dir / ".." / "photos", any_folder=False)
    make_user(app_data, "ana", "admin")
    at = open_page("evaluation", "ana")
    at.default_timeout = 600
    at.radio(key="dataset").set_value("Another folder").run()
    at.text_input(key="folder").set_value(str(small)).run()
    at.multiselect(key="conds").set_value(["blur"]).run()
    at.button(key="run").click().run()  # starts the worker; the charts come when it ends
    rerun_until(at, lambda at: bool(at.error or at.get("plotly_chart")), "the charts")
    charts = at.get("plotly_chart")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(charts) == 6  # roc, pr, det, cmc, distributions, conditions
    assert len(at.dataframe) >= 3
    assert at.get("download_button")


@pytest.mark.heavy
def test_html_report_shows_charts_in_headless_chromium(settings: Settings, celeb5: Path,
                                                       tmp_path: Path) -> None:
    """`findme evaluate` on the 5-celebrity set with both default models writes a report that
    draws every chart in headless Chromium (screenshot kept in test-artifacts)."""
    from playwright.sync_api import sync_playwright

    report = tmp_path / "report.html"
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    proc = subprocess.run([sys.executable, "-m", "findme.cli", "evaluate", str(celeb5), "--json",
                           "--report", str(report), "--conditions", "blur,grayscale"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["models"] == list(settings.models) and out["fused"]["rank1"] == 1.0
    shot = settings.data_dir / "test-artifacts" / "evaluation-report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_selector("#chart-roc .main-svg", timeout=30000)
        rendered = page.locator(".chart .main-svg").count()
        traces = page.locator(".chart .scatterlayer .trace, .chart .barlayer .trace").count()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert rendered >= 6, rendered  # every chart drew its SVG
    assert traces >= 6
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
    assert shot.stat().st_size > 20_000


@pytest.mark.heavy
def test_own_cases_mode(workspace: Workspace, orl: Path) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case

    ws = workspace
    with pytest.raises(ValueError, match="two or more photos"):
        ev.evaluate_own_cases(ws.records, ws.store, ws.settings)
    for person in ("s16", "s17", "s18", "s19"):
        enroll_case(CaseDetails(name=person, consent_recorded=True), [
            PhotoInput(f"{i}.pgm", (orl / person / f"{i}.pgm").read_bytes()) for i in (1, 2, 3)],
            ws.records, ws.store, ws.settings)
    enroll_case(CaseDetails(name="single", consent_recorded=True),
                [PhotoInput("1.pgm", (orl / "s20" / "1.pgm").read_bytes())],
                ws.records, ws.store, ws.settings)
    result = ev.evaluate_own_cases(ws.records, ws.store, ws.settings)
    assert result.counts["probes"] == 12 and result.counts["enrolled_photos"] == 13
    fused = result.results["fused"]
    assert fused["rank1"] == 1.0 and fused["n_mated"] == 12
    assert set(result.results) == {"facenet", "arcface-mbf", "fused"}
