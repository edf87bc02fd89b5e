"""The face pipeline: load, detect, assess, align, embed.

Plain verbs, each with one job::

    image = load_image(path_or_bytes)           # RGB uint8 array, validated
    faces = detect(image)                       # [Face], largest first
    report = assess(image, faces[0])            # Quality(usable=..., reasons=[...])
    chip = align(image, faces[0], "facenet")    # model-specific aligned crop
    vectors = embed([chip], "facenet")          # (n, dim) float32, L2-normalised

Models and detectors load lazily, once per process. Model ids name the weights:
``facenet`` (128-d), ``facenet512``, ``arcface-mbf`` (ArcFace-loss MobileFaceNet, 192-d),
``dlib`` and, when DeepFace's own file is present, ``arcface`` (ResNet). ``arcface-mbf`` runs on
OpenVINO (``FINDME_INFERENCE``; :func:`inference_engine` says what runs a model), the others on
TensorFlow / dlib.
"""

from __future__ import annotations

import io
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from findme.config import Settings, get_settings

# ----------------------------------------------------------------------------- errors


class ImageError(ValueError):
    """An input that is not a usable image. ``reason`` is a short machine-readable code."""

    reason = "invalid"


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


class ModelUnavailable(RuntimeError):
    """A model or detector whose weights are not provisioned; the message says what to run."""


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is ``(x, y, w, h)`` in image pixels; ``landmarks`` are five ``(x, y)`` points in the
    order left eye, right eye, nose, left mouth corner, right mouth corner (left/right as seen in
    the image); ``score`` is the detector's confidence in [0, 1]; ``too_small`` is True when the
    face is smaller than ``Settings.min_face_px`` (reported, not dropped).
    """

    box: tuple[int, int, int, int]
    landmarks: tuple[tuple[float, float], ...]
    score: float
    too_small: bool = False

    @property
    def size(self) -> int:
        """The face's shorter box side in pixels."""
        return int(min(self.box[2], self.box[3]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"box": list(self.box), "landmarks": [[round(x, 1), round(y, 1)]
                                                     for x, y in self.landmarks],
                "score": round(self.score, 4), "too_small": self.too_small}


@dataclass(frozen=True)
class Quality:
    """How fit a face is for recognition, with the reasons when it is not."""

    face_px: int
    sharpness: float
    brightness: float
    yaw_deg: float
    roll_deg: float
    score: float
    usable: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"face_px": self.face_px, "sharpness": round(self.sharpness, 1),
                "brightness": round(self.brightness, 1), "yaw_deg": round(self.yaw_deg, 1),
                "roll_deg": round(self.roll_deg, 1), "score": round(self.score, 4),
                "usable": self.usable, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class ModelSpec:
    """What a recognition model needs: its weight file, input size and embedding size."""

    id: str
    dim: int
    size: int
    weight_file: str
    description: str


MODELS: dict[str, ModelSpec] = {
    "facenet": ModelSpec("facenet", 128, 160, "facenet_weights.h5",
                         "FaceNet (InceptionResNetV1), 128-d"),
    "facenet512": ModelSpec("facenet512", 512, 160, "facenet512_weights.h5",
                            "FaceNet 2018 (InceptionResNetV1), 512-d"),
    "arcface-mbf": ModelSpec("arcface-mbf", 192, 112, "mobilefacenet_tf.pb",
                             "MobileFaceNet trained with ArcFace loss, 192-d"),
    "dlib": ModelSpec("dlib", 128, 150, "dlib_face_recognition_resnet_model_v1.dat",
                      "dlib ResNet, 128-d"),
    "arcface": ModelSpec("arcface", 512, 112, "arcface_weights.h5",
                         "DeepFace ArcFace (ResNet-34), 512-d; DeepFace's own download"),
}

#: insightface / ArcFace 112x112 landmark template (left eye, right eye, nose, mouth corners)
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
#: extra margin around the detector box for the FaceNet crops, per side, as a box fraction
FACENET_MARGIN = 0.1


# ----------------------------------------------------------------------------- load


def _limits(settings: Settings | None) -> Settings:
    return settings or get_settings()


def load_image(source: bytes | bytearray | str | Path, settings: Settings | None = None
               ) -> np.ndarray:
    """Decode an image file or its bytes into an RGB ``uint8`` array of shape ``(h, w, 3)``.

    Accepts JPEG, PNG, WebP, BMP, PGM/PPM, TIFF and GIF (first frame). Applies EXIF orientation;
    converts grayscale, palette, RGBA (over white), CMYK and 16-bit images to 8-bit RGB.
    Raises :class:`EmptyImage`, :class:`NotAnImage`, :class:`TruncatedImage` or
    :class:`ImageTooLarge` with a sentence saying why. Reads the header before decoding, so an
    over-limit image (a decompression bomb) is refused without allocating its pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    cfg = _limits(settings)
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        label = "the upload"
    else:
        path = Path(source)
        label = path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise NotAnImage(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
        if not path.is_file():
            raise NotAnImage(f"{label}: not a file")
        if size > cfg.max_file_bytes:
            raise ImageTooLarge(f"{label}: file is {size / 2**20:.0f} MB, over the "
                                f"{cfg.max_file_bytes / 2**20:.0f} MB limit")
        data = path.read_bytes()
    if not data:
        raise EmptyImage(f"{label}: the file is empty (0 bytes)")
    if len(data) > cfg.max_file_bytes:
        raise ImageTooLarge(f"{label}: file is {len(data) / 2**20:.0f} MB, over the "
                            f"{cfg.max_file_bytes / 2**20:.0f} MB limit")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise NotAnImage(f"{label}: not an image (JPEG, PNG, WebP, BMP or PGM expected)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{label}: image has too many pixels") from exc
    except OSError as exc:
        raise TruncatedImage(f"{label}: damaged image header ({exc})") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise EmptyImage(f"{label}: the image has no pixels ({width}x{height})")
    if width * height > cfg.max_pixels:
        raise ImageTooLarge(f"{label}: {width}x{height} is {width * height / 1e6:.1f} MP, over "
                            f"the {cfg.max_pixels / 1e6:.0f} MP limit")
    try:
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{label}: image has too many pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise TruncatedImage(f"{label}: the image data is cut off or damaged ({exc})") from exc
    return _to_rgb8(img)


def _to_rgb8(img: Any) -> np.ndarray:
    """Any Pillow mode -> contiguous RGB uint8 array."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


# ----------------------------------------------------------------------------- detect

_lock = threading.RLock()
_cache: dict[tuple[str, str], Any] = {}


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what native libraries print on file descriptor 2 while TensorFlow starts.

    TensorFlow's C++ side logs start-up notes (oneDNN, CUDA probing) straight to fd 2, which
    would bury the one clear line a CLI user should see. Python exceptions still propagate.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _cached(kind: str, key: str, build: Any) -> Any:
    """Build an expensive object once per process (thread-safe, start-up noise hidden)."""
    with _lock:
        if (kind, key) not in _cache:
            with native_stderr_silenced():
                _cache[(kind, key)] = build()
        return _cache[(kind, key)]


def _weight_path(settings: Settings, filename: str, what: str) -> Path:
    path = settings.model_dir / filename
    if not path.is_file():
        raise ModelUnavailable(f"{what}: {filename} is not provisioned in {settings.model_dir}; "
                               "run `findme provision` (or `make run`)")
    return path


class _CenterFace:
    """CenterFace (ONNX, run by OpenCV's DNN module): boxes, scores and 5 landmarks."""

    def __init__(self, path: Path) -> None:
        self.net = cv2.dnn.readNetFromONNX(str(path))
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        h, w = rgb.shape[:2]
        h32, w32 = int(math.ceil(h / 32) * 32), int(math.ceil(w / 32) * 32)
        padded = np.zeros((h32, w32, 3), dtype=np.uint8)  # pad, do not stretch
        padded[:h, :w] = rgb
        blob = cv2.dnn.blobFromImage(padded, 1.0, (w32, h32), (0, 0, 0), swapRB=False)
        with self.lock:
            self.net.setInput(blob)
            heat, scale, offset, lms = self.net.forward(["537", "538", "539", "540"])
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > threshold)
        if len(ys) == 0:
            return []
        s0 = np.exp(scale[0, 0, ys, xs]) * 4
        s1 = np.exp(scale[0, 1, ys, xs]) * 4
        o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
        x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, w)
        y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, h)
        x2, y2 = np.minimum(x1 + s1, w), np.minimum(y1 + s0, h)
        scores = heat[ys, xs]
        pts = np.stack([np.stack([lms[0, 2 * j + 1, ys, xs] * s1 + x1,
                                  lms[0, 2 * j, ys, xs] * s0 + y1], axis=-1)
                        for j in range(5)], axis=1)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), threshold, 0.3)
        keep = np.asarray(keep, dtype=int).reshape(-1)
        return [(np.append(boxes[i], scores[i]), pts[i]) for i in keep]


