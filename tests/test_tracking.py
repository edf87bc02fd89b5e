"""Tracking and sighting merging without any model: boxes in, tracks out (milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass

from findme.video.tracking import IoUTracker, iou, merge_sighting


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_walking_face_keeps_its_track_and_a_newcomer_gets_one() -> None:
    tracker = IoUTracker(iou_threshold=0.3, max_gap_s=1.0)
    first = tracker.update([(100, 100, 50, 50)], 0.0)
    ids = [first[0].id]
    for k in range(1, 6):  # moves 8 px per frame: stays one track
        (tr,) = tracker.update([(100 + 8 * k, 100, 50, 50)], 0.2 * k)
        ids.append(tr.id)
    assert len(set(ids)) == 1 and tracker.tracks[0].frames == 6
    a, b = tracker.update([(140, 100, 50, 50), (600, 300, 40, 40)], 1.2)
    assert a.id == ids[0] and b.id != a.id and b.first_s == 1.2
    assert tracker.end(1.5) == []  # both seen recently


def test_each_track_takes_one_box_per_frame_best_overlap_first() -> None:
    tracker = IoUTracker(0.3, 1.0)
    (t1,) = tracker.update([(0, 0, 100, 100)], 0.0)
    # two faces overlap the old box; the better overlap continues it, the other is new
    near, far = tracker.update([(60, 0, 100, 100), (10, 0, 100, 100)], 0.2)
    assert far.id == t1.id and near.id != t1.id


def test_tracks_end_after_the_gap_and_all_at_the_end() -> None:
    tracker = IoUTracker(0.3, max_gap_s=1.0)
    (a,) = tracker.update([(0, 0, 40, 40)], 0.0)
    (b,) = tracker.update([(300, 300, 40, 40)], 0.8)
    assert [t.id for t in tracker.end(1.5)] == [a.id]  # a unseen for 1.5 s > 1.0
    (again,) = tracker.update([(0, 0, 40, 40)], 1.6)
    assert again.id not in (a.id, b.id)  # an ended track is never continued
    assert {t.id for t in tracker.end(None)} == {b.id, again.id} and tracker.tracks == []


def test_a_box_after_a_long_gap_starts_a_new_track() -> None:
    tracker = IoUTracker(0.3, max_gap_s=1.0)
    (a,) = tracker.update([(0, 0, 40, 40)], 0.0)
    (b,) = tracker.update([(0, 0, 40, 40)], 2.0)  # same place, but 2 s later
    assert b.id != a.id


@dataclass(frozen=True)
class _S:
    case_id: int
    score: float
    first_s: float
    last_s: float
    frames: int


def test_sightings_of_one_case_that_touch_merge() -> None:
    out = merge_sighting([], _S(1, 0.7, 0.0, 2.0, 5), gap_s=1.0)
    out = merge_sighting(out, _S(1, 0.9, 2.5, 4.0, 3), gap_s=1.0)  # 0.5 s later: same visit
    assert out == [_S(1, 0.9, 0.0, 4.0, 8)]
    out = merge_sighting(out, _S(2, 0.8, 3.0, 5.0, 2), gap_s=1.0)  # another case: kept apart
    out = merge_sighting(out, _S(1, 0.6, 9.0, 10.0, 2), gap_s=1.0)  # much later: a new visit
    assert [(s.case_id, s.first_s) for s in out] == [(1, 0.0), (2, 3.0), (1, 9.0)]
    assert out[0].score == 0.9  # the better-scoring sighting's details survive a merge
