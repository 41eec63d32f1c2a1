"""The face tracker: gaps bridged, faces hidden before their first detection, one id per face, no sudden shrink."""

import numpy as np
import pytest

from anonymizer.faces import Face, estimate_landmarks
from anonymizer.tracking import FaceTracker, Track, _keyframes, boxes_at


def face_at(x: float, y: float, size: float = 40.0) -> Face:
    box = np.array([x, y, x + size, y + size], dtype=np.float32)
    return Face(box=box, score=0.9, landmarks=estimate_landmarks(box))


def run(tracker: FaceTracker, detections: list[list[Face]]) -> list[list[Face]]:
    out = []
    for i, faces in enumerate(detections):
        out.extend(tracker.push(i, faces))
    out.extend(tracker.finish())
    assert [i for i, _ in out] == list(range(len(detections))), "every frame once, in order"
    return [faces for _, faces in out]


def covers(hidden: list[Face], truth: np.ndarray, share: float = 0.95) -> bool:
    """Some hidden box covers ``share`` of the true box."""
    area = (truth[2] - truth[0]) * (truth[3] - truth[1])
    for face in hidden:
        b = face.box
        w = max(0.0, min(b[2], truth[2]) - max(b[0], truth[0]))
        h = max(0.0, min(b[3], truth[3]) - max(b[1], truth[1]))
        if w * h >= share * area:
            return True
    return False


def test_missed_frames_are_hidden_at_the_interpolated_place():
    truth = [np.array([10 + 6 * i, 50 + 2 * i, 50 + 6 * i, 90 + 2 * i], dtype=np.float32) for i in range(60)]
    missed = {10, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 41}
    detections = [[] if i in missed else [face_at(t[0], t[1])] for i, t in enumerate(truth)]
    hidden = run(FaceTracker(lookahead=12), detections)
    for i, t in enumerate(truth):
        assert covers(hidden[i], t), f"frame {i} not hidden"
    ids = {f.track for frame in hidden for f in frame}
    assert ids == {1}, "one face, one track"
    assert [f.source for f in hidden[10]] == ["track"] and [f.source for f in hidden[11]] == ["detector"]


def test_a_face_is_hidden_before_its_first_detection_and_after_its_last():
    detections = [[] for _ in range(40)]
    for i in range(15, 25):  # moving right 5 px a frame; the detector sees it from frame 15 to 24 only
        detections[i] = [face_at(100 + 5 * i, 100)]
    hidden = run(FaceTracker(lookahead=8, lead=5, tail=5, start=0), detections)
    for i in range(10, 30):
        assert covers(hidden[i], np.array([100 + 5 * i, 100, 140 + 5 * i, 140], dtype=np.float32)), i
    assert hidden[9] == [] and hidden[30] == []


def test_a_face_first_found_in_the_clips_first_second_is_hidden_from_its_first_frame():
    """Nothing brought it in (it is found in the middle of the picture): it was there, missed. A face first found
    later than ``start`` frames in gets the usual lead only."""
    detections = [[] for _ in range(90)]
    for i in range(12, 20):  # still, in the middle of the frame; missed until frame 12 (an arm across it)
        detections[i] = [face_at(300, 200, 80)]
    for i in range(60, 70):  # another, first found at frame 60
        detections[i] = [face_at(100, 100, 60)]
    hidden = run(FaceTracker(lookahead=12, lead=4, tail=4, frame_size=(640, 480), start=25), detections)
    for i in range(0, 24):
        assert covers(hidden[i], np.array([300, 200, 380, 280], np.float32)), i
    assert not any(covers(hidden[i], np.array([100, 100, 160, 160], np.float32)) for i in range(0, 56))
    assert all(covers(hidden[i], np.array([100, 100, 160, 160], np.float32)) for i in range(56, 74))
    # without the rule (start=0): the first face only from the usual lead before its first detection
    hidden = run(FaceTracker(lookahead=12, lead=4, tail=4, frame_size=(640, 480), start=0), detections)
    assert hidden[7] == [] and covers(hidden[8], np.array([300, 200, 380, 280], np.float32))


def test_two_faces_passing_keep_their_own_tracks():
    detections = []
    for i in range(30):
        detections.append([face_at(20 + 4 * i, 100), face_at(300 - 4 * i, 100 + 60)])
    hidden = run(FaceTracker(), detections)
    left = [f.track for frame in hidden for f in frame if f.box[1] < 130]
    right = [f.track for frame in hidden for f in frame if f.box[1] >= 130]
    assert len(set(left)) == 1 and len(set(right)) == 1 and set(left) != set(right)


