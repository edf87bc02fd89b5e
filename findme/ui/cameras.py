"""What the CCTV page shows of scans and cameras, as plain values (no widgets here).

In: :class:`~findme.video.scans.ScanRecord` / :class:`~findme.video.scans.CameraSummary` values
and the page's own state dict. Out: sentences, table rows and frame-strip images; the page only
draws them.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from findme.config import Settings
from findme.ui import refresh
from findme.ui.text import safe
from findme.video import scans, strips


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 sighting`` / ``3 sightings``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def job_heading(job: scans.ScanRecord) -> str:
    """``#3 Gate camera · Main entrance · clip.mp4 · done`` (the location typed, when any);
    plain text: the page escapes it."""
    parts = [f"#{job.id} {job.camera}"]
    if job.location:
        parts.append(job.location)
    parts += [scans.source_name(job.source), job.status]
    return " · ".join(parts)


def job_summary(job: scans.ScanRecord, sightings: int | None = None) -> str:
    """``12 s of video, 60 frames · 2.1x real time · 1 sighting among 4 faces seen``: what a
    scan did; the counts of faces only once it has ended (``sightings``: sightings of cases
    that still exist; default: all of the row's)."""
    text = f"{job.done_s:.0f} s of video, {plural(job.frames, 'frame')}"
    if job.speed:
        text += f" · {job.speed:.2g}x real time"
    if job.status in ("done", "stopped"):
        n = len(job.sightings or []) if sightings is None else sightings
        text += f" · {plural(n, 'sighting')}"
        if job.faces_tracked is not None:
            text += f" among {plural(job.faces_tracked, 'face')} seen"
    return text


def camera_rows(items: Sequence[scans.CameraSummary]) -> list[dict[str, Any]]:
    """One table row per camera (no empty cells: a missing location reads "not given"). The
    names people typed are escaped: ``st.table`` renders Markdown in its cells."""
    return [{"camera": safe(c.camera), "location": safe(c.location) if c.location
             else "not given",
             "last scan": f"#{c.last_scan_id} · {c.last_status} · "
                          f"{c.last_scan_at:%Y-%m-%d %H:%M} UTC",
             "scans": c.scans, "sightings": c.sightings, "faces seen": c.faces_seen}
            for c in items]


def finished_changed(state: MutableMapping[str, Any], jobs: Sequence[scans.ScanRecord]
                     ) -> bool:
    """Whether a scan that was running when the page last looked has ended since (the page
    then reruns whole, so its sightings picker shows the new scan). Remembers what runs in
    ``state`` (the page's own state dict)."""
    return refresh.ended(state, "cctv_running", refresh.under_way(jobs))


def picker_key(finished: Sequence[scans.ScanRecord]) -> str:
    """The sightings picker's widget key: new whenever a newer scan has sightings, so the
    picker then starts on the newest scan instead of keeping an old choice."""
    return f"scan_pick_{finished[0].id}" if finished else "scan_pick"


def strip(settings: Settings, sighting: dict) -> list[tuple[bytes, str]]:
    """A sighting's kept frames as (JPEG bytes, caption "12.4 s"), the ones still on disk."""
    out = []
    for f in sighting.get("strip") or []:
        data = strips.read(settings, f.get("path", ""))
        if data:
            out.append((data, f"{float(f.get('t', 0.0)):.1f} s"))
    return out
