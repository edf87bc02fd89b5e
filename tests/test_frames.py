"""Reading video: frames over the pixel budget are refused before they are decoded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from findme.video.frames import FrameReport, VideoError, frames
from tests.memory import SNIPPET


def _avi(path: Path, width: int, height: int, n: int = 3) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (width, height))
    frame = np.full((height, width, 3), 90, np.uint8)
    for _ in range(n):
        writer.write(frame)
    writer.release()
    return path


def test_frames_over_the_limit_are_refused(tmp_path: Path) -> None:
    video = _avi(tmp_path / "small.avi", 320, 240)
    assert len(list(frames(video, 0.2, FrameReport(), max_pixels=320 * 240))) == 3
    with pytest.raises(VideoError, match=r"320x240 .* over the 0\.1 MP limit"):
        list(frames(video, 0.2, FrameReport(), max_pixels=50_000))


_SCAN = """
import resource, sys
from findme.config import get_settings
from findme.video.frames import FrameReport, VideoError, frames
base = peak_reset()
try:
    n = len(list(frames(sys.argv[1], 0.2, FrameReport(),
                        max_pixels=get_settings().max_frame_pixels)))
    outcome = f"read {n}"
except VideoError as exc:
    outcome = "refused"
print(outcome, peak_grown(base))
"""


def test_a_small_video_of_huge_frames_is_refused_without_decoding(tmp_path: Path) -> None:
    """A few-hundred-KB AVI of 8000 x 6000 frames (each would take 144 MB decoded, more in
    FFmpeg's buffers) is refused from its header in a fresh process: almost no memory used."""
    video = _avi(tmp_path / "huge.avi", 8000, 6000, n=8)
    assert video.stat().st_size < 4 * 2**20
    out = subprocess.run([sys.executable, "-c", SNIPPET + _SCAN, str(video)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "refused" and int(out[1]) < 64 * 2**20, out