def test_the_hidden_box_never_shrinks_fast_and_always_holds_the_detection():
    detections = [[face_at(100, 100, 80)] for _ in range(10)] + [[face_at(120, 120, 40)] for _ in range(20)]
    hidden = run(FaceTracker(max_shrink=0.1), detections)
    widths = [frame[0].width for frame in hidden]
    for a, b in zip(widths, widths[1:]):
        assert b >= 0.9 * a - 1e-3
    for frame, dets in zip(hidden, detections):
        d, b = dets[0].box, frame[0].box
        assert b[0] <= d[0] and b[1] <= d[1] and b[2] >= d[2] and b[3] >= d[3]


def test_boxes_are_clipped_away_when_the_track_leaves_the_frame():
    detections = [[face_at(580 + 10 * i, 100)] for i in range(3)] + [[] for _ in range(10)]
    hidden = run(FaceTracker(lead=0, tail=8, frame_size=(640, 480)), detections)
    for frame in hidden:
        for face in frame:
            assert face.box[0] < 640  # carried beyond the edge: dropped, not kept off-screen


def test_frames_must_come_in_order():
    tracker = FaceTracker()
    tracker.push(0, [])
    with pytest.raises(ValueError):
        tracker.push(2, [])


def test_report_keyframes_rebuild_every_box():
    frames = np.arange(50)
    boxes = np.stack([frames * 2.0, frames * 0.0 + 5, frames * 2.0 + 30, np.where(frames < 25, 40.0, 60.0)], axis=1)
    keep = _keyframes(frames, boxes, tolerance=1.0)
    assert len(keep) < 10
    rebuilt = np.stack([np.interp(frames, frames[keep], boxes[keep, k]) for k in range(4)], axis=1)
    assert np.abs(rebuilt - boxes).max() <= 1.0
    track = Track(id=3, hidden=[(int(f), b) for f, b in zip(frames, boxes)])
    report = track.to_report()
    assert report["first_frame"] == 0 and report["last_frame"] == 49 and report["frames"] == 50
    assert len(report["keyframes"]) == len(keep)


def test_boxes_at_rebuilds_each_frames_hidden_box_from_the_report():
    frames = np.arange(10, 40)
    boxes = np.stack([frames * 3.0, frames * 0.5, frames * 3.0 + 40, np.where(frames < 25, 50.0, 80.0)], axis=1)
    other = Track(id=7, hidden=[(f, np.array([0, 0, 20, 20], np.float32)) for f in range(30, 45)])
    reports = [Track(id=2, hidden=[(int(f), b) for f, b in zip(frames, boxes)]).to_report(), other.to_report()]
    for frame, box in zip(frames, boxes):
        found = dict(boxes_at(reports, int(frame)))
        assert np.abs(found[2] - box).max() <= 1.0
        assert (7 in found) == (frame >= 30)
    assert boxes_at(reports, 9) == [] and [i for i, _ in boxes_at(reports, 44)] == [7]


def visible_part(box: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    w, h = size
    v = np.array([max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)], dtype=np.float32)
    return v if v[2] - v[0] >= 1 and v[3] - v[1] >= 1 else None


def test_a_face_leaving_the_frame_stays_hidden_until_it_has_left_completely():
    size = (640, 480)
    truth = [np.array([500 + 6 * i, 200, 580 + 6 * i, 280], dtype=np.float32) for i in range(40)]
    # the detector sees it until half of it is out (frame 16: x2 = 676), then never again
    detections = [[face_at(t[0], t[1], 80)] if t[0] + 40 <= size[0] else [] for t in truth]
    hidden = run(FaceTracker(lookahead=12, tail=4, frame_size=size), detections)
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    assert shown[-1] > 16 + 4, "the face is still in the picture after the usual tail"
    for i in shown:
        assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the sliver at the edge shows"
    # its carried box grows with the frames since the detection, so it leaves a few frames after the face
    assert all(hidden[i] == [] for i in range(shown[-1] + 8, len(truth))), "no box once it has left"


