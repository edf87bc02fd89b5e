"""load_image: every format we accept, every conversion, and a typed error for each bad input."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from findme.config import Settings, get_settings
from findme.faces.image import (
    EmptyImage,
    ImageError,
    ImageTooLarge,
    NotAnImage,
    TruncatedImage,
    load_image,
)
from tests.memory import SNIPPET

from .conftest import encode


@pytest.fixture
def small_settings(settings: Settings) -> Settings:
    return replace(settings, max_pixels=1_000_000)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "PPM", "TIFF"])
def test_formats_decode_to_rgb8(face_rgb: np.ndarray, fmt: str) -> None:
    data = encode(face_rgb, fmt)
    img = load_image(data, get_settings())
    assert img.dtype == np.uint8 and img.shape == face_rgb.shape
    tol = 30 if fmt in ("JPEG", "WEBP") else 0
    assert np.abs(img.astype(int) - face_rgb.astype(int)).mean() <= max(tol, 0.5) / 3


def test_pgm_grayscale_from_orl(orl: Path) -> None:
    img = load_image(orl / "s1" / "1.pgm", get_settings())
    assert img.shape == (112, 92, 3)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()


def test_path_and_bytes_agree(face_photo: Path) -> None:
    assert np.array_equal(load_image(face_photo, get_settings()),
                          load_image(face_photo.read_bytes(), get_settings()))


def test_exif_orientation_is_applied() -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img = load_image(encode(arr, "JPEG", exif=exif, quality=95), get_settings())
    assert img.shape == (40, 20, 3)
    assert img[:20].mean() > 200 and img[20:].mean() < 50  # white half now on top


def test_rgba_is_flattened_on_white() -> None:
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0] = 255
    arr[:4, :, 3] = 255  # top opaque red, bottom fully transparent
    img = load_image(encode(arr, "PNG"), get_settings())
    assert tuple(img[0, 0]) == (255, 0, 0)
    assert tuple(img[7, 7]) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb() -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buf, "JPEG")
    img = load_image(buf.getvalue(), get_settings())
    assert img.shape == (16, 16, 3)
    r, g, b = img[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_sixteen_bit_grayscale_is_scaled() -> None:
    arr = np.full((10, 10), 65535, np.uint16)
    arr[:5] = 32768
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    img = load_image(buf.getvalue(), get_settings())
    assert img.dtype == np.uint8
    assert img[9, 9, 0] == 255 and 126 <= img[0, 0, 0] <= 129


def test_palette_gif_first_frame() -> None:
    img = load_image(encode(np.full((6, 6, 3), 200, np.uint8), "GIF"), get_settings())
    assert img.shape == (6, 6, 3)


# ------------------------------------------------------------------ refusals


def test_not_an_image() -> None:
    with pytest.raises(NotAnImage, match="not an image"):
        load_image(b"%PDF-1.4 this is a document, not a photo", get_settings())


def test_empty_bytes_and_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyImage, match="empty"):
        load_image(b"", get_settings())
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyImage):
        load_image(empty, get_settings())


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(NotAnImage, match="cannot read"):
        load_image(tmp_path / "nope.jpg", get_settings())
    with pytest.raises(NotAnImage, match="not a file"):
        load_image(tmp_path, get_settings())


@pytest.mark.parametrize("fmt,keep", [("JPEG", 0.5), ("PNG", 0.6), ("WEBP", 0.5)])
def test_truncated_files(face_rgb: np.ndarray, fmt: str, keep: float) -> None:
    data = encode(face_rgb, fmt)
    with pytest.raises(ImageError) as info:
        load_image(data[: int(len(data) * keep)], get_settings())
    assert isinstance(info.value, (TruncatedImage, NotAnImage))
    assert "cut off" in str(info.value) or "damaged" in str(info.value) \
        or "not an image" in str(info.value)


def test_over_pixel_limit_is_refused(small_settings: Settings) -> None:
    data = encode(np.zeros((1001, 1000, 3), np.uint8), "PNG")
    with pytest.raises(ImageTooLarge, match="MP"):
        load_image(data, small_settings)
    assert load_image(encode(np.zeros((1000, 1000, 3), np.uint8), "PNG"),
                               small_settings).shape == (1000, 1000, 3)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a gigantic size (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    raw = zlib.compress(b"\x00" * 1024)
    idat = b"IDAT" + raw
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + struct.pack(">I", len(raw)) + idat
            + struct.pack(">I", zlib.crc32(idat)) + struct.pack(">I", 0) + b"IEND"
            + struct.pack(">I", zlib.crc32(b"IEND")))


@pytest.mark.parametrize("size", [(8000, 6000), (100_000, 100_000)])
def test_decompression_bomb_refused_from_header(size: tuple[int, int]) -> None:
    from tests.memory import peak_grown, peak_reset

    before = peak_reset()
    with pytest.raises(ImageTooLarge):
        load_image(_png_claiming(*size), get_settings())
    grown_mb = peak_grown(before) / 2**20
    assert grown_mb < 100, f"refusing the bomb grew peak memory by {grown_mb:.0f} MB"


def test_file_byte_limit(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(b"\xff" * 2048)
    with pytest.raises(ImageTooLarge, match="MB"):
        load_image(path, replace(settings, max_file_bytes=1024))


def test_only_photo_formats_are_decoded(tmp_path) -> None:
    """An EPS file named .jpg never reaches Pillow's EPS decoder (which runs Ghostscript)."""
    from findme.faces.image import NotAnImage

    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(NotAnImage, match="not an image"):
        load_image(eps, get_settings())
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(eps)
    with pytest.raises(NotAnImage):
        load_image(fake, get_settings())


