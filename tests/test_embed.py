"""embed / represent with the real provisioned weights, and accuracy on real labeled photos."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from findme.config import Settings, get_settings
from findme.evaluation import metrics
from findme.evaluation.datasets import identities
from findme.faces.align import align
from findme.faces.detect import detect
from findme.faces.embed import embed, embed_largest_faces, represent
from findme.faces.image import load_image
from findme.faces.loading import ModelUnavailable
from findme.faces.models import MODELS, inference_engine
from findme.provision import weights

ALL_PROVISIONED = ["facenet", "facenet512", "arcface-mbf", "dlib"]


@pytest.fixture(scope="module")
def chips(face_photo: Path) -> dict[str, np.ndarray]:
    image = load_image(face_photo, get_settings())
    face = detect(image, get_settings())[0]
    return {m: align(image, face, m) for m in ALL_PROVISIONED}


@pytest.mark.heavy
@pytest.mark.parametrize("model", ALL_PROVISIONED)
def test_unit_vectors_of_the_right_size(chips: dict[str, np.ndarray], model: str) -> None:
    vec = embed([chips[model]], model, get_settings())
    assert vec.shape == (1, MODELS[model].dim) and vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec[0])) - 1.0) < 1e-5


@pytest.mark.heavy
@pytest.mark.parametrize("model", ALL_PROVISIONED)
def test_batches_agree_with_single_faces(orl: Path, model: str) -> None:
    crops = []
    for person in range(1, 11):
        image = load_image(orl / f"s{person}" / "2.pgm", get_settings())
        crops.append(align(image, detect(image, get_settings())[0], model))
    batched = embed(crops, model, get_settings(), batch_size=8)
    single = np.concatenate([embed([c], model, get_settings()) for c in crops])
    assert np.abs(batched - single).max() < 1e-4
    sims = batched @ batched.T
    assert sims[~np.eye(10, dtype=bool)].max() < 0.95  # ten people, ten distinct vectors


def test_empty_input_and_wrong_crop_size() -> None:
    assert embed([], "facenet", get_settings()).shape == (0, 128)
    with pytest.raises(ValueError, match="160x160"):
        embed([np.zeros((112, 112, 3), np.uint8)], "facenet", get_settings())


def test_missing_weights_say_what_to_run(tmp_path: Path, settings: Settings) -> None:
    empty = replace(settings, data_dir=tmp_path)
    with pytest.raises(ModelUnavailable, match="findme provision"):
        embed([np.zeros((160, 160, 3), np.uint8)], "facenet512", empty)
    with pytest.raises(ModelUnavailable, match="findme provision"):
        detect(np.zeros((50, 50, 3), np.uint8), empty)
    assert not any(tmp_path.iterdir()), "a failed call must not write anything"


def test_represent_every_face_every_model(orl: Path) -> None:
    image = np.full((140, 260, 3), 128, np.uint8)
    image[10:122, 10:102] = load_image(orl / "s5" / "1.pgm", get_settings())
    image[10:122, 150:242] = load_image(orl / "s6" / "1.pgm", get_settings())
    found = represent(image, ["facenet", "arcface-mbf"], get_settings())
    assert len(found) == 2
    for item in found:
        assert set(item.vectors) == {"facenet", "arcface-mbf"}
        assert item.quality.face_px == item.face.size
    assert float(found[0].vectors["facenet"] @ found[1].vectors["facenet"]) < 0.8


# ------------------------------------------------------------------ accuracy on real photos


def _embed_set(paths: list[Path], models: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """Largest face of each photo per model; a photo with no face keeps a zero vector, so
    misses lower the figures rather than vanish."""
    vectors, has_face = embed_largest_faces(paths, models, get_settings())
    return vectors, int((~has_face).sum())


@pytest.mark.heavy
def test_celeb5_accuracy_per_model(celeb5: Path, settings: Settings) -> None:
    """Default models: verification AUC >= 0.985 over all pairs, rank-1 = 100% (val vs train)."""
    models = [s.name for s in weights.check(settings) if s.kind == "model" and s.ok]
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    paths = [p for people in (train, val) for ps in people.values() for p in ps]
    labels = [name for people in (train, val) for name, ps in people.items() for _ in ps]
    n_train = sum(len(ps) for ps in train.values())
    vectors, misses = _embed_set(paths, models)
    print(f"\n5-celebrity: {len(paths)} photos, {misses} without a detected face")
    results = {}
    for m in models:
        genuine, impostor = metrics.pair_scores(vectors[m], labels)
        auc = metrics.roc_auc(genuine, impostor)
        r1 = metrics.rank1(vectors[m][:n_train], labels[:n_train], vectors[m][n_train:],
                           labels[n_train:])
        results[m] = (auc, r1)
        print(f"  {m:12s} AUC {auc:.4f}  rank-1 {r1:.3f}  "
              f"({len(genuine)} same / {len(impostor)} different pairs)")
    assert len(genuine) == 1354 and len(impostor) == 5549
    for m in settings.models:
        auc, r1 = results[m]
        assert auc >= 0.985, f"{m}: AUC {auc:.4f} below 0.985"
        assert r1 == 1.0, f"{m}: rank-1 {r1:.3f} below 100%"


@pytest.mark.heavy
def test_orl_identification(orl: Path, settings: Settings) -> None:
    """ORL, enroll photos 1-3 of each person, probe with 4-10: rank-1 >= 98% per default model."""
    people = identities(orl)
    paths = [p for ps in people.values() for p in sorted(ps, key=lambda p: int(p.stem))]
    labels = [name for name, ps in people.items() for _ in ps]
    enrolled = np.array([int(p.stem) <= 3 for p in paths])
    vectors, misses = _embed_set(paths, list(settings.models))
    print(f"\nORL: {len(paths)} photos, {misses} without a detected face")
    lab = np.array(labels)
    for m in settings.models:
        v = vectors[m]
        genuine, impostor = metrics.pair_scores(v, labels)
        r1 = metrics.rank1(v[enrolled], list(lab[enrolled]), v[~enrolled], list(lab[~enrolled]))
        print(f"  {m:12s} AUC {metrics.roc_auc(genuine, impostor):.4f}  rank-1 {r1:.3f}")
        assert r1 >= 0.98


@pytest.mark.heavy
def test_arcface_mbf_engines_agree(orl: Path, celeb5: Path, settings: Settings) -> None:
    """OpenVINO (float32, the default, and bfloat16 where asked for) gives the TensorFlow
    graph's vectors."""
    photos = [orl / f"s{k}" / "1.pgm" for k in range(1, 7)]
    photos += [ps[0] for ps in identities(celeb5 / "val").values()]
    crops = []
    for p in photos:
        image = load_image(p, get_settings())
        crops.append(align(image, detect(image, get_settings())[0], "arcface-mbf"))
    out = {}
    for mode in ("bf16", "f32", "tensorflow"):
        cfg = replace(settings, inference=mode)
        out[mode] = embed(crops, "arcface-mbf", cfg)
        engine = inference_engine("arcface-mbf", cfg)
        assert engine.startswith("tensorflow" if mode == "tensorflow" else "openvino"), engine
        print(f"\n  {mode:10s} -> {engine}")
    assert engine == "tensorflow" and inference_engine(
        "arcface-mbf", replace(settings, inference="f32")) == "openvino f32"
    for mode in ("bf16", "f32"):
        cos = np.einsum("nd,nd->n", out[mode], out["tensorflow"])
        print(f"  {mode:10s} cosine to TensorFlow: min {cos.min():.6f}")
        assert cos.min() > (0.9999 if mode == "f32" else 0.999)
    sims = out["bf16"] @ out["bf16"].T  # still distinct people
    assert sims[~np.eye(len(crops), dtype=bool)].max() < 0.9


@pytest.mark.heavy
def test_openvino_reports_nothing_to_anyone(tmp_path: Path) -> None:
    """OpenVINO's usage telemetry (Google Analytics, sent from a forked process) stays off."""
    import subprocess
    import sys
    import textwrap

    log = tmp_path / "network.log"
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(f"""
        import socket, time
        LOG = {str(log)!r}
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
        def note(what):  # a file, so forked senders are seen too
            with open(LOG, "a") as f:
                f.write(what + "\\n")
        def getaddrinfo(host, *a, **k):
            note(f"lookup {{host}}")
            return real_getaddrinfo(host, *a, **k)
        def connect(self, address):
            note(f"connect {{address}}")
            return real_connect(self, address)
        socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
        import numpy as np
        from findme.config import get_settings
        from findme.faces.embed import embed
        from findme.faces.models import inference_engine
        settings = get_settings()
        embed([np.full((112, 112, 3), 128, np.uint8)], "arcface-mbf", settings)
        print(inference_engine("arcface-mbf", settings))
        time.sleep(3)  # a sender would have started by now
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.startswith("openvino"), done.stdout
    seen = log.read_text().splitlines() if log.exists() else []
    assert not [s for s in seen if "127.0.0.1" not in s], seen
