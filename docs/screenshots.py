"""Copy the guide's screenshots from the browser tests' artifacts into ``docs/img/``.

The browser tests save what a person sees under ``tests/artifacts/<test>/``; the guide shows a
chosen few of them, so its pictures are as new as the last test run and never drawn by hand.
``make test`` runs this after pytest (the screenshots are fresh then) and ``make docs`` before
``mkdocs build --strict``.

    python docs/screenshots.py              copy; when one is missing, name the test that makes
                                            it and exit 1
    python docs/screenshots.py --run        first run (with pytest) the tests whose screenshots
                                            are missing, then copy
    python docs/screenshots.py --list       print the table: guide picture <- test artifact
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
IMG = ROOT / "docs" / "img"

FLOW = "tests/test_browser_flow.py::test_register_search_confirm_in_chromium"
LIVE = "tests/test_live.py::test_live_page_names_the_enrolled_person"
CAMERAS = "tests/test_cameras_browser.py::test_camera_list_and_sighting_frames_in_chromium"
FOUND = "tests/test_browser_found.py::test_shelter_webcam_found_child_meets_the_missing_report"
DESK = "tests/test_browser_review_desk.py::test_filter_click_bulk_reject_and_add_a_face_in_chromium"
WALK = "tests/test_browser_walk.py::test_every_role_walks_every_page_in_both_workspaces"
API_DOCS = "tests/test_browser_walk.py::test_the_api_docs_page_opens_in_chromium_without_internet"

#: picture in docs/img -> (artifact under tests/artifacts, the test that saves it)
SHOTS: dict[str, tuple[str, str]] = {
    "register-photos-checked.png": ("browser-flow/2-photos-checked.png", FLOW),
    "search-match.png": ("browser-flow/4-search-match.png", FLOW),
    "review-confirmed.png": ("browser-flow/5-lead-confirmed.png", FLOW),
    "admin-audit-log.png": ("browser-flow/6-audit-log.png", FLOW),
    "live-camera-recognised.png": ("live-camera/2-recognised.png", LIVE),
    "cctv-cameras-and-sightings.png": ("cameras/cctv-camera-list-and-sightings.png", CAMERAS),
    "cctv-sighting-frame-strip.png": ("cameras/cctv-sighting-frame-strip.png", CAMERAS),
    "live-camera-no-webcam.png": ("cameras/live-camera-no-webcam.png", CAMERAS),
    "found-from-live-camera.png": ("found-child/2-found-form.png", FOUND),
    "cross-match-review.png": ("found-child/5-cross-match-review.png", FOUND),
    "review-desk-lead-opened.png": ("review-desk/3-lead-opened-by-click.png", DESK),
    "review-desk-bulk-reject.png": ("review-desk/4-bulk-reject-two-leads.png", DESK),
    "review-desk-face-added.png": ("review-desk/7-face-added-to-case.png", DESK),
    "review-desk-case-page.png": ("review-desk/8-case-page.png", DESK),
    "api-docs.png": ("walk/api-docs.png", API_DOCS),
    "real-overview.png": ("walk/real-overview.png", WALK),
    "real-register-a-case.png": ("walk/real-register-a-case.png", WALK),
    "real-admin.png": ("walk/real-admin.png", WALK),
    "real-admin-status.png": ("walk/real-admin-status.png", WALK),
    "real-review-leads.png": ("walk/real-review-leads.png", WALK),
    "demo-overview.png": ("walk/demo-overview.png", WALK),
    "demo-cases.png": ("walk/demo-cases.png", WALK),
    "demo-search-photos.png": ("walk/demo-search-photos.png", WALK),
    "demo-review-leads.png": ("walk/demo-review-leads.png", WALK),
    "demo-live-camera.png": ("walk/demo-live-camera.png", WALK),
    "demo-cctv-footage.png": ("walk/demo-cctv-footage.png", WALK),
    "demo-alerts.png": ("walk/demo-alerts.png", WALK),
    "demo-evaluation.png": ("walk/demo-evaluation.png", WALK),
}


def missing() -> dict[str, list[str]]:
    """Tests to run -> the artifacts of theirs that are not there."""
    out: dict[str, list[str]] = {}
    for artifact, test in SHOTS.values():
        if not (ARTIFACTS / artifact).is_file():
            out.setdefault(test, []).append(artifact)
    return out


def copy() -> int:
    """Copy every picture whose artifact exists; return how many were copied."""
    IMG.mkdir(parents=True, exist_ok=True)
    copied = 0
    for picture, (artifact, _) in SHOTS.items():
        source = ARTIFACTS / artifact
        if source.is_file():
            shutil.copyfile(source, IMG / picture)
            copied += 1
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true",
                        help="run the browser tests whose screenshots are missing first")
    parser.add_argument("--list", action="store_true", help="print picture <- artifact <- test")
    args = parser.parse_args(argv)
    if args.list:
        for picture, (artifact, test) in SHOTS.items():
            print(f"docs/img/{picture} <- tests/artifacts/{artifact} <- {test}")
        return 0
    todo = missing()
    if todo and args.run:
        tests = sorted(todo)
        print("docs/screenshots.py: running the browser tests that take the missing "
              f"screenshots: {' '.join(tests)}", flush=True)
        # what those tests need (weights, public photos, Chromium), as `make test` sets it up
        ready = subprocess.run(["make", "--no-print-directory", "setup", "eval-data",
                                "system-packages"], cwd=ROOT)
        if ready.returncode != 0:
            return ready.returncode
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", *tests], cwd=ROOT)
        if done.returncode != 0:
            print("docs/screenshots.py: those tests failed, so the guide cannot show their "
                  "screenshots", file=sys.stderr)
            return done.returncode
        todo = missing()
    copied = copy()
    if todo:
        for test, artifacts in sorted(todo.items()):
            names = ", ".join(f"tests/artifacts/{a}" for a in artifacts)
            print(f"docs/screenshots.py: missing {names}: run `.venv/bin/pytest {test}` "
                  "(or `make docs`, which runs it), then build the guide again", file=sys.stderr)
        return 1
    print(f"docs/screenshots.py: {copied} screenshots copied into docs/img/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