def test_a_face_lost_on_its_way_out_before_it_reaches_the_edge_stays_hidden_until_it_has_left():
    """The detector loses the face 60 px from the edge (dark light, a turned head): its box, carried over the
    usual tail, reaches the edge, so the track is leaving and stays until the face has left the picture."""
    size = (640, 480)
    truth = [np.array([400 + 6 * i, 200, 480 + 6 * i, 280], dtype=np.float32) for i in range(60)]
    detections = [[face_at(t[0], t[1], 80)] if t[2] <= size[0] - 60 else [] for t in truth]
    last_seen = max(i for i, d in enumerate(detections) if d)
    hidden = run(FaceTracker(lookahead=12, tail=10, frame_size=size), detections)
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    assert shown[-1] > last_seen + 10, "the face is still in the picture after the usual tail"
    for i in shown:
        assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the face on its way out shows"
    assert all(hidden[i] == [] for i in range(shown[-1] + 8, len(truth))), "no box once it has left"


def test_a_face_entering_the_frame_is_hidden_back_to_where_it_first_touches_it():
    size = (640, 480)
    truth = [np.array([-100 + 7 * i, 150, -20 + 7 * i, 230], dtype=np.float32) for i in range(40)]
    # the detector finds it from when 60 % of it is in (x1 >= -32): frame 10 on
    detections = [[face_at(t[0], t[1], 80)] if t[0] >= -32 else [] for t in truth]
    first_seen = next(i for i, d in enumerate(detections) if d)
    hidden = run(FaceTracker(lookahead=12, lead=3, frame_size=size), detections)
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    assert shown[0] < first_seen - 3, "it touches the picture earlier than the usual lead"
    for i in shown:
        assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the part already in shows"


def test_a_face_lost_in_the_middle_of_the_frame_keeps_the_usual_tail():
    detections = [[face_at(300 + 2 * i, 200, 60)] for i in range(10)] + [[] for _ in range(30)]
    hidden = run(FaceTracker(lookahead=12, tail=5, frame_size=(640, 480)), detections)
    assert all(hidden[i] for i in range(15)) and all(not hidden[i] for i in range(15, 40))


def test_a_carried_box_is_never_smaller_than_the_detection():
    # at the edge the detector's box shrinks as the face leaves (it sees only the part inside)
    detections = [
        [
            Face(
                np.array([560 + 10 * i, 100, 640, 180], np.float32),
                0.9,
                estimate_landmarks(np.array([560 + 10 * i, 100, 640, 180], np.float32)),
            )
        ]
        for i in range(4)
    ] + [[] for _ in range(10)]
    hidden = run(FaceTracker(lead=0, tail=2, frame_size=(640, 480)), detections)
    last = detections[3][0].box
    for frame in hidden[4:]:
        for face in frame:
            assert face.box[2] - face.box[0] >= (last[2] - last[0]) - 1e-3


def _pan(shifts: list[float]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A still face (80 px, at x 100 of the scene) seen by a camera panning by ``shifts`` px a frame: its box
    per frame, and the camera's motion per frame (what CameraMotion measures: the picture moves the other way)."""
    x, boxes, motions = 0.0, [], []
    for shift in shifts:
        x += shift
        boxes.append(np.array([100 - x, 200, 180 - x, 280], dtype=np.float32))
        motions.append(np.array([[1, 0, -shift], [0, 1, 0]], dtype=np.float64))
    return boxes, motions


def _run_with_motion(tracker: FaceTracker, detections, motions) -> list[list[Face]]:
    out = []
    for i, (faces, motion) in enumerate(zip(detections, motions)):
        out.extend(tracker.push(i, faces, motion))
    out.extend(tracker.finish())
    return [faces for _, faces in out]


def test_a_face_the_camera_pans_away_from_and_back_to_is_hidden_on_its_way_back():
    """The camera pans right until the face has left at the left edge, stops, and pans slowly back. The detector
    sees the face only while most of it is in the picture; the camera's motion brings its track back in, where
    the look-back from its next detection (12 frames here) would not reach."""
    size = (640, 480)
    truth, motions = _pan([6.0] * 30 + [0.0] * 10 + [-2.0] * 60)
    detections = [[face_at(t[0], t[1], 80)] if t[0] >= -20 else [] for t in truth]
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size, entry=12), detections, motions)
    for i in shown:
        assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the face at the edge shows"
    # without the camera's motion the track leaves at its last speed and the face shows on its way back
    blind = run(FaceTracker(lookahead=12, tail=4, frame_size=size, entry=12), detections)
    assert not all(covers(blind[i], visible_part(truth[i], size)) for i in shown)


