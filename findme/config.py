"""One settings object, read from environment variables (``FINDME_*``), the secrets file and
defaults.

Every setting is a ``FINDME_*`` name. It is looked up in the environment first, then in the
secrets file (``.streamlit/secrets.toml`` in the working folder, or ``FINDME_SECRETS_FILE``; a flat
TOML table of ``FINDME_*`` keys, git-ignored, documented in ``.streamlit/secrets.toml.example``),
then the default applies.

``FINDME_DATA_DIR`` (default ``./data``) is the root of everything the app writes. Weights live in
``$FINDME_DATA_DIR/weights``; DeepFace's home (``DEEPFACE_HOME``) points there, so DeepFace keeps
its own files in ``$FINDME_DATA_DIR/weights/.deepface/weights``. A test isolates all state by
setting ``FINDME_DATA_DIR`` alone.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_MODELS = ("facenet", "arcface-mbf")
#: how ``arcface-mbf`` runs: ``f32`` (default) = OpenVINO in float32, the same scores and
#: decisions on every CPU; ``bf16`` = OpenVINO at the CPU's best precision (bfloat16 where the CPU
#: computes it natively, float32 elsewhere: faster on such CPUs, but scores move, so it needs a
#: calibration made in bfloat16, checked at load); ``tensorflow`` = the plain TensorFlow graph
#: (also the fallback when OpenVINO is not installed). ``auto``, the old default, means ``bf16``.
INFERENCE_CHOICES = ("f32", "bf16", "tensorflow", "auto")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


_SECRETS: dict[str, str] = {}


def _secrets_file() -> Path:
    return Path(os.environ.get("FINDME_SECRETS_FILE") or ".streamlit/secrets.toml")


def _load_secrets() -> dict[str, str]:
    """``FINDME_*`` keys of the secrets file as strings ({} when there is no file)."""
    path = _secrets_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    out = {}
    for key, value in data.items():
        if key.startswith("FINDME_") and not isinstance(value, dict):
            if isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, list):
                value = ",".join(str(v) for v in value)
            out[key] = str(value)
    return out


def _raw(name: str) -> str | None:
    """The value of a setting: environment first, then the secrets file."""
    value = os.environ.get(name)
    return value if value is not None else _SECRETS.get(name)


def _env_str(name: str, default: str = "") -> str:
    raw = _raw(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def _env_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false")


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = _raw(name)
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
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env_str(name, default).strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def _env_networks(name: str) -> tuple[str, ...]:
    """Comma-separated IP networks (``10.0.0.0/8,192.168.1.0/24``), each checked."""
    import ipaddress

    out = []
    for part in _env_list(name, ()):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError as exc:
            raise ConfigError(f"{name}: {part!r} is not an IP network ({exc})") from exc
    return tuple(out)


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :func:`get_settings` (cached) or :meth:`from_env`."""

    data_dir: Path
    models: tuple[str, ...] = DEFAULT_MODELS
    detector: str = "centerface"
    inference: str = "f32"
    flip: bool = True
    max_pixels: int = 40_000_000
    max_file_bytes: int = 50 * 2**20
    max_image_bytes: int = 512 * 2**20
    max_frame_pixels: int = 9_000_000
    max_request_bytes: int = 2 * 2**30
    min_face_px: int = 32
    detect_max_side: int = 640
    detect_threshold: float = 0.5
    min_sharpness: float = 35.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    max_yaw_deg: float = 45.0
    max_roll_deg: float = 40.0
    min_detector_score: float = 0.6
    database_url: str = field(default="", repr=False)  # may carry a password
    chroma_url: str = ""
    chroma_token: str = field(default="", repr=False)
    broker_url: str = field(default="", repr=False)
    queue_heartbeat_seconds: float = 60.0
    hnsw_ef_search: int = 150
    hnsw_ef_construction: int = 200
    hnsw_max_neighbors: int = 48
    search_candidates: int = 50
    calibration_file: str = ""
    store_wait_seconds: float = 30.0
    weights_root: Path | None = None
    # people and review
    two_person_rule: bool = False
    found_retention_days: int = 365  # closed / identified found records are erased after it
    lockout_attempts: int = 5
    lockout_minutes: float = 15.0
    signin_limit_client: int = 30
    signin_window_minutes: float = 15.0
    idle_minutes: float = 30.0
    session_hours: float = 12.0
    bcrypt_rounds: int = 12
    public_url: str = "http://127.0.0.1:8501"
    # alerts (secrets are kept out of repr so they never reach a log or a page)
    alert_possible: bool = False
    alert_cooldown_seconds: float = 3600.0
    alert_from: str = ""
    alert_emails: tuple[str, ...] = ()
    alert_phones: tuple[str, ...] = ()
    sendgrid_api_key: str = field(default="", repr=False)
    sendgrid_host: str = "https://api.sendgrid.com"
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from: str = ""
    twilio_base_url: str = ""
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    alert_timeout_seconds: float = 10.0
    alert_max_attempts: int = 8
    alert_backoff_seconds: float = 5.0
    alert_lease_seconds: float = 120.0
    alert_worker: bool = True
    sighting_cooldown_seconds: float = 600.0
    video_every_seconds: float = 0.2
    ice_servers: str = ""
    camera_networks: tuple[str, ...] = ()

    @property
    def weights_dir(self) -> Path:
        """Root of everything model-related: provisioned files, sources, manifest
        (``$FINDME_DATA_DIR/weights`` unless ``FINDME_WEIGHTS_DIR`` says otherwise)."""
        return self.weights_root or self.data_dir / "weights"

    @property
    def demo_dir(self) -> Path:
        """The demo workspace's own data folder (sample cases, never real ones)."""
        return self.data_dir / "demo"

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
        """Read ``FINDME_*`` settings (environment, then secrets file); raises
        :class:`ConfigError` naming a bad one."""
        _SECRETS.clear()
        _SECRETS.update(_load_secrets())
        data_dir = Path(_env_str("FINDME_DATA_DIR", "./data")).expanduser().resolve()
        weights = _env_str("FINDME_WEIGHTS_DIR")
        models = _env_list("FINDME_MODELS", DEFAULT_MODELS)
        if not models:
            raise ConfigError("FINDME_MODELS names no model")
        return cls(
            data_dir=data_dir,
            models=models,
            detector=_env_str("FINDME_DETECTOR", "centerface"),
            inference=_env_choice("FINDME_INFERENCE", "f32", INFERENCE_CHOICES).replace(
                "auto", "bf16"),
            flip=_env_bool("FINDME_FLIP", True),
            max_pixels=_env_int("FINDME_MAX_PIXELS", 40_000_000, minimum=1),
            max_file_bytes=_env_int("FINDME_MAX_FILE_BYTES", 50 * 2**20, minimum=1),
            max_image_bytes=_env_int("FINDME_MAX_IMAGE_BYTES", 512 * 2**20, minimum=2**20),
            max_frame_pixels=_env_int("FINDME_MAX_FRAME_PIXELS", 9_000_000, minimum=1),
            max_request_bytes=_env_int("FINDME_MAX_REQUEST_BYTES", 2 * 2**30, minimum=2**20),
            min_face_px=_env_int("FINDME_MIN_FACE_PX", 32, minimum=1),
            detect_max_side=_env_int("FINDME_DETECT_MAX_SIDE", 640, minimum=64),
            detect_threshold=_env_float("FINDME_DETECT_THRESHOLD", 0.5),
            min_sharpness=_env_float("FINDME_MIN_SHARPNESS", 35.0),
            min_detector_score=_env_float("FINDME_MIN_DETECTOR_SCORE", 0.6),
            max_yaw_deg=_env_float("FINDME_MAX_YAW_DEG", 45.0),
            max_roll_deg=_env_float("FINDME_MAX_ROLL_DEG", 40.0),
            database_url=_env_str("FINDME_DATABASE_URL"),
            chroma_url=_env_str("FINDME_CHROMA_URL"),
            chroma_token=_env_str("FINDME_CHROMA_TOKEN"),
            broker_url=_env_str("FINDME_BROKER_URL"),
            queue_heartbeat_seconds=_env_float("FINDME_QUEUE_HEARTBEAT", 60.0),
            hnsw_ef_search=_env_int("FINDME_HNSW_EF_SEARCH", 150, minimum=10),
            hnsw_ef_construction=_env_int("FINDME_HNSW_EF_CONSTRUCTION", 200, minimum=10),
            hnsw_max_neighbors=_env_int("FINDME_HNSW_M", 48, minimum=4),
            search_candidates=_env_int("FINDME_SEARCH_CANDIDATES", 50, minimum=1),
            calibration_file=_env_str("FINDME_CALIBRATION_FILE"),
            store_wait_seconds=_env_float("FINDME_STORE_WAIT", 30.0),
            weights_root=Path(weights).expanduser().resolve() if weights else None,
            two_person_rule=_env_bool("FINDME_TWO_PERSON_RULE", False),
            found_retention_days=_env_int("FINDME_FOUND_RETENTION_DAYS", 365, minimum=0),
            lockout_attempts=_env_int("FINDME_LOCKOUT_ATTEMPTS", 5, minimum=1),
            lockout_minutes=_env_float("FINDME_LOCKOUT_MINUTES", 15.0),
            signin_limit_client=_env_int("FINDME_SIGNIN_LIMIT_CLIENT", 30, minimum=1),
            signin_window_minutes=_env_float("FINDME_SIGNIN_WINDOW_MINUTES", 15.0),
            idle_minutes=_env_float("FINDME_IDLE_MINUTES", 30.0),
            session_hours=_env_float("FINDME_SESSION_HOURS", 12.0),
            bcrypt_rounds=_env_int("FINDME_BCRYPT_ROUNDS", 12, minimum=4),
            public_url=_env_str("FINDME_PUBLIC_URL", "http://127.0.0.1:8501").rstrip("/"),
            alert_possible=_env_bool("FINDME_ALERT_POSSIBLE", False),
            alert_cooldown_seconds=_env_float("FINDME_ALERT_COOLDOWN", 3600.0),
            alert_from=_env_str("FINDME_ALERT_FROM"),
            alert_emails=_env_list("FINDME_ALERT_EMAILS", ()),
            alert_phones=_env_list("FINDME_ALERT_PHONES", ()),
            sendgrid_api_key=_env_str("FINDME_SENDGRID_API_KEY"),
            sendgrid_host=_env_str("FINDME_SENDGRID_HOST", "https://api.sendgrid.com").rstrip("/"),
            twilio_account_sid=_env_str("FINDME_TWILIO_ACCOUNT_SID"),
            twilio_auth_token=_env_str("FINDME_TWILIO_AUTH_TOKEN"),
            twilio_from=_env_str("FINDME_TWILIO_FROM"),
            twilio_base_url=_env_str("FINDME_TWILIO_BASE_URL").rstrip("/"),
            webhook_url=_env_str("FINDME_WEBHOOK_URL"),
            webhook_secret=_env_str("FINDME_WEBHOOK_SECRET"),
            alert_timeout_seconds=_env_float("FINDME_ALERT_TIMEOUT", 10.0),
            alert_max_attempts=_env_int("FINDME_ALERT_MAX_ATTEMPTS", 8, minimum=1),
            alert_backoff_seconds=_env_float("FINDME_ALERT_BACKOFF", 5.0),
            alert_lease_seconds=_env_float("FINDME_ALERT_LEASE", 120.0),
            alert_worker=_env_bool("FINDME_ALERT_WORKER", True),
            sighting_cooldown_seconds=_env_float("FINDME_SIGHTING_COOLDOWN", 600.0),
            video_every_seconds=_env_float("FINDME_VIDEO_EVERY", 0.2),
            ice_servers=_env_str("FINDME_ICE_SERVERS"),
            camera_networks=_env_networks("FINDME_CAMERA_NETWORKS"),
        )

    def apply_environment(self) -> None:
        """Once, at process start (:func:`get_settings` does it): point DeepFace and TensorFlow
        at this data folder and quieten FFmpeg's own log lines (damaged video is reported as
        warnings instead), and make every file the process writes private to its user (umask
        077). Nothing else writes ``os.environ`` after start."""
        os.environ["DEEPFACE_HOME"] = str(self.deepface_home)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        os.umask(0o077)  # photos, crops, vectors and records: readable by this user only


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    settings = Settings.from_env()
    settings.apply_environment()
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change ``FINDME_*`` variables between cases)."""
    get_settings.cache_clear()
