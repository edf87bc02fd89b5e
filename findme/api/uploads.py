"""Uploaded files of a request, read within the dashboard's budgets.

Each file at most ``FINDME_MAX_FILE_BYTES`` (``413`` naming it otherwise), all of a request at
most ``FINDME_MAX_REQUEST_BYTES`` (the body limit of :mod:`findme.api.limits` holds it too).
"""

from __future__ import annotations

from fastapi import UploadFile

from findme.api.errors import ApiError
from findme.config import Settings


def file_name(upload: UploadFile, default: str) -> str:
    """The client's file name (its last path part, at most 200 characters), or ``default``."""
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or default


def read(upload: UploadFile, limit: int, default: str = "upload") -> tuple[str, bytes]:
    """``(name, bytes)`` of one uploaded file; ``413`` when it is larger than ``limit``."""
    name = file_name(upload, default)
    upload.file.seek(0)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"{name}: larger than {limit / 2**20:.0f} MB")
    return name, data


def read_all(uploads: list[UploadFile], settings: Settings, default: str = "photo"
             ) -> list[tuple[str, bytes]]:
    """Every file of a request as ``(name, bytes)``, each within ``max_file_bytes`` and all
    within ``max_request_bytes``."""
    out, total = [], 0
    for k, up in enumerate(uploads, 1):
        name, data = read(up, settings.max_file_bytes, f"{default}-{k}")
        total += len(data)
        if total > settings.max_request_bytes:
            raise ApiError(413, f"the files of one request may hold at most "
                                f"{settings.max_request_bytes / 2**20:.0f} MB")
        out.append((name, data))
    return out