def test_a_face_the_camera_carries_out_of_the_top_and_back_in_elsewhere_is_hidden_where_the_camera_brings_it():
    """The camera tilts up until a still face has left across the top edge, pans sideways while it is out, and
    tilts back down, so that the face comes back in 200 px to the left of where it went out. The detector sees
    it only while most of it is in the picture. Its track picks it up again after the gap, and between the two
    detections its box follows the camera's path (out, across, back in), not a straight line across the gap:
    the frames where it goes out and where it comes back in, before it is found again, are hidden."""
    size = (640, 480)
    steps = [(0.0, 6.0)] * 30 + [(10.0, 0.0)] * 20 + [(0.0, -6.0)] * 30  # the camera's move per frame
    cx = cy = 0.0
    truth, motions = [], []
    for dx, dy in steps:
        cx, cy = cx + dx, cy + dy
        truth.append(np.array([300 - cx, 100 - cy, 380 - cx, 180 - cy], dtype=np.float32))
        motions.append(np.array([[1, 0, -dx], [0, 1, -dy]], dtype=np.float64))
    detections = [[face_at(t[0], t[1], 80)] if t[1] >= -32 else [] for t in truth]
    gap = [i for i in range(len(truth)) if not detections[i] and 0 < i < len(truth) - 1]
    assert detections[gap[-1] + 1], "the face is found again after the gap"
    hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size), detections, motions)
    for i in gap:
        visible = visible_part(truth[i], size)
        if visible is not None:
            assert covers(hidden[i], visible), f"frame {i}: the face coming back in shows"


def test_a_face_left_hanging_at_the_edge_by_a_camera_that_stops_stays_hidden():
    """The camera pans until only the face's edge (15 px) is in the picture, then holds still for 100 frames:
    the track, last seen at the edge, stays where the camera left it, and its box goes once the exit is over."""
    size = (640, 480)
    truth, motions = _pan([5.0] * 33 + [0.0] * 100)  # x1 ends at 100 - 165 = -65: 15 px of it visible
    detections = [[face_at(t[0], t[1], 80)] if t[0] >= -20 else [] for t in truth]
    hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size, exit=60), detections, motions)
    last_seen = max(i for i, d in enumerate(detections) if d)
    for i in range(len(truth)):
        if i <= last_seen + 60:
            assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the sliver at the edge shows"
    assert all(f == [] for f in hidden[last_seen + 61 + 2 :]), "the exit is over"


def test_a_still_face_whose_detections_jitter_is_carried_out_by_the_camera_alone():
    """The camera tilts up at 3 px a frame over a still face, and the detector, whose boxes jitter by 2 px
    (as a real detector's do), loses it 25 px before the bottom edge: its box is carried for 35 frames until
    the face has left. A slope taken from two jittered boxes a few frames apart would be a motion of its own
    that the face does not have, and would carry the box off it on the way out (in about a third of these
    20 clips); the line fitted to the window's detections is within their scatter, so the box goes only where
    the camera takes the face, in every clip."""
    size = (640, 480)
    truth = [np.array([280, 200 + 3 * i, 360, 280 + 3 * i], dtype=np.float32) for i in range(100)]
    motions = [np.array([[1, 0, 0], [0, 1, 3.0]], dtype=np.float64)] * len(truth)
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        detections = []
        for t in truth:
            box = t + rng.normal(0, 2.0, 4).astype(np.float32)
            seen = t[3] <= size[1] - 25
            detections.append([Face(box=box, score=0.9, landmarks=estimate_landmarks(box))] if seen else [])
        last_seen = max(i for i, d in enumerate(detections) if d)
        assert shown[-1] >= last_seen + 30, "the face is carried for 30 frames and more"
        hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size), detections, motions)
        for i in shown[last_seen + 1 :]:
            assert covers(hidden[i], visible_part(truth[i], size)), f"clip {seed}, frame {i}: the face shows"


