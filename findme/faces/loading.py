"""Loading native models once per process: the cache, the weight-file check, quiet start-up.

Every detector and recognition model is built lazily on first use through :func:`cached`, under
one lock, with the C++ start-up noise of TensorFlow / OpenVINO hidden
(:func:`native_stderr_silenced`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from findme.config import Settings


class ModelUnavailable(RuntimeError):
    """A model or detector whose weights are not provisioned; the message says what to run."""


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


def cached(kind: str, key: str, build: Any) -> Any:
    """Build an expensive object once per process (thread-safe, start-up noise hidden)."""
    with _lock:
        if (kind, key) not in _cache:
            with native_stderr_silenced():
                _cache[(kind, key)] = build()
        return _cache[(kind, key)]


def weight_path(settings: Settings, filename: str, what: str) -> Path:
    """The provisioned file ``filename`` in ``Settings.model_dir``, or :class:`ModelUnavailable`
    saying what to run (``what`` names the model or detector)."""
    path = settings.model_dir / filename
    if not path.is_file():
        raise ModelUnavailable(f"{what}: {filename} is not provisioned in {settings.model_dir}; "
                               "run `findme provision` (or `make run`)")
    return path
