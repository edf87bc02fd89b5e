"""detect, assess and align on real photos: many faces, tiny faces, no face, poor quality."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from findme.config import Settings, get_settings
from findme.faces.align import ARCFACE_TEMPLATE, FACENET_MARGIN, align, box_matrix
from findme.faces.detect import Face, detect
from findme.faces.image import ImageError, load_image
from findme.faces.loading import ModelUnavailable
from findme.faces.quality import assess


def _orl_faces(orl: Path, people: range) -> list[np.ndarray]:
    return [load_image(orl / f"s{i}" / "1.pgm", get_settings()) for i in people]


def test_one_face_with_landmarks_inside_box(face_photo: Path) -> None:
    image = load_image(face_photo, get_settings())
    faces = detect(image, get_settings())
    assert len(faces) >= 1
    face = faces[0]
    x, y, w, h = face.box
    assert w >= 32 and h >= 32 and 0.5 < face.score <= 1.0 and not face.too_small
    assert len(face.landmarks) == 5
    for px, py in face.landmarks:
        assert x - 0.1 * w <= px <= x + 1.1 * w and y - 0.1 * h <= py <= y + 1.1 * h
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[:3]
    assert lx < nx < rx and ny > min(ly, ry)  # left eye, nose, right eye in image order


def test_many_faces_all_found_largest_first(orl: Path) -> None:
    canvas = np.full((220, 560, 3), 128, np.uint8)
    for k, face in enumerate(_orl_faces(orl, range(1, 5))):
        scale = 1.0 + 0.15 * k
        f = cv2.resize(face, (int(92 * scale), int(112 * scale)))
        canvas[10:10 + f.shape[0], 10 + 135 * k:10 + 135 * k + f.shape[1]] = f
    faces = detect(canvas, get_settings())
    assert len(faces) == 4
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert all(b - a > 80 for a, b in zip(centres, centres[1:], strict=False))


def test_tiny_face_is_reported_not_dropped(orl: Path, settings: Settings) -> None:
    face = cv2.resize(_orl_faces(orl, range(1, 2))[0], (28, 34), interpolation=cv2.INTER_AREA)
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[100:134, 100:128] = face
    faces = detect(canvas, settings)
    assert len(faces) == 1 and faces[0].too_small
    q = assess(canvas, faces[0], settings)
    assert not q.usable and any("too small" in r for r in q.reasons)


@pytest.mark.parametrize("kind", ["flat", "noise", "text"])
def test_no_face(kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "flat":
        img = np.full((300, 300, 3), 90, np.uint8)
    elif kind == "noise":
        img = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    else:
        img = np.full((200, 600, 3), 255, np.uint8)
        cv2.putText(img, "no faces here", (20, 110), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 3)
    assert detect(img, get_settings()) == []


def test_large_photo_is_downscaled_for_detection(face_photo: Path, settings: Settings) -> None:
    image = load_image(face_photo, get_settings())
    big = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    small_face = detect(image, settings)[0]
    big_face = detect(big, settings)[0]
    assert np.allclose(np.array(big_face.box) / 4, small_face.box, atol=max(small_face.box) * 0.1)


def test_detect_refuses_non_rgb() -> None:
    with pytest.raises(ImageError):
        detect(np.zeros((50, 50), np.uint8), get_settings())


def test_mtcnn_detector_also_works(face_photo: Path, settings: Settings) -> None:
    image = load_image(face_photo, get_settings())
    cf = detect(image, settings)[0]
    mt = detect(image, settings, detector="mtcnn")[0]
    assert len(mt.landmarks) == 5
    ix = max(0, min(cf.box[0] + cf.box[2], mt.box[0] + mt.box[2]) - max(cf.box[0], mt.box[0]))
    iy = max(0, min(cf.box[1] + cf.box[3], mt.box[1] + mt.box[3]) - max(cf.box[1], mt.box[1]))
    assert ix * iy > 0.4 * min(cf.box[2] * cf.box[3], mt.box[2] * mt.box[3])


def test_unknown_detector_is_a_clear_error(face_rgb: np.ndarray, settings: Settings) -> None:
    with pytest.raises(ModelUnavailable, match="unknown detector"):
        detect(face_rgb, replace(settings, detector="retinafacex"))


# ------------------------------------------------------------------ assess


def test_good_photo_is_usable(face_photo: Path) -> None:
    image = load_image(face_photo, get_settings())
    q = assess(image, detect(image, get_settings())[0], get_settings())
    assert q.usable and q.reasons == ()
    assert q.face_px >= 32 and q.sharpness > 35 and 40 < q.brightness < 220
    assert abs(q.roll_deg) < 20


def test_blurred_face_is_not_usable(orl: Path) -> None:
    image = cv2.GaussianBlur(_orl_faces(orl, range(1, 2))[0], (0, 0), 3)
    q = assess(image, detect(image, get_settings())[0], get_settings())
    assert not q.usable and any("blurry" in r for r in q.reasons)


def test_dark_face_is_not_usable_but_not_called_blurry(orl: Path) -> None:
    image = (_orl_faces(orl, range(1, 2))[0] * 0.15).astype(np.uint8)
    faces = detect(image, get_settings())
    q = assess(image, faces[0], get_settings())
    assert not q.usable and any("too dark" in r for r in q.reasons)
    assert not any("blurry" in r for r in q.reasons)


def test_rolled_face_reports_roll(face_photo: Path) -> None:
    image = load_image(face_photo, get_settings())
    h, w = image.shape[:2]
    rot = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0), (w, h))
    q0 = assess(image, detect(image, get_settings())[0], get_settings())
    q1 = assess(rot, detect(rot, get_settings())[0], get_settings())
    assert 18 < abs(q1.roll_deg - q0.roll_deg) < 42


@pytest.mark.heavy
def test_quality_on_all_public_photos_mostly_usable(celeb5: Path, orl: Path) -> None:
    photos = sorted(p for p in celeb5.rglob("*") if p.is_file())
    photos += sorted(orl.glob("s*/1.pgm"))
    usable = 0
    for p in photos:
        image = load_image(p, get_settings())
        usable += assess(image, detect(image, get_settings())[0], get_settings()).usable
    print(f"\nusable faces on public photos: {usable}/{len(photos)}")
    assert usable >= 0.9 * len(photos)


# ------------------------------------------------------------------ align


@pytest.mark.parametrize("model,size", [("facenet", 160), ("facenet512", 160),
                                        ("arcface-mbf", 112), ("arcface", 112), ("dlib", 150)])
def test_align_sizes(face_photo: Path, model: str, size: int) -> None:
    image = load_image(face_photo, get_settings())
    chip = align(image, detect(image, get_settings())[0], model)
    assert chip.shape == (size, size, 3) and chip.dtype == np.uint8 and chip.std() > 10


def test_arcface_alignment_puts_landmarks_on_template(face_photo: Path) -> None:
    image = load_image(face_photo, get_settings())
    face = detect(image, get_settings())[0]
    pts = np.asarray(face.landmarks, np.float32)
    matrix, _ = cv2.estimateAffinePartial2D(pts, ARCFACE_TEMPLATE, method=cv2.LMEDS)
    mapped = pts @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 8


def test_facenet_alignment_levels_the_eyes(face_photo: Path) -> None:
    image = load_image(face_photo, get_settings())
    h, w = image.shape[:2]
    rot = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
    face = detect(rot, get_settings())[0]
    matrix = box_matrix(face, 160, FACENET_MARGIN)
    (lx, ly), (rx, ry) = (np.array(p) @ matrix[:, :2].T + matrix[:, 2] for p in face.landmarks[:2])
    assert abs(ry - ly) < 4 and rx > lx


def test_unknown_model_is_a_clear_error(face_rgb: np.ndarray) -> None:
    face = Face((0, 0, 50, 50), ((10, 10), (40, 10), (25, 25), (15, 40), (35, 40)), 0.9)
    with pytest.raises(ModelUnavailable, match="unknown model"):
        align(face_rgb, face, "vgg-face-xl")