class _Mtcnn:
    """MTCNN (weights inside the ``mtcnn`` package)."""

    def __init__(self) -> None:
        from mtcnn import MTCNN

        self.det = MTCNN()
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        with self.lock:
            found = self.det.detect_faces(rgb)
        out = []
        for f in found:
            if f["confidence"] < threshold:
                continue
            kp = f["keypoints"]
            # MTCNN's "left_eye" is the eye on the image's left, the order Face uses
            pts = np.array([kp["left_eye"], kp["right_eye"], kp["nose"], kp["mouth_left"],
                            kp["mouth_right"]], dtype=np.float32)
            out.append((np.array([*f["box"], f["confidence"]], dtype=np.float32),
                        pts))
        return out


DETECTORS = ("centerface", "mtcnn")


def _detector(name: str, settings: Settings) -> Any:
    if name == "centerface":
        path = _weight_path(settings, "centerface.onnx", "detector centerface")
        return _cached("detector", f"{name}:{path}", lambda: _CenterFace(path))
    if name == "mtcnn":
        settings.apply_environment()
        return _cached("detector", name, _Mtcnn)
    raise ModelUnavailable(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def detect(image: np.ndarray, settings: Settings | None = None,
           detector: str | None = None) -> list[Face]:
    """All faces in an RGB image, largest first.

    Each :class:`Face` carries its box, five landmarks and detector score. The image is
    downscaled for detection to at most ``Settings.detect_max_side`` pixels on its long side
    (results are mapped back). Faces smaller than ``Settings.min_face_px`` are returned with
    ``too_small=True`` rather than dropped.
    """
    cfg = _limits(settings)
    det = _detector(detector or cfg.detector, cfg)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError("detect() needs an RGB uint8 image from load_image()")
    h, w = image.shape[:2]
    scale = min(1.0, cfg.detect_max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    faces = []
    for box, pts in det(small, cfg.detect_threshold):
        x, y, bw, bh = (float(v) / scale for v in box[:4])
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(w, int(round(x + bw))), min(h, int(round(y + bh)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        landmarks = tuple((float(px) / scale, float(py) / scale) for px, py in pts)
        fw, fh = x1 - x0, y1 - y0
        faces.append(Face((x0, y0, fw, fh), landmarks, float(min(max(box[4], 0.0), 1.0)),
                          min(fw, fh) < cfg.min_face_px))
    faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return faces


# ----------------------------------------------------------------------------- assess


_SHARPNESS_STD = 50.0


def _pose(face: Face) -> tuple[float, float]:
    """(yaw, roll) in degrees estimated from the five landmarks."""
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    eye_dist = math.hypot(rx - lx, ry - ly)
    if eye_dist < 1e-6:
        return 90.0, roll
    # Nose offset from the eye midline, along the eye axis, relative to half the eye distance.
    # With the nose tip about half an eye distance in front of the eyes, that ratio is tan(yaw).
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    ux, uy = (rx - lx) / eye_dist, (ry - ly) / eye_dist
    ratio = ((nx - cx) * ux + (ny - cy) * uy) / (eye_dist / 2)
    return math.degrees(math.atan(ratio)), roll


def assess(image: np.ndarray, face: Face, settings: Settings | None = None) -> Quality:
    """Quality report for one face: size, sharpness, brightness, pose and detector score.

    ``sharpness`` is the variance of the Laplacian on the face scaled to 112 px and to a fixed
    contrast (higher is sharper); ``brightness`` the mean gray level of the face (0-255);
    ``yaw_deg``/``roll_deg`` the head turn and tilt from the landmarks. ``usable`` is False when
    any measure is outside the configured limits, and ``reasons`` says which, in plain words.
    """
    cfg = _limits(settings)
    x, y, w, h = face.box
    crop = image[y:y + h, x:x + w]
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.size else np.zeros((1, 1), np.uint8)
    norm = cv2.resize(gray, (112, 112), interpolation=cv2.INTER_AREA).astype(np.float64)
    spread = norm.std()
    if spread > 1.0:  # same contrast for every face, so dim photos are not called blurry
        norm = (norm - norm.mean()) * (_SHARPNESS_STD / spread)
    sharpness = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    brightness = float(gray.mean())
    yaw, roll = _pose(face)
    reasons = []
    if face.size < cfg.min_face_px:
        reasons.append(f"face too small: {face.size} px (at least {cfg.min_face_px} px needed)")
    if sharpness < cfg.min_sharpness:
        reasons.append(f"too blurry: sharpness {sharpness:.0f} (at least {cfg.min_sharpness:.0f})")
    if brightness < cfg.min_brightness:
        reasons.append(f"too dark: brightness {brightness:.0f} of 255")
    if brightness > cfg.max_brightness:
        reasons.append(f"overexposed: brightness {brightness:.0f} of 255")
    if abs(yaw) > cfg.max_yaw_deg:
        reasons.append(f"face turned too far sideways: about {abs(yaw):.0f} degrees")
    if abs(roll) > cfg.max_roll_deg:
        reasons.append(f"head tilted too far: about {abs(roll):.0f} degrees")
    if face.score < cfg.min_detector_score:
        reasons.append(f"detector unsure this is a face: score {face.score:.2f}")
    return Quality(face.size, sharpness, brightness, yaw, roll, face.score, not reasons,
                   tuple(reasons))


def crop_face(image: np.ndarray, box: Sequence[int], margin: float = 0.25) -> np.ndarray:
    """The face in ``box`` (x, y, w, h) with ``margin`` x its longer side around it, clipped to
    the image; a contiguous copy (safe to keep after the frame is gone)."""
    x, y, w, h = (int(v) for v in box)
    m = int(margin * max(w, h))
    return np.ascontiguousarray(image[max(0, y - m):y + h + m, max(0, x - m):x + w + m]).copy()


# ----------------------------------------------------------------------------- align


def align(image: np.ndarray, face: Face, model: str) -> np.ndarray:
    """The aligned RGB ``uint8`` crop a model expects, of shape ``(size, size, 3)``.

    ArcFace-family models (``arcface-mbf``, ``arcface``): similarity warp of the five landmarks
    onto the ArcFace 112x112 template. FaceNet models: the detector box plus a 10% margin, rotated
    so the eyes are level, scaled to 160x160 (the crop FaceNet was trained on). ``dlib``: the box
    is returned as a 150x150 crop; :func:`embed` refines it with dlib's own 5-point face chip.
    """
    spec = _spec(model)
    pts = np.asarray(face.landmarks, dtype=np.float32)
    if model in ("arcface-mbf", "arcface"):
        matrix, _ = cv2.estimateAffinePartial2D(pts, ARCFACE_TEMPLATE, method=cv2.LMEDS)
        if matrix is None:
            matrix = _box_matrix(face, spec.size, 0.0)
    elif model in ("facenet", "facenet512"):
        matrix = _box_matrix(face, spec.size, FACENET_MARGIN)
    else:
        matrix = _box_matrix(face, spec.size, 0.0, rotate=False)
    return cv2.warpAffine(image, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _box_matrix(face: Face, size: int, margin: float, rotate: bool = True) -> np.ndarray:
    """Affine map: box (+margin) centred, eyes levelled, stretched onto ``size`` x ``size``."""
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    angle = 0.0
    if rotate:
        (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
        angle = math.atan2(ry - ly, rx - lx)
    sx, sy = size / (w * (1 + 2 * margin)), size / (h * (1 + 2 * margin))
    cos, sin = math.cos(-angle), math.sin(-angle)
    # translate centre to origin, rotate by -angle, scale, move to the crop centre
    rot = np.array([[cos, -sin], [sin, cos]])
    lin = np.diag([sx, sy]) @ rot
    offset = np.array([size / 2, size / 2]) - lin @ np.array([cx, cy])
    return np.hstack([lin, offset[:, None]]).astype(np.float32)


# ----------------------------------------------------------------------------- embed


def _spec(model: str) -> ModelSpec:
    if model not in MODELS:
        raise ModelUnavailable(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return MODELS[model]


class _KerasFaceNet:
    """DeepFace's FaceNet (128 or 512) with provisioned weights, as one compiled batch call."""

    def __init__(self, deepface_name: str, standardise: str) -> None:
        import tensorflow as tf
        from deepface.modules import modeling

        client = modeling.build_model(task="facial_recognition", model_name=deepface_name)
        keras_model = client.model
        self.fn = tf.function(lambda x: keras_model(x, training=False), reduce_retracing=True)
        self.standardise = standardise

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        x = chips.astype(np.float32)
        if self.standardise == "prewhiten":  # per-image standardisation (Taniai's FaceNet)
            mean = x.mean(axis=(1, 2, 3), keepdims=True)
            std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1.0 / math.sqrt(x[0].size))
            x = (x - mean) / std
        else:  # fixed standardisation (FaceNet 2018)
            x = (x - 127.5) / 128.0
        return np.asarray(self.fn(x))


class _DeepFaceArcFace:
    """DeepFace's own ArcFace (ResNet-34) when its weight file is present (BGR, (x-127.5)/128)."""

    def __init__(self) -> None:
        import tensorflow as tf
        from deepface.modules import modeling

        client = modeling.build_model(task="facial_recognition", model_name="ArcFace")
        keras_model = client.model
        self.fn = tf.function(lambda x: keras_model(x, training=False), reduce_retracing=True)

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        x = (chips[..., ::-1].astype(np.float32) - 127.5) / 128.0
        return np.asarray(self.fn(x))


def _mobilefacenet_input(chips: np.ndarray) -> np.ndarray:
    """uint8 RGB 112x112 crops -> the MobileFaceNet's float input, (x - 127.5) / 128."""
    return (chips.astype(np.float32) - 127.5) / 128.0


class _MobileFaceNet:
    """The repaired ArcFace-loss MobileFaceNet graph (RGB, (x-127.5)/128, 112x112)."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(path.read_bytes())

        def _imports() -> None:
            tf.compat.v1.import_graph_def(gd, name="")

        wrapped = tf.compat.v1.wrap_function(_imports, [])
        graph = wrapped.graph
        self.fn = wrapped.prune(graph.as_graph_element("img_inputs:0"),
                                graph.as_graph_element("embeddings:0"))
        self.tf = tf

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        return self.fn(self.tf.constant(_mobilefacenet_input(chips))).numpy()


class _MobileFaceNetOpenVINO:
    """The same repaired MobileFaceNet graph compiled by OpenVINO for this CPU.

    ``precision`` ``auto`` keeps OpenVINO's choice for the CPU (bfloat16 where it is computed
    natively, e.g. AMX / AVX-512 BF16; measured cosine >= 0.9997 against float32 on real faces),
    ``f32`` forces float32. Batches run in slices of :attr:`SLICE` faces (measured fastest here:
    activations of larger slices leave the CPU cache). One infer request, used under a lock.
    """

    SLICE = 8

    def __init__(self, path: Path, precision: str) -> None:
        ov = _import_openvino()
        core = ov.Core()
        model = core.read_model(str(path))  # OpenVINO reads the frozen TensorFlow graph itself
        model.reshape([-1, 112, 112, 3])
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if precision == "f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = core.compile_model(model, "CPU", config)
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.request = self.compiled.create_infer_request()
        self.lock = threading.Lock()

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        x = _mobilefacenet_input(chips)
        out = []
        with self.lock:
            for i in range(0, len(x), self.SLICE):
                out.append(self.request.infer({0: x[i:i + self.SLICE]})[0].copy())
        return np.concatenate(out)


def _import_openvino() -> Any:
    """Import OpenVINO with its usage telemetry off.

    Installed beside it, ``openvino_telemetry`` sends events to Google Analytics from a model
    read (measured: a DNS query for www.google-analytics.com). Find Me AI talks to no one it was
    not told to, so that module is made unimportable first; OpenVINO then skips telemetry.
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


def inference_engine(model: str, settings: Settings | None = None) -> str:
    """What runs ``model`` in this process, e.g. ``openvino bf16`` or ``tensorflow`` (loads it)."""
    run = _embedder(model, _limits(settings))
    if isinstance(run, _MobileFaceNetOpenVINO):
        return f"openvino {run.precision}"
    if isinstance(run, _Dlib):
        return "dlib"
    return "tensorflow"


def _mobilefacenet(path: Path, inference: str) -> Any:
    """OpenVINO runner unless ``inference`` is ``tensorflow`` or OpenVINO is not installed."""
    if inference != "tensorflow":
        try:
            return _MobileFaceNetOpenVINO(path, inference)
        except ImportError:
            pass
    return _MobileFaceNet(path)


class _Dlib:
    """dlib ResNet on dlib's own 5-point face chip (150 px, padding 0.25)."""

    def __init__(self, rec_path: Path, sp_path: Path) -> None:
        import dlib

        self.dlib = dlib
        self.rec = dlib.face_recognition_model_v1(str(rec_path))
        self.sp = dlib.shape_predictor(str(sp_path))
        self.lock = threading.Lock()

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        out = []
        with self.lock:
            for chip in chips:
                size = chip.shape[0]
                rect = self.dlib.rectangle(0, 0, size - 1, size - 1)
                shape = self.sp(chip, rect)
                face_chip = self.dlib.get_face_chip(chip, shape, size=150, padding=0.25)
                out.append(np.asarray(self.rec.compute_face_descriptor(face_chip)))
        return np.asarray(out, dtype=np.float32)


def _embedder(model: str, settings: Settings) -> Any:
    spec = _spec(model)
    path = _weight_path(settings, spec.weight_file, f"model {model}")
    settings.apply_environment()
    key = f"{model}:{path}"
    if model == "facenet":
        return _cached("model", key, lambda: _KerasFaceNet("Facenet", "prewhiten"))
    if model == "facenet512":
        return _cached("model", key, lambda: _KerasFaceNet("Facenet512", "fixed"))
    if model == "arcface":
        return _cached("model", key, _DeepFaceArcFace)
    if model == "arcface-mbf":
        return _cached("model", f"{key}:{settings.inference}",
                       lambda: _mobilefacenet(path, settings.inference))
    sp = _weight_path(settings, "shape_predictor_5_face_landmarks.dat", "model dlib")
    return _cached("model", key, lambda: _Dlib(path, sp))


def embed(chips: Sequence[np.ndarray], model: str, settings: Settings | None = None,
          batch_size: int = 32) -> np.ndarray:
    """Embed aligned crops from :func:`align` for one model, in batches.

    Returns an ``(n, dim)`` float32 array of L2-normalised vectors (``(0, dim)`` for no input).
    Raises :class:`ModelUnavailable` when the model's weights are not provisioned.
    """
    cfg = _limits(settings)
    spec = _spec(model)
    if len(chips) == 0:
        return np.zeros((0, spec.dim), dtype=np.float32)
    run = _embedder(model, cfg)
    batch = np.stack([np.asarray(c, dtype=np.uint8) for c in chips])
    if batch.shape[1:] != (spec.size, spec.size, 3):
        raise ValueError(f"{model} expects aligned {spec.size}x{spec.size} RGB crops from align(), "
                         f"got {batch.shape[1:]}")
    parts = [run(batch[i:i + batch_size]) for i in range(0, len(batch), batch_size)]
    vectors = np.concatenate(parts).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# ----------------------------------------------------------------------------- all at once


@dataclass(frozen=True)
class FaceEmbedding:
    """One face of a photo with its quality report and one vector per model."""

    face: Face
    quality: Quality
    vectors: dict[str, np.ndarray]


def represent(image: np.ndarray, models: Sequence[str] | None = None,
              settings: Settings | None = None) -> list[FaceEmbedding]:
    """Detect, assess, align and embed every face of an RGB image, largest face first.

    ``models`` defaults to ``Settings.models``. Faces of every quality are returned (each with
    its :class:`Quality`); callers decide what to keep. Each model runs once, batched over faces.
    """
    cfg = _limits(settings)
    models = list(models or cfg.models)
    faces = detect(image, cfg)
    per_model = {m: embed([align(image, f, m) for f in faces], m, cfg) for m in models}
    return [FaceEmbedding(f, assess(image, f, cfg), {m: per_model[m][i] for m in models})
            for i, f in enumerate(faces)]


def embed_largest_faces(paths: Sequence[str | Path], models: Sequence[str],
                        settings: Settings | None = None,
                        transform: Callable[[np.ndarray, list[Face]], np.ndarray] | None = None,
                        progress: Callable[[int], None] | None = None
                        ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The largest face of each photo file, embedded with each model.

    Returns ``({model: (n, dim) vectors}, has_face)``; a photo without a detectable face keeps
    a zero row and ``has_face[i] = False`` so callers count it rather than lose it.
    ``transform(image, faces)`` may alter each image first (e.g. degrade it on purpose);
    ``progress(done)`` is called after each photo.
    """
    cfg = _limits(settings)
    vectors = {m: np.zeros((len(paths), _spec(m).dim), np.float32) for m in models}
    has_face = np.zeros(len(paths), bool)
    for k, path in enumerate(paths):
        image = load_image(path, cfg)
        if transform is not None:
            image = transform(image, detect(image, cfg))
        found = represent(image, models, cfg)
        if found:
            has_face[k] = True
            for m in models:
                vectors[m][k] = found[0].vectors[m]
        if progress:
            progress(k + 1)
    return vectors, has_face
