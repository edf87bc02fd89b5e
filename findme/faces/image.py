"""Loading images: decode, EXIF-orient and validate bytes or files into RGB arrays.

``load_image(source, settings)`` is the only way pixels enter Find Me AI: it refuses what is not
an image, what is cut off and what is too large (before allocating its pixels), each with an
:class:`ImageError` whose ``reason`` is a short code and ``detail`` a sentence for a person.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from findme.config import Settings


class ImageError(ValueError):
    """An input that is not a usable image.

    ``reason`` is a short machine-readable code (per subclass), ``detail`` the sentence for a
    person, ``source`` the file name (None for uploaded bytes). ``str()`` gives
    ``"source: detail"``, or the detail alone.
    """

    reason = "invalid"

    def __init__(self, detail: str, source: str | None = None) -> None:
        self.detail = detail
        self.source = source
        super().__init__(f"{source}: {detail}" if source else detail)


class NotAnImage(ImageError):
    """The bytes are not an image format we can decode."""

    reason = "not_an_image"


class TruncatedImage(ImageError):
    """The file is cut off or damaged part-way."""

    reason = "truncated"


class EmptyImage(ImageError):
    """Zero bytes, or an image with no pixels."""

    reason = "empty"


class ImageTooLarge(ImageError):
    """More pixels or bytes than the configured limit (protects against decompression bombs)."""

    reason = "too_large"


#: the only decoders Pillow may use (it knows dozens, e.g. EPS, which runs Ghostscript)
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "PPM", "TIFF", "GIF")


def load_image(source: bytes | bytearray | str | Path, settings: Settings) -> np.ndarray:
    """Decode an image file or its bytes into an RGB ``uint8`` array of shape ``(h, w, 3)``.

    Accepts JPEG, PNG, WebP, BMP, PGM/PPM, TIFF and GIF (first frame). Applies EXIF orientation;
    converts grayscale, palette, RGBA (over white), CMYK and 16-bit images to 8-bit RGB.
    Raises :class:`EmptyImage`, :class:`NotAnImage`, :class:`TruncatedImage` or
    :class:`ImageTooLarge` with a sentence saying why. Reads the header before decoding, so an
    over-limit image (a decompression bomb) is refused without allocating its pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    cfg = settings
    label: str | None = None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        label = path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise NotAnImage(f"cannot read the file ({exc.strerror or exc})", label) from exc
        if not path.is_file():
            raise NotAnImage("not a file", label)
        if size > cfg.max_file_bytes:
            raise ImageTooLarge(f"file is {size / 2**20:.0f} MB, over the "
                                f"{cfg.max_file_bytes / 2**20:.0f} MB limit", label)
        data = path.read_bytes()
    if not data:
        raise EmptyImage("the file is empty (0 bytes)", label)
    if len(data) > cfg.max_file_bytes:
        raise ImageTooLarge(f"file is {len(data) / 2**20:.0f} MB, over the "
                            f"{cfg.max_file_bytes / 2**20:.0f} MB limit", label)
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise NotAnImage("not an image (JPEG, PNG, WebP, BMP or PGM expected)", label) from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("image has too many pixels", label) from exc
    except OSError as exc:
        raise TruncatedImage(f"damaged image header ({exc})", label) from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise EmptyImage(f"the image has no pixels ({width}x{height})", label)
    if width * height > cfg.max_pixels:
        raise ImageTooLarge(f"{width}x{height} is {width * height / 1e6:.1f} MP, over "
                            f"the {cfg.max_pixels / 1e6:.0f} MP limit", label)
    need = decode_bytes(img.mode, width, height, "transparency" in img.info)
    if need > cfg.max_image_bytes:
        raise ImageTooLarge(f"decoding this {width}x{height} {img.mode} image needs about "
                            f"{need / 2**20:.0f} MB, over the {cfg.max_image_bytes / 2**20:.0f} "
                            "MB budget per image: send a smaller copy", label)
    try:
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("image has too many pixels", label) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise TruncatedImage(f"the image data is cut off or damaged ({exc})", label) from exc
    return _to_rgb8(img)


#: bytes per pixel a decoded Pillow image of a mode holds (RGB and the like are padded to 4)
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}


def decode_bytes(mode: str, width: int, height: int, transparency: bool = False) -> int:
    """Peak memory, in bytes, of decoding a ``width`` x ``height`` image of Pillow ``mode`` to
    RGB with :func:`load_image`: the decoded image, a possible EXIF-rotated copy, the
    conversion's intermediates and the RGB result (measured per mode in
    ``tests/test_load_image.py``)."""
    px = width * height
    stored = _MODE_BYTES.get(mode, 4)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and transparency):
        work = 4 * 4  # RGBA copy, white background, composite, RGB conversion
    elif mode in ("I", "F"):
        work = 4 + 1  # float32 copy, 8-bit grey
    elif mode.startswith("I;16"):
        work = 2 + 1  # 16-bit copy, 8-bit grey
    elif mode == "RGB":
        work = 0
    else:
        work = 4  # conversion to RGB
    return px * (2 * stored + work + 3)


def _to_rgb8(img: Any) -> np.ndarray:
    """Any Pillow mode -> contiguous RGB uint8 array (grey modes widened without a float64
    copy: a 40 MP 16-bit image stays within a few hundred MB)."""
    from PIL import Image

    mode = img.mode
    if mode.startswith("I;16"):
        wide = np.array(img, dtype=np.uint16)
        gray = np.right_shift(wide, 8, out=wide).astype(np.uint8)
        del wide
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max() > 255 else 255.0
        gray = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        del arr
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def crop_face(image: np.ndarray, box: Sequence[int], margin: float = 0.25) -> np.ndarray:
    """The face in ``box`` (x, y, w, h) with ``margin`` x its longer side around it, clipped to
    the image; a contiguous copy (safe to keep after the frame is gone)."""
    x, y, w, h = (int(v) for v in box)
    m = int(margin * max(w, h))
    return np.ascontiguousarray(image[max(0, y - m):y + h + m, max(0, x - m):x + w + m]).copy()


def read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes, never more than ``limit`` read (``/dev/zero``, a named pipe or a
    huge file is refused with ValueError before it fills memory)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise OSError(f"cannot read the file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > limit:
        raise ValueError(f"file is {info.st_size / 2**20:.0f} MB, over the "
                         f"{limit / 2**20:.0f} MB limit")
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file grew past the {limit / 2**20:.0f} MB limit while read")
    return data
