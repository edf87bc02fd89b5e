"""``findme scan`` and ``findme watch``: CCTV footage from the command line.

``scan`` prints ``{"sightings": [{"case_id", "name", "score", "decision", "first_s", "last_s",
"frames", "lead_id"}], "warnings": [...], ...}``; progress goes to stderr. ``watch`` scans every
new video file that appears in a folder (once its size stops changing), one JSON line per file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from findme.cli.common import fail as _fail
from findme.config import Settings
from findme.video.frames import VIDEO_SUFFIXES, VideoError, check_camera_url, is_stream, redact


def _progress(done: float, duration: float | None, frames: int, speed: float) -> None:
    total = f"/{duration:.0f}" if duration else ""
    print(f"\r{done:7.1f}{total} s  {frames} frames  {speed:.1f}x real time", end="",
          file=sys.stderr, flush=True)


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan one video file or stream URL for registered children."""
    from findme.config import get_settings
    from findme.search.store import StoreBusy
    from findme.video import scans
    from findme.workspace import open_workspace

    settings = get_settings()
    if not is_stream(args.source) and not Path(args.source).is_file():
        return _fail(f"{args.source}: no such file")
    camera = args.camera or (Path(args.source).stem if not is_stream(args.source)
                             else redact(args.source))
    if args.queue:
        return _submit(settings, args, camera)
    try:
        ws = open_workspace(settings)
    except StoreBusy as exc:
        return _fail(f"{exc} (is the dashboard running? use its CCTV page)", 1)
    try:
        scan_id, result = scans.run_scan(ws, args.source, camera, args.every, args.location,
                                         args.actor, not args.no_leads,
                                         progress=None if args.quiet else _progress)
        if not args.quiet:
            print(file=sys.stderr)
        job = scans.get(ws.records, scan_id)
        if result is None:
            return _fail(job.error or "the video could not be read")
        out = {"scan_id": scan_id, "camera": camera,
               "sightings": scans.with_names(ws.records, job.sightings),
               "warnings": job.warnings or [], "frames": job.frames,
               "seconds": round(result.processed_s, 2), "speed": round(result.speed, 2),
               "faces_seen": result.faces_seen, "unknown_tracks": result.unknown_tracks}
        if args.json:
            print(json.dumps(out))
        else:
            for s in out["sightings"]:
                print(f"#{s['case_id']} {s['name']}: {s['decision']} {s['score']:.2f} "
                      f"from {s['first_s']:.1f} s to {s['last_s']:.1f} s")
            for w in out["warnings"]:
                print(f"warning: {w}", file=sys.stderr)
        return 0
    finally:
        ws.close()


def _submit(settings: Settings, args: argparse.Namespace, camera: str) -> int:
    """``findme scan --queue``: hand the video to the task queue; prints the job id."""
    from findme import queue
    from findme.cases.records import open_records

    if is_stream(args.source):
        try:
            check_camera_url(args.source, settings.camera_networks)
        except VideoError as exc:
            return _fail(str(exc))
    source = args.source if is_stream(args.source) else str(Path(args.source).resolve())
    records = open_records(settings)
    try:
        scan_id = queue.submit(records, source, camera, args.every, args.location, args.actor)
    except ValueError as exc:
        return _fail(str(exc))
    finally:
        records.engine.dispose()
    print(json.dumps({"scan_id": scan_id, "camera": camera, "status": "queued"}) if args.json
          else f"scan job {scan_id} queued")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """``findme worker``: take scan and import jobs from the task queue until stopped."""
    from findme import queue
    from findme.config import get_settings

    settings = get_settings()
    if not settings.broker_url:
        return _fail("no task queue: set FINDME_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    if not settings.chroma_url:
        return _fail("workers share a Chroma server: set FINDME_CHROMA_URL")
    queue.run_worker(settings, args.threads)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Scan new video files in a folder as they appear (``--once``: what is there now)."""
    from findme.config import get_settings
    from findme.search.store import StoreBusy
    from findme.video import scans
    from findme.workspace import open_workspace

    folder = Path(args.folder)
    if not folder.is_dir():
        return _fail(f"{folder}: not a folder")
    try:
        ws = open_workspace(get_settings())
    except StoreBusy as exc:
        return _fail(f"{exc} (is the dashboard running?)", 1)
    sizes: dict[Path, int] = {}
    try:
        while True:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
                    continue
                size = path.stat().st_size
                steady = args.once or sizes.get(path) == size
                sizes[path] = size
                fp = scans.fingerprint(path)
                if not steady or size == 0 or scans.scanned(ws.records, fp):
                    continue
                if ws.settings.broker_url:  # a worker scans it; the fingerprint is kept now
                    from findme import queue

                    scan_id = queue.submit(ws.records, str(path.resolve()),
                                           args.camera or path.stem, args.every, None,
                                           args.actor, fp=fp)
                    print(json.dumps({"file": str(path), "scan_id": scan_id,
                                      "status": "queued"}), flush=True)
                    continue
                scan_id, result = scans.run_scan(ws, str(path), args.camera or path.stem,
                                                 args.every, None, args.actor, True, fp=fp)
                job = scans.get(ws.records, scan_id)
                print(json.dumps({"file": str(path), "scan_id": scan_id, "status": job.status,
                                  "sightings": scans.with_names(ws.records, job.sightings),
                                  "warnings": job.warnings or [], "error": job.error}),
                      flush=True)
            if args.once:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        ws.close()


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``scan`` and ``watch`` to the ``findme`` parser."""
    from findme.config import get_settings

    every = get_settings().video_every_seconds
    p = sub.add_parser("scan", help="find registered children in a video file or stream")
    p.add_argument("source", metavar="VIDEO|URL")
    p.add_argument("--camera", help="camera name (default: the file name)")
    p.add_argument("--location", help="where the camera is")
    p.add_argument("--every", type=float, default=every,
                   help=f"seconds between sampled frames (default {every})")
    p.add_argument("--no-leads", action="store_true", help="report only; record no leads")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--actor", default="cli")
    p.add_argument("--queue", action="store_true",
                   help="hand it to the task queue (FINDME_BROKER_URL) instead of scanning here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("worker",
                       help="take scan and import jobs from the task queue (FINDME_BROKER_URL)")
    p.add_argument("--threads", type=int, default=1, help="jobs at a time (default 1)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("watch", help="scan new video files in a folder as they appear")
    p.add_argument("folder")
    p.add_argument("--camera", help="camera name (default: each file's name)")
    p.add_argument("--every", type=float, default=every)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between folder checks")
    p.add_argument("--once", action="store_true", help="scan what is there now, then exit")
    p.add_argument("--actor", default="watch")
    p.set_defaults(func=cmd_watch)
