"""Shared fixtures: the provisioned settings, the public photo sets, small image builders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from findme.config import Settings, get_settings
from findme.evaluation.datasets import identities


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings of the provisioned data folder (``make test`` provisions it first)."""
    return get_settings()


def _eval_set(settings: Settings, name: str) -> Path:
    path = settings.eval_dir / name
    if not path.is_dir():
        pytest.fail(f"{path} is missing: run `make eval-data` (make test does it)")
    return path


@pytest.fixture(scope="session")
def celeb5(settings: Settings) -> Path:
    """The 5-celebrity photos: ``train/<person>/*.jpg`` and ``val/<person>/*.jpg``."""
    return _eval_set(settings, "celeb5")


@pytest.fixture(scope="session")
def orl(settings: Settings) -> Path:
    """AT&T/ORL: ``<person>/<n>.pgm``, 40 people x 10 photos."""
    return _eval_set(settings, "orl")


@pytest.fixture(scope="session")
def face_photo(celeb5: Path) -> Path:
    """One colour web photo with one clear, near-frontal face."""
    return identities(celeb5 / "train")["ben_afflek"][1]


@pytest.fixture(scope="session")
def face_rgb(face_photo: Path) -> np.ndarray:
    """That photo as an RGB array."""
    return np.asarray(Image.open(face_photo).convert("RGB"))


def encode(array: np.ndarray, fmt: str, **kw: object) -> bytes:
    """Encode an array with Pillow into bytes of the given format."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def ws_settings(tmp_path: Path, settings: Settings) -> Settings:
    """A fresh, empty data folder that shares the provisioned weights (symlinked, read-only use)."""
    from dataclasses import replace

    data = tmp_path / "data"
    data.mkdir()
    (data / "weights").symlink_to(settings.weights_dir)
    return replace(settings, data_dir=data, store_wait_seconds=30.0)


@pytest.fixture
def workspace(ws_settings: Settings):
    """An open workspace (records + vector store) on a fresh data folder."""
    from findme.workspace import open_workspace

    ws = open_workspace(ws_settings)
    yield ws
    ws.close()


def usable_photos(paths: list[Path], settings: Settings, n: int) -> list[Path]:
    """The first ``n`` photos whose largest face passes the quality check."""
    from findme.faces.detect import detect
    from findme.faces.image import load_image
    from findme.faces.quality import assess

    out = []
    for p in paths:
        image = load_image(p, settings)
        faces = detect(image, settings)
        if len(faces) == 1 and assess(image, faces[0], settings).usable:
            out.append(p)
        if len(out) == n:
            break
    return out


@pytest.fixture
def app_data(ws_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """The dashboard's settings pointed at a fresh data folder (for ``AppTest``); closes the
    dashboard's shared workspaces afterwards."""
    from findme.config import reset_settings
    from findme.ui import state

    monkeypatch.setenv("FINDME_DATA_DIR", str(ws_settings.data_dir))
    monkeypatch.setenv("FINDME_SECRETS_FILE", str(ws_settings.data_dir / "no-secrets.toml"))
    reset_settings()
    yield get_settings()
    state.close_all()
    reset_settings()