def test_a_large_face_whose_detections_shrink_as_it_leaves_is_carried_out_at_its_whole_size():
    """The camera tilts up over a still 200 px face until it has left across the bottom edge. Like a real
    detector's, the boxes cover what the detector still sees of it: the part in the picture, narrower as less
    of the face shows, down to 60 % of its width; below a third of it in view, it is not found. Carried from
    that last, shrunken box, the track would cover only the middle of the forehead still in the picture; it
    is carried at the size the face had in the detections before, and covers all of it."""
    size = (640, 480)
    truth = [np.array([220, 100 + 4 * i, 420, 300 + 4 * i], dtype=np.float32) for i in range(100)]
    motions = [np.array([[1, 0, 0], [0, 1, 4.0]], dtype=np.float64)] * len(truth)
    detections = []
    for t in truth:
        share = float(np.clip((size[1] - t[1]) / (t[3] - t[1]), 0, 1))  # of its height in the picture
        if share < 1 / 3:
            detections.append([])
            continue
        half = (t[2] - t[0]) * (0.4 + 0.6 * share) / 2
        c = (t[0] + t[2]) / 2
        box = np.array([c - half, t[1], c + half, min(t[3], size[1])], dtype=np.float32)
        detections.append([Face(box=box, score=0.9, landmarks=estimate_landmarks(box))])
    last_seen = max(i for i, d in enumerate(detections) if d)
    shown = [i for i, t in enumerate(truth) if visible_part(t, size) is not None]
    assert shown[-1] > last_seen + 10
    hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size), detections, motions)
    for i in shown[last_seen + 1 :]:
        assert covers(hidden[i], visible_part(truth[i], size)), f"frame {i}: the edge of the forehead shows"


def test_a_face_coming_in_across_the_edge_is_hidden_back_to_where_it_first_touched_the_picture():
    """The camera pans slowly down a still scene: a face comes in across the top edge, a chin first, and the
    detector finds it only once 60 % of it is in the picture, 40 frames after it first showed. Every frame it
    shows in is hidden (the look-back at the edge reaches back to where it first touched the picture), and the
    frames long before that are not."""
    size = (640, 480)
    x, boxes, motions = 0.0, [], []
    for _ in range(90):
        x += 2.0  # the picture moves down 2 px a frame
        boxes.append(np.array([300, -140 + x, 400, -40 + x], dtype=np.float32))
        motions.append(np.array([[1, 0, 0], [0, 1, 2.0]], dtype=np.float64))
    detections = [[face_at(b[0], b[1], 100)] if b[3] >= 60 else [] for b in boxes]
    first = next(i for i, d in enumerate(detections) if d)
    shown = [i for i, b in enumerate(boxes) if visible_part(b, size) is not None]
    assert first - shown[0] >= 25  # longer than the look-ahead
    hidden = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size), detections, motions)
    for i in shown:
        assert covers(hidden[i], visible_part(boxes[i], size)), f"frame {i}: the face coming in shows"
    # the carried box is grown (by up to 40 %: 20 px a side here, 10 frames of the pan), and not more
    assert all(f == [] for f in hidden[: shown[0] - 11]), "hidden long before the face came in"
    short = _run_with_motion(FaceTracker(lookahead=12, tail=4, frame_size=size, entry=12), detections, motions)
    assert not all(covers(short[i], visible_part(boxes[i], size)) for i in shown)


def test_a_face_waiting_at_the_edge_for_seconds_is_hidden_from_the_first_frame():
    """A face stands at the left edge with 45 px of it in the picture from the first frame, and the camera turns
    towards it so slowly (0.4 px a frame) that the detector finds it only 188 frames later, once 60 % of it is
    in. The default look-back at the edge reaches that far: every frame it shows in is hidden. A 100-frame
    look-back leaves the first frames showing."""
    size, width = (1280, 720), 200.0
    boxes, motions = [], []
    for i in range(230):
        boxes.append(np.array([-155 + 0.4 * i, 260, 45 + 0.4 * i, 460], dtype=np.float32))
        motions.append(np.array([[1, 0, 0.4], [0, 1, 0]], dtype=np.float64))
    detections = [[face_at(b[0], b[1], width)] if b[0] >= -0.4 * width else [] for b in boxes]
    first = next(i for i, d in enumerate(detections) if d)
    assert first > 180 and visible_part(boxes[0], size) is not None
    hidden = _run_with_motion(FaceTracker(frame_size=size), detections, motions)
    for i in range(first):
        assert covers(hidden[i], visible_part(boxes[i], size)), f"frame {i}: the face waiting at the edge shows"
    short = _run_with_motion(FaceTracker(frame_size=size, entry=100), detections, motions)
    assert not covers(short[0], visible_part(boxes[0], size))
    assert all(covers(short[i], visible_part(boxes[i], size)) for i in range(first - 100, first))


