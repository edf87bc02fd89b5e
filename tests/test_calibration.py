"""Calibration maths against hand-worked values, and the shipped default."""

from __future__ import annotations

import numpy as np
import pytest

from findme.config import DEFAULT_MODELS, Settings
from findme.search import calibration as calib


def test_threshold_at_far_hand_values() -> None:
    impostor = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    t = calib.threshold_at_far(impostor, 0.1)  # 1 of 10 may pass: just above 0.9
    assert 0.9 < t <= 0.9 + 1e-12
    assert (impostor >= t).sum() == 1
    t0 = calib.threshold_at_far(impostor, 0.0)  # none may pass
    assert (impostor >= t0).sum() == 0
    assert calib.threshold_at_far(impostor, 1.0) == 0.1


def test_open_set_scores_hand_values() -> None:
    scores = np.array([[1.0, 0.9, 0.2, 0.4],
                       [0.9, 1.0, 0.3, 0.1],
                       [0.2, 0.3, 1.0, 0.5],
                       [0.4, 0.1, 0.5, 1.0]])
    impostor, genuine = calib.open_set_scores(scores, ["a", "a", "b", "c"])
    assert impostor.tolist() == [0.4, 0.3, 0.5, 0.5]
    assert genuine[:2].tolist() == [0.9, 0.9] and np.isinf(genuine[2:]).all()


def test_thresholds_decide() -> None:
    t = calib.Thresholds(match=0.9, possible=0.5)
    assert [t.decide(s) for s in (0.95, 0.9, 0.6, 0.5, 0.2)] == [
        "match", "match", "possible", "possible", "none"]


def test_logistic_fit_separates_and_orders() -> None:
    rng = np.random.default_rng(0)
    genuine = rng.normal([0.7, 0.6], 0.08, (300, 2))
    impostor = rng.normal([0.1, 0.05], 0.08, (3000, 2))
    x = np.vstack([genuine, impostor])
    y = np.r_[np.ones(300), np.zeros(3000)]
    w, b = calib.fit_logistic(x, y)
    assert (w > 0).all()
    p = 1 / (1 + np.exp(-(x @ w + b)))
    assert p[:300].mean() > 0.9 and p[300:].mean() < 0.1
    # balanced weighting: the boundary sits between the class means, not pushed by 10:1 counts
    mid = 1 / (1 + np.exp(-(np.array([0.4, 0.325]) @ w + b)))
    assert 0.2 < mid < 0.8


def test_fit_needs_both_classes() -> None:
    with pytest.raises(ValueError):
        calib.fit_logistic(np.ones((3, 1)), np.ones(3))


def test_calibrate_vectors_on_crafted_people() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 16))
    labels, vecs = [], []
    for k, c in enumerate(centres):
        for _ in range(4):
            v = c / np.linalg.norm(c) + 0.3 * rng.normal(size=16) / 4
            vecs.append(v / np.linalg.norm(v))
            labels.append(f"p{k}")
    v = np.array(vecs)
    result = calib.calibrate_vectors({"a": v, "b": v}, labels, "crafted", [("a", "b")])
    fusion = result.fusion(["b", "a"])
    assert fusion.thresholds.match >= fusion.thresholds.possible
    sims = v @ v.T
    fused = fusion.scores(np.stack([sims.ravel(), sims.ravel()], axis=1)).reshape(sims.shape)
    impostor, genuine = calib.open_set_scores(fused, labels)
    assert (impostor >= fusion.thresholds.match).mean() <= calib.MATCH_FPIR
    i, j, same = calib.pairs_of(labels)
    assert (fused[i, j][~same] >= fusion.thresholds.possible).mean() <= calib.POSSIBLE_FAR
    assert result.recall["fused:a+b"]["possible"] == pytest.approx(
        (genuine >= fusion.thresholds.possible).mean())
    round_trip = calib.Calibration.from_json(result.to_json())
    assert round_trip.fusion(["a", "b"]) == fusion


def test_shipped_default_covers_default_models(settings: Settings) -> None:
    default = calib.load(settings)
    fusion = default.fusion(DEFAULT_MODELS)
    assert set(fusion.models) == set(DEFAULT_MODELS)
    assert all(w > 0 for w in fusion.weights)
    assert 0 < fusion.thresholds.possible < fusion.thresholds.match < 1
    assert "orl" in default.source and "celeb5" in default.source
    for model in ("facenet", "arcface-mbf", "facenet512", "dlib"):
        assert model in default.model_thresholds
    with pytest.raises(calib.CalibrationMissing, match="findme calibrate"):
        default.fusion(["dlib", "facenet512", "facenet"])


def test_deployment_file_takes_precedence(ws_settings: Settings) -> None:
    custom = calib.Calibration({"facenet": calib.Thresholds(0.8, 0.5)},
                               {"facenet": calib.Fusion(("facenet",), (10.0,), -5.0,
                                                        calib.Thresholds(0.9, 0.6))},
                               "our own cases", "2026-11-26")
    calib.save(custom, ws_settings.calibration_path)
    assert calib.load(ws_settings).source == "our own cases"


def test_apply_thresholds_writes_deployment_file_and_audits(ws_settings: Settings) -> None:
    from findme.cases.records import open_records

    records = open_records(ws_settings)
    updated = calib.apply_thresholds(ws_settings, "fused", 0.99, 0.7, "analyst-1", records)
    assert updated.fusion(DEFAULT_MODELS).thresholds == calib.Thresholds(0.99, 0.7)
    assert calib.load(ws_settings).fusion(DEFAULT_MODELS).thresholds.match == 0.99
    entry = records.audit_log()[0]
    assert (entry["actor"], entry["action"]) == ("analyst-1", "thresholds.apply")
    calib.apply_thresholds(ws_settings, "facenet", 0.8, 0.6, "analyst-1", records)
    assert calib.load(ws_settings).model_thresholds["facenet"] == calib.Thresholds(0.8, 0.6)
    with pytest.raises(ValueError):
        calib.apply_thresholds(ws_settings, "fused", 0.5, 0.7, "analyst-1", records)
    with pytest.raises(ValueError, match="unknown scorer"):
        calib.apply_thresholds(ws_settings, "vgg", 0.9, 0.7, "analyst-1", records)
    # the shipped default is untouched
    assert calib.Calibration.from_json(__import__("json").loads(
        calib.DEFAULT_FILE.read_text())).fusion(DEFAULT_MODELS).thresholds.match < 0.99
