"""Shared fixtures: the provisioned settings, the public photo sets, small image builders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from findme.config import Settings, get_settings
from findme.eval_data import identities


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
