"""Where the detector looks in video (pure: no weights)."""

from __future__ import annotations

import numpy as np

from findme.video.regions import DetectionPlan, grow


def _frame(boxes: list[tuple[int, int, int, int]] = ()) -> np.ndarray:
    frame = np.full((720, 1280, 3), 60, np.uint8)
    for x, y, w, h in boxes:
        frame[y:y + h, x:x + w] = 220
    return frame


def test_grow_clips_to_the_frame() -> None:
    assert grow((100, 100, 100, 100), 0.5, 1280, 720) == (50, 50, 200, 200)
    assert grow((0, 650, 100, 100), 0.5, 1280, 720) == (0, 600, 150, 120)


def test_key_frames_tracks_motion_and_empty_scenes() -> None:
    plan = DetectionPlan(key_every=3)
    assert plan.next(_frame(), []).full  # the first frame: nothing to compare with
    still = plan.next(_frame(), [])
    assert not still.full and still.regions == ()  # no one, nothing moved: skipped
    face = (600, 300, 120, 120)
    arrived = plan.next(_frame([face]), [])
    assert arrived.full and arrived.reason == "motion"  # someone appeared
    moved = (610, 300, 120, 120)  # the tracked face moves a little: only its region
    follow = plan.next(_frame([moved]), [face])
    assert not follow.full and len(follow.regions) == 1
    region = follow.regions[0]
    assert region.box == grow(face, plan.margin, 1280, 720)
    assert region.scale == plan.face_px / 120
    assert not plan.next(_frame([moved]), [moved]).full  # still: its region again
    key = plan.next(_frame([moved]), [moved])  # the 3rd sample since the last full one
    assert key.full and key.reason == "key frame"
    newcomer = plan.next(_frame([moved, (100, 100, 90, 90)]), [moved])
    assert newcomer.full and newcomer.reason == "motion"
    assert (plan.full_frames, plan.region_frames, plan.skipped_frames) == (4, 2, 1)