_PEAK = """
import io, resource, sys
import numpy as np
from PIL import Image
from findme.config import get_settings
from findme.faces.image import ImageTooLarge, load_image
mode, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shape = (h, w) if mode in ("L", "I;16") else (h, w, 4 if mode == "RGBA" else 3)
arr = np.zeros(shape, np.uint16 if mode == "I;16" else np.uint8)
buf = io.BytesIO()
Image.fromarray(arr, "RGB" if mode == "P" else None).convert(
    mode if mode in ("P",) else Image.fromarray(arr).mode).save(buf, "PNG")
data = buf.getvalue()
del arr, buf
base = peak_reset()
try:
    img = load_image(data, get_settings())
    outcome = "loaded"
except ImageTooLarge:
    outcome = "refused"
print(outcome, peak_grown(base))
"""


def _peak(mode: str, w: int, h: int) -> tuple[str, int]:
    """Decode a ``w`` x ``h`` PNG of ``mode`` in a fresh process: (loaded|refused, extra peak
    bytes over what the process held before decoding)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", SNIPPET + _PEAK, mode, str(w), str(h)],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBA", "I;16"])
def test_decoding_stays_within_the_estimate(mode: str) -> None:
    """What :func:`decode_bytes` promises per mode holds when measured (3000 x 2000 images)."""
    from findme.faces.image import decode_bytes

    outcome, extra = _peak(mode, 3000, 2000)
    assert outcome == "loaded"
    assert extra <= decode_bytes(mode, 3000, 2000) * 1.1 + 8 * 2**20, (mode, extra)


def test_tiny_files_with_huge_pixels_fit_the_image_budget() -> None:
    """A 16-bit 6300 x 6300 PNG (tens of KB) decodes within the budget (it took ~1 GB when
    widened through float64); a 6000 x 6000 RGBA PNG would need more than the 512 MB budget and
    is refused before its pixels are decoded."""
    settings = get_settings()
    outcome, extra = _peak("I;16", 6300, 6300)
    assert outcome == "loaded" and extra < settings.max_image_bytes, extra
    outcome, extra = _peak("RGBA", 6000, 6000)
    assert outcome == "refused" and extra < 64 * 2**20, extra