def test_a_box_cut_by_the_border_is_widened_along_it_and_the_widening_never_compounds():
    size = (640, 480)
    # a chin at the top edge, held for 30 frames: the detector's box is narrower than the face
    chin = np.array([300, -40, 360, 20], np.float32)
    inside = np.array([100, 200, 160, 260], np.float32)
    detections = [[Face(chin, 0.9, estimate_landmarks(chin)), Face(inside, 0.9, estimate_landmarks(inside))]] * 30
    hidden = run(FaceTracker(lead=0, tail=0, frame_size=size), detections)
    for frame in hidden[2:-2]:  # (the first and last two smooth over boxes carried past the clip)
        top = next(f for f in frame if f.box[1] < 0)
        middle = next(f for f in frame if f.box[1] > 0)
        assert top.box[2] - top.box[0] == pytest.approx(60 * 1.3, abs=1e-3), "widened along the top, every frame"
        assert top.box[3] - top.box[1] == pytest.approx(60, abs=1e-3), "not across it"
        assert (top.box[0] + top.box[2]) / 2 == pytest.approx(330, abs=1e-3)
        assert np.allclose(top.landmarks, estimate_landmarks(chin), atol=1e-3), "the landmarks stay the face's"
        assert np.allclose(middle.box, inside, atol=1e-3), "a box inside the frame is not widened"
    # at a side the box is made taller
    side = np.array([600, 200, 660, 260], np.float32)
    hidden = run(FaceTracker(lead=0, tail=0, frame_size=size), [[Face(side, 0.9, estimate_landmarks(side))]] * 5)
    b = hidden[2][0].box
    assert b[3] - b[1] == pytest.approx(60 * 1.3, abs=1e-3) and b[2] - b[0] == pytest.approx(60, abs=1e-3)


def weak_at(x: float, y: float, size: float = 40.0) -> Face:
    face = face_at(x, y, size)
    face.score, face.source = 0.3, "weak"
    return face


def test_weak_finds_are_hidden_only_where_enough_of_them_confirm_a_track():
    detections = [[] for _ in range(60)]
    for i in (5, 8, 11):  # three weak finds of one face (the extra passes run on every third frame)
        detections[i] = [weak_at(100 + 2 * i, 100)]
    detections[40] = [weak_at(400, 300)]  # one weak find alone: texture, not hidden
    hidden = run(FaceTracker(lookahead=12, lead=3, tail=3, confirm=3), detections)
    for i in range(5, 12):
        assert covers(hidden[i], np.array([100 + 2 * i, 100, 140 + 2 * i, 140], dtype=np.float32)), i
    assert hidden[5][0].source == "detector" and hidden[6][0].source == "track"
    assert all(f.box[0] < 300 for frame in hidden for f in frame), "the lone weak find is not hidden"
    assert run(FaceTracker(lookahead=12, lead=3, tail=3, confirm=4), detections) == [[] for _ in range(60)]


def test_a_weak_find_extends_a_track_that_a_strong_detection_confirms():
    detections = [[] for _ in range(40)]
    detections[5] = [face_at(100, 100)]
    detections[16] = [weak_at(100, 100)]  # past the tail of the strong detection alone
    hidden = run(FaceTracker(lookahead=12, lead=3, tail=3, confirm=3), detections)
    assert all(covers(hidden[i], np.array([100, 100, 140, 140], np.float32)) for i in range(5, 17))


def test_no_box_is_carried_back_or_forward_across_a_cut():
    """A close-up found just after a cut is not hidden in the shot before it (the look-back at the clip's start
    would reach there), and a face last seen just before a cut is not carried into the next shot."""
    size = (640, 480)
    detections = [[] for _ in range(60)]
    for i in range(14, 30):  # a close-up at the right edge (an entering face: a long look-back), from frame 14
        detections[i] = [face_at(460, 100, 200)]
    cuts = {12, 32}  # the close-up's shot is frames 12-31

    def hidden_with(cut_frames):
        tracker = FaceTracker(lookahead=12, lead=4, tail=6, frame_size=size, start=25)
        out = []
        for i, faces in enumerate(detections):
            out.extend(tracker.push(i, faces, None, cut=i in cut_frames))
        out.extend(tracker.finish())
        return [faces for _, faces in out]

    truth = np.array([460, 100, 640, 300], np.float32)
    hidden = hidden_with(cuts)
    assert all(hidden[i] == [] for i in range(0, 12)), "not in the shot before"
    assert all(covers(hidden[i], truth) for i in range(12, 32)), "from the cut on, look-back included"
    assert all(hidden[i] == [] for i in range(32, 60)), "not carried into the next shot"
    without = hidden_with(set())
    assert covers(without[0], truth) and covers(without[33], truth), "without the cuts both carries happen"
