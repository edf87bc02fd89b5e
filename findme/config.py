"""One settings object, read from environment variables (``FINDME_*``) and defaults.

``FINDME_DATA_DIR`` (default ``./data``) is the root of everything the app writes. Weights live in
``$FINDME_DATA_DIR/weights``; DeepFace's home (``DEEPFACE_HOME``) points there, so DeepFace keeps
its own files in ``$FINDME_DATA_DIR/weights/.deepface/weights``. A test isolates all state by
setting ``FINDME_DATA_DIR`` alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_MODELS = ("facenet", "arcface-mbf")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(float(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :func:`get_settings` (cached) or :meth:`from_env`."""

    data_dir: Path
    models: tuple[str, ...] = DEFAULT_MODELS
    detector: str = "centerface"
    max_pixels: int = 40_000_000
    max_file_bytes: int = 50 * 2**20
    min_face_px: int = 32
    detect_max_side: int = 640
    detect_threshold: float = 0.5
    min_sharpness: float = 35.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    max_yaw_deg: float = 45.0
    max_roll_deg: float = 40.0
    min_detector_score: float = 0.6
    database_url: str = ""
    chroma_url: str = ""
    hnsw_ef_search: int = 200
    hnsw_ef_construction: int = 200
    hnsw_max_neighbors: int = 32
    search_candidates: int = 50
    calibration_file: str = ""
    store_wait_seconds: float = 30.0

    @property
    def weights_dir(self) -> Path:
        """Root of everything model-related: provisioned files, sources, manifest."""
        return self.data_dir / "weights"

    @property
    def deepface_home(self) -> Path:
        """Value for ``DEEPFACE_HOME``: DeepFace reads ``<home>/.deepface/weights``."""
        return self.weights_dir

    @property
    def model_dir(self) -> Path:
        """Folder holding every weight file (ours and DeepFace's own downloads)."""
        return self.weights_dir / ".deepface" / "weights"

    @property
    def sources_dir(self) -> Path:
        """Cache of downloaded registry packages that carry the weights."""
        return self.weights_dir / "sources"

    @property
    def eval_dir(self) -> Path:
        """Public labeled photos for tests and evaluation (ORL, 5-celebrity)."""
        return self.data_dir / "eval"

    @property
    def photos_dir(self) -> Path:
        """Registered photos (re-encoded, metadata stripped), one folder per case."""
        return self.data_dir / "photos"

    @property
    def leads_dir(self) -> Path:
        """Probe face crops kept for leads (nothing is kept for faces that match nobody)."""
        return self.data_dir / "leads"

    @property
    def chroma_dir(self) -> Path:
        """Embedded Chroma folder (used when ``chroma_url`` is empty)."""
        return self.data_dir / "chroma"

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the case database (SQLite file in the data folder by default)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'findme.db'}"

    @property
    def calibration_path(self) -> Path:
        """Where a recalibration is written; it overrides the shipped default calibration."""
        return Path(self.calibration_file) if self.calibration_file else (
            self.data_dir / "calibration.json")

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``FINDME_*`` variables; raises :class:`ConfigError` naming a bad variable."""
        data_dir = Path(os.environ.get("FINDME_DATA_DIR") or "./data").expanduser().resolve()
        models = _env_list("FINDME_MODELS", DEFAULT_MODELS)
        if not models:
            raise ConfigError("FINDME_MODELS names no model")
        return cls(
            data_dir=data_dir,
            models=models,
            detector=os.environ.get("FINDME_DETECTOR", "centerface").strip() or "centerface",
            max_pixels=_env_int("FINDME_MAX_PIXELS", 40_000_000, minimum=1),
            max_file_bytes=_env_int("FINDME_MAX_FILE_BYTES", 50 * 2**20, minimum=1),
            min_face_px=_env_int("FINDME_MIN_FACE_PX", 32, minimum=1),
            detect_max_side=_env_int("FINDME_DETECT_MAX_SIDE", 640, minimum=64),
            detect_threshold=_env_float("FINDME_DETECT_THRESHOLD", 0.5),
            min_sharpness=_env_float("FINDME_MIN_SHARPNESS", 35.0),
            min_detector_score=_env_float("FINDME_MIN_DETECTOR_SCORE", 0.6),
            max_yaw_deg=_env_float("FINDME_MAX_YAW_DEG", 45.0),
            max_roll_deg=_env_float("FINDME_MAX_ROLL_DEG", 40.0),
            database_url=os.environ.get("FINDME_DATABASE_URL", "").strip(),
            chroma_url=os.environ.get("FINDME_CHROMA_URL", "").strip(),
            hnsw_ef_search=_env_int("FINDME_HNSW_EF_SEARCH", 200, minimum=10),
            hnsw_ef_construction=_env_int("FINDME_HNSW_EF_CONSTRUCTION", 200, minimum=10),
            hnsw_max_neighbors=_env_int("FINDME_HNSW_M", 32, minimum=4),
            search_candidates=_env_int("FINDME_SEARCH_CANDIDATES", 50, minimum=1),
            calibration_file=os.environ.get("FINDME_CALIBRATION_FILE", "").strip(),
            store_wait_seconds=_env_float("FINDME_STORE_WAIT", 30.0),
        )

    def apply_environment(self) -> None:
        """Point DeepFace and TensorFlow at this data folder (call before importing them)."""
        os.environ["DEEPFACE_HOME"] = str(self.deepface_home)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    settings = Settings.from_env()
    settings.apply_environment()
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change ``FINDME_*`` variables between cases)."""
    get_settings.cache_clear()
