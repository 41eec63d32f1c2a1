"""Detection: IoU, merging (with fake detectors), landmarks, the verifier, turned and large faces, real photos."""

from __future__ import annotations

import numpy as np
import pytest

from anonymizer.detection import UnionDetector, YuNetDetector, box_iou, make_detector, merge_faces
from anonymizer.faces import Face, estimate_landmarks


def face(box, score=0.9, landmarks=None, source="detector"):
    box = np.asarray(box, dtype=np.float32)
    lm = estimate_landmarks(box) if landmarks is None else landmarks
    return Face(box, score, lm, source=source)


class Fake:
    def __init__(self, faces):
        self.faces = faces
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return [Face(f.box.copy(), f.score, f.landmarks.copy(), source=f.source) for f in self.faces]


IMAGE = np.zeros((200, 300, 3), dtype=np.uint8)


def test_box_iou_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_box_iou_empty_and_degenerate():
    assert box_iou(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    assert box_iou(np.array([[5, 5, 5, 5]]), np.array([[5, 5, 5, 5]]))[0, 0] == 0.0


def test_union_keeps_faces_only_one_member_finds():
    a = Fake([face([10, 10, 50, 50])])
    b = Fake([face([200, 100, 240, 150])])
    faces = UnionDetector(detectors=[a, b]).detect(IMAGE)
    assert a.calls == b.calls == 1
    assert sorted(f.box[0] for f in faces) == [10, 200]


def test_union_merges_the_same_face_into_the_union_of_boxes():
    lm = np.array([[20, 25], [40, 25], [30, 35], [22, 45], [38, 45]], dtype=np.float32)
    a = Fake([face([10, 10, 50, 50], 0.8, lm)])
    b = Fake([face([12, 8, 52, 48], 0.95)])
    (merged,) = UnionDetector(detectors=[a, b], merge_iou=0.3).detect(IMAGE)
    np.testing.assert_allclose(merged.box, [10, 8, 52, 50])
    assert merged.score == pytest.approx(0.95)
    np.testing.assert_allclose(merged.landmarks, lm)  # the first member's landmarks win


def test_real_landmarks_beat_estimated_ones_whatever_the_order():
    lm = np.array([[20, 25], [40, 25], [30, 35], [22, 45], [38, 45]], dtype=np.float32)
    a = Fake([face([10, 10, 50, 50], 0.99, source="estimated")])
    b = Fake([face([11, 11, 51, 51], 0.7, lm)])
    (merged,) = UnionDetector(detectors=[a, b]).detect(IMAGE)
    np.testing.assert_allclose(merged.landmarks, lm)
    assert merged.source == "detector"


def test_faces_below_merge_iou_stay_apart():
    a = Fake([face([0, 0, 40, 40])])
    b = Fake([face([30, 30, 70, 70])])  # IoU 100/3100
    assert len(UnionDetector(detectors=[a, b], merge_iou=0.3).detect(IMAGE)) == 2


def test_merge_of_nothing():
    assert merge_faces([[], []], 0.3) == []
    assert UnionDetector(detectors=[Fake([]), Fake([])]).detect(IMAGE) == []


def test_estimated_landmarks_lie_inside_the_box():
    box = np.array([10, 20, 110, 140], dtype=np.float32)
    lm = estimate_landmarks(box)
    assert lm.shape == (5, 2)
    assert (lm[:, 0] > box[0]).all() and (lm[:, 0] < box[2]).all()
    assert (lm[:, 1] > box[1]).all() and (lm[:, 1] < box[3]).all()
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # viewer's left first, as MTCNN


def test_make_detector_rejects_unknown_names():
    with pytest.raises(ValueError):
        make_detector("nope")


def _astronaut():
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(data.astronaut())


def _check_one_face_with_landmarks(faces):
    assert len(faces) == 1
    f = faces[0]
    assert f.score >= 0.6 and 60 <= f.size <= 200
    x1, y1, x2, y2 = f.box
    assert 150 <= (x1 + x2) / 2 <= 260 and 80 <= (y1 + y2) / 2 <= 160  # her face, not the flag
    lm = f.landmarks
    assert ((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2)).all()
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    assert lm[2, 1] > lm[:2, 1].max() and lm[3:, 1].min() > lm[2, 1]  # eyes, then nose, then mouth


def test_yunet_finds_the_astronaut_with_its_own_landmarks():
    faces = YuNetDetector().detect(_astronaut())
    _check_one_face_with_landmarks(faces)
    # The network's landmarks, not the box-proportion estimate.
    assert np.abs(faces[0].landmarks - estimate_landmarks(faces[0].box)).max() > 0.5


def test_default_detector_finds_the_astronaut():
    _check_one_face_with_landmarks(make_detector(device="cpu").detect(_astronaut()))


def test_union_when_the_first_member_finds_nothing_and_another_finds_several():
    # The old union crashed here (argmax over an empty row of its IoU matrix).
    b = Fake([face([10, 10, 50, 50]), face([100, 10, 140, 50]), face([200, 10, 240, 50])])
    assert len(UnionDetector(detectors=[Fake([]), b]).detect(IMAGE)) == 3


def test_mirrored_rows_come_back_to_the_photo_with_the_viewers_left_eye_first():
    from anonymizer.detection.comparison.yunet import _mirror_rows

    lm = [30, 40, 50, 40, 40, 50, 32, 60, 48, 60]  # left eye, right eye, nose, left mouth, right mouth
    row = np.array([[90, 20, 30, 40, 45, *lm]], dtype=np.float32)
    once = _mirror_rows(row, 100)
    np.testing.assert_allclose(once[0, 1:5], [100 - 20 - 40, 30, 40, 45])
    assert once[0, 5] < once[0, 7] and once[0, 11] < once[0, 13]  # still the viewer's left first
    np.testing.assert_allclose(_mirror_rows(once, 100), row)


def test_weak_candidates_are_kept_on_a_face_and_dropped_on_a_wall():
    from anonymizer.detection.comparison.verify import verify
    from anonymizer.detection.comparison.yunet import yunet_rows

    image = _astronaut()
    (face,) = YuNetDetector().detect(image)
    wall = np.array([420, 400, 480, 460], dtype=np.float32)  # plain background, lower right
    kept = verify(image, np.stack([face.box, wall]), np.array([0.3, 0.3]), 0.3, yunet_rows)
    assert kept.tolist() == [True, False]


def test_the_verifier_stops_early_but_gives_the_verdicts_of_all_its_evidence(monkeypatch):
    from anonymizer.detection.comparison import verify as v
    from anonymizer.detection.comparison.yunet import yunet_rows

    image = _astronaut()
    rng = np.random.default_rng(0)
    (face,) = YuNetDetector().detect(image)
    boxes = [face.box, face.box + 6, face.box * 0.9]
    for _ in range(9):  # boxes of all sizes all over the photo
        x, y, s = rng.uniform(0, 400), rng.uniform(0, 400), rng.uniform(12, 110)
        boxes.append(np.array([x, y, x + s, y + s], np.float32))
    boxes = np.stack(boxes).astype(np.float32)
    scores = rng.uniform(0.2, 0.6, len(boxes)).astype(np.float32)
    near = np.array([v.recheck(image, b, 1.5, yunet_rows) for b in boxes])
    wide = np.array([v.recheck(image, b, 2.5, yunet_rows) for b in boxes])
    w = v.VERIFY_WEIGHTS
    logit = w[0] * scores + w[1] * near + w[2] * wide + w[3] * v.onet_scores(image, boxes) + v.VERIFY_BIAS
    calls = []
    real = v.recheck
    monkeypatch.setattr(v, "recheck", lambda *a: calls.append(1) or real(*a))
    for threshold in (0.3, 0.5, 0.7, 0.9):
        calls.clear()
        kept = v.verify(image, boxes, scores, threshold, yunet_rows)
        np.testing.assert_array_equal(kept, 1 / (1 + np.exp(-logit)) >= threshold)
        assert len(calls) < 2 * len(boxes)  # some verdicts were certain before all the re-checks


def test_onet_on_onnxruntime_matches_facenets_torch_network():
    torch = pytest.importorskip("torch")
    mtcnn = pytest.importorskip("facenet_pytorch.models.mtcnn")
    from anonymizer.detection.comparison.verify import onet_scores

    image = _astronaut()
    boxes = np.array([[173, 46, 279, 190], [0, 0, 60, 60], [300, 300, 340, 350]], np.float32)
    crops = []
    import cv2

    from anonymizer.boxes import cut_square, square_window

    for b in boxes:
        crops.append(cv2.resize(cut_square(image, *square_window(b)), (48, 48), interpolation=cv2.INTER_AREA))
    x = (torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125
    with torch.no_grad():
        want = mtcnn.ONet(pretrained=True).eval()(x)[2][:, 1].numpy()
    np.testing.assert_allclose(onet_scores(image, boxes), want, atol=1e-5)
    assert want[0] > 0.9 > want[1]


def test_the_mirrored_pass_finds_the_astronaut_once():
    faces = YuNetDetector(verify=True, mirror=True).detect(_astronaut())
    _check_one_face_with_landmarks(faces)


def test_the_centerface_model_ships_with_the_package():
    import os

    from anonymizer.detection import CENTERFACE_MODEL, find_centerface_model

    assert os.path.getsize(CENTERFACE_MODEL) > 1_000_000
    assert os.path.exists(os.path.join(os.path.dirname(CENTERFACE_MODEL), "CENTERFACE_LICENSE.txt"))
    if not os.environ.get("ANONYMIZER_CENTERFACE"):
        assert find_centerface_model() == CENTERFACE_MODEL


def test_centerface_finds_the_astronaut_with_landmarks():
    from anonymizer.detection import CenterFaceDetector

    faces = CenterFaceDetector().detect(_astronaut())
    _check_one_face_with_landmarks(faces)


def test_centerface_grow_enlarges_boxes_about_their_centre():
    from anonymizer.detection import CenterFaceDetector

    (plain,) = CenterFaceDetector().detect(_astronaut())
    (grown,) = CenterFaceDetector(grow=1.2).detect(_astronaut())
    np.testing.assert_allclose((grown.box[:2] + grown.box[2:]) / 2, (plain.box[:2] + plain.box[2:]) / 2, atol=1e-3)
    np.testing.assert_allclose(grown.box[2:] - grown.box[:2], 1.2 * (plain.box[2:] - plain.box[:2]), rtol=1e-4)


def test_the_frames_pass_on_the_photo_scaled_down_gives_boxes_in_the_photos_pixels():
    from anonymizer.detection import CenterFaceDetector

    detector = CenterFaceDetector()
    (full,) = detector.detect(_astronaut())
    (half,) = detector.detect(_astronaut(), scale=0.5)
    assert box_iou(full.box[None], half.box[None])[0, 0] > 0.8
    np.testing.assert_allclose(half.landmarks, full.landmarks, atol=0.06 * full.size)
    big = CenterFaceDetector(min_face_size=3 * full.size)  # the size test is in the photo's pixels too
    assert big.detect(_astronaut(), scale=0.5) == []


def test_the_previous_default_and_the_yunet_only_union_stay_for_comparison():
    from anonymizer.detection import CenterFaceDetector

    before = make_detector("yunet+centerface")
    assert [type(d) for d in before.detectors] == [YuNetDetector, CenterFaceDetector]
    assert before.detectors[0].mirror is False and before.detectors[0].verify is True
    yunet_only = make_detector("union-yunet")
    assert [type(d) for d in yunet_only.detectors] == [YuNetDetector]
    assert yunet_only.detectors[0].mirror is True
    _check_one_face_with_landmarks(yunet_only.detect(_astronaut()))


def test_the_previous_default_keeps_yunets_landmarks_for_a_face_both_find():
    image = _astronaut()
    (mine,) = make_detector("yunet+centerface").detect(image)
    (yunet,) = YuNetDetector().detect(image)
    np.testing.assert_allclose(mine.landmarks, yunet.landmarks)


def test_points_found_on_a_turned_photo_come_back_to_the_photo():
    from anonymizer.detection.cascade import _turn, turn_back

    image = np.zeros((40, 60, 3), np.uint8)
    image[5, 7] = 255  # one bright pixel, at x 7, y 5
    for angle in (90, 180, 270):
        turned = _turn(image, angle)
        y, x = np.argwhere(turned[..., 0] == 255)[0]
        back = turn_back(np.array([[x + 0.5, y + 0.5]], np.float32), angle, image.shape[:2])
        np.testing.assert_allclose(back, [[7.5, 5.5]])


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_face_lying_sideways_or_upside_down_is_found_where_it_is(angle):
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.cascade import _turn

    image = _astronaut()
    (upright,) = make_detector().detect(image)
    turned = _turn(image, angle)
    h, w = image.shape[:2]
    corners = upright.box.reshape(2, 2)
    # Where her face is in the turned photo (the inverse of turn_back).
    x, y = corners[:, 0], corners[:, 1]
    pts = {90: (h - y, x), 180: (w - x, h - y), 270: (y, w - x)}[angle]
    want = np.array([pts[0].min(), pts[1].min(), pts[0].max(), pts[1].max()], np.float32)
    found = make_detector().detect(turned)
    assert any(box_iou(f.box, want)[0, 0] >= 0.4 for f in found), [f.box for f in found]
    # The turned passes alone (the upright ones blinded) find her at the same place, eyes above mouth
    # once turned back upright.
    only_turned = CascadeDetector(large_side=10**6)
    only_turned.photo.detect = lambda image: []
    (alone,) = only_turned.detect(turned)
    assert box_iou(alone.box, want)[0, 0] >= 0.5
    assert (alone.landmarks[:, 0] > want[0]).all() and (alone.landmarks[:, 0] < want[2]).all()


def test_points_found_on_a_photo_turned_by_any_angle_come_back_to_the_photo():
    from anonymizer.detection.cascade import rotate, rotate_back

    image = np.zeros((40, 60, 3), np.uint8)
    image[5:8, 7:10] = 255  # a bright square centred on x 8.5, y 6.5
    for angle in (45, 135, 225, 315, 30):
        turned, back = rotate(image, angle)
        assert turned.shape[0] >= 40 and turned.shape[1] >= 60  # the whole photo is on the canvas
        ys, xs = np.nonzero(turned[..., 0])
        weight = turned[ys, xs, 0].astype(np.float64)
        x, y = (xs * weight).sum() / weight.sum() + 0.5, (ys * weight).sum() / weight.sum() + 0.5  # its centre there
        centre = np.array([[[x, y]] * 5], np.float32)
        box = np.array([[x - 5, y - 3, x + 5, y + 3]], np.float32)
        boxes, _, marks = rotate_back((box, np.ones(1, np.float32), centre), back)
        np.testing.assert_allclose(marks[0], [[8.5, 6.5]] * 5, atol=0.1)
        # the box: the square of the found box's area (10 x 6) about its centre, carried back
        np.testing.assert_allclose(boxes[0, 2:] - boxes[0, :2], [np.sqrt(60)] * 2, rtol=1e-5)
        np.testing.assert_allclose((boxes[0, :2] + boxes[0, 2:]) / 2, [8.5, 6.5], atol=0.1)


def test_the_diagonal_passes_alone_find_a_face_turned_halfway_between_the_right_angles():
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.cascade import rotate

    image = _astronaut()
    (upright,) = make_detector().detect(image)
    turned, back = rotate(image, 135)
    forward = np.vstack([cv2_invert(back), [0, 0, 1]])
    centre = forward @ np.array([*(upright.box[:2] + upright.box[2:]) / 2, 1.0])
    blind = CascadeDetector(large_side=10**6, turned_side=None, diagonal_side=None)
    blind.photo.detect = lambda image: []
    assert blind.detect(turned) == []  # every other pass blinded or off: nothing
    diagonal = CascadeDetector(large_side=10**6, turned_side=None, diagonal_side=320)
    diagonal.photo.detect = lambda image: []
    (alone,) = diagonal.detect(turned)
    found_centre = (alone.box[:2] + alone.box[2:]) / 2
    assert np.hypot(*(found_centre - centre[:2])) < 0.15 * upright.size
    assert 0.7 < alone.size / upright.size < 1.6
    # its landmarks turned with it: the eyes' midpoint lies further from the mouth along the face's "up"
    eyes, mouth = alone.landmarks[:2].mean(axis=0), alone.landmarks[3:].mean(axis=0)
    up = forward[:2, :2] @ np.array([0.0, -1.0])  # the photo's up, turned 135 degrees
    assert np.dot(eyes - mouth, up) > 0
    # by name: the default with these passes added
    named = make_detector("default+diagonal")
    assert named.diagonal_side == 320 and named.retinaface is not None
    assert make_detector().diagonal_side is None


def cv2_invert(matrix):
    import cv2

    return cv2.invertAffineTransform(matrix)


def test_a_face_filling_a_large_photo_is_found():
    import cv2

    image = _astronaut()
    (upright,) = make_detector().detect(image)
    x1, y1, x2, y2 = (int(v) for v in upright.box)
    side = max(x2 - x1, y2 - y1)
    crop = image[max(0, y1 - side // 3) : y2 + side // 3, max(0, x1 - side // 3) : x2 + side // 3]
    big = cv2.resize(crop, None, fx=1400 / crop.shape[0], fy=1400 / crop.shape[0], interpolation=cv2.INTER_CUBIC)
    found = make_detector().detect(big)
    assert found and max(f.size for f in found) > 700
    # The scaled-down pass alone (the photo's own pass blinded) finds it at the same place.
    from anonymizer.detection import CascadeDetector

    only_large = CascadeDetector(turned_side=None)
    only_large.photo.detect = lambda image: []
    (alone,) = only_large.detect(big)
    assert box_iou(alone.box, max(found, key=lambda f: f.size).box)[0, 0] >= 0.6


class RecordingNet:
    """A stand-in for CenterFace: records the frame it is given, finds fixed boxes on it."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.frames = []

    def find(self, image, threshold):
        self.frames.append(image)
        marks = np.repeat(((self.boxes[:, :2] + self.boxes[:, 2:]) / 2)[:, None], 5, axis=1)
        return self.boxes.copy(), np.linspace(0.9, 0.5, len(self.boxes)).astype(np.float32), marks


def test_finds_on_the_padded_frame_come_back_to_the_photo():
    from anonymizer.detection.centerface import find_padded

    image = np.random.default_rng(0).integers(0, 256, (100, 200, 3), dtype=np.uint8)
    # On the frame padded by 20 px: a face inside, a half face cut by the left edge, a twin in the border.
    net = RecordingNet([[25, 40, 65, 80], [10, 40, 50, 80], [0, 40, 18, 80]])
    boxes, scores, marks = find_padded(net, image, 0.5, 20, "reflect")
    (frame,) = net.frames
    assert frame.shape == (140, 240, 3)
    np.testing.assert_array_equal(frame[20:120, 20:220], image)
    np.testing.assert_array_equal(frame[20:120, 19], image[:, 1])  # mirrored, the edge pixel not repeated
    np.testing.assert_allclose(boxes, [[5, 20, 45, 60], [-10, 20, 30, 60]])  # runs past the edge; the twin dropped
    np.testing.assert_allclose(marks[1], np.full((5, 2), [10, 40]))
    np.testing.assert_allclose(scores, [0.9, 0.7])
    find_padded(net, image, 0.5, 20, "constant")
    assert (net.frames[-1][:20] == 0).all() and (net.frames[-1][:, :20] == 0).all()
    # No border: the network sees the photo itself.
    find_padded(net, image, 0.5, 0)
    assert net.frames[-1] is image


def test_the_padded_detector_is_the_default_with_a_mirrored_border():
    from anonymizer.detection.cascade import PADDED_BORDER, PADDED_LARGE_BORDER

    padded, default = make_detector("padded"), make_detector()
    assert padded.photo.border == PADDED_BORDER > 0 and padded.large_border == PADDED_LARGE_BORDER > 0
    assert padded.border_mode == "reflect" and default.photo.border == default.large_border == 0
    with pytest.raises(ValueError):
        make_detector().__class__(border_mode="wrap")


def _cut_face_found(detector, image, near):
    """Faces of 30 px or more that ``detector`` finds with their box reaching the side ``near`` of ``image``."""
    h, w = image.shape[:2]
    reach = {"left": lambda b: b[0] <= 5, "bottom": lambda b: b[3] >= h - 5}[near]
    return [f for f in detector.detect(image) if f.size >= 30 and reach(f.box)]


def test_a_face_cut_by_the_bottom_edge_is_found_only_on_a_padded_frame():
    from anonymizer.detection import CascadeDetector

    cut = np.ascontiguousarray(_astronaut()[:95])  # her face runs from about y 60 to 170: eyes kept, mouth cut off
    assert _cut_face_found(CascadeDetector(border=0.0, large_border=0.0), cut, "bottom") == []
    (found,) = _cut_face_found(make_detector("padded"), cut, "bottom")
    x1, y1, x2, y2 = found.box
    assert 180 <= (x1 + x2) / 2 <= 260 and y1 < 80 and y2 > 95  # her face, its box past the edge


def test_a_face_cut_by_the_left_edge_is_found_with_its_box_past_the_edge():
    cut = np.ascontiguousarray(_astronaut()[:, 235:])  # her face from about x 175 to 260: a third of it kept
    (found,) = _cut_face_found(make_detector("padded"), cut, "left")
    x1, y1, x2, y2 = found.box
    assert x1 < -10 and 30 <= x2 <= 70 and 40 <= y1 <= 90 and 150 <= y2 <= 220


def test_the_bordered_twin_finds_a_face_cut_by_the_edge_and_shares_the_network(real_detector):
    from skimage import data

    twin = real_detector.with_border()
    assert twin.net is real_detector.net and twin.photo.border > 0 and real_detector.photo.border == 0
    cut = np.ascontiguousarray(data.astronaut()[:, 255:])  # 13 px of the 90 px face left in the picture
    assert not [f for f in real_detector.detect(cut) if f.box[0] < 40]
    (face,) = [f for f in twin.detect(cut) if f.box[0] < 40]
    assert face.box[0] < 0 < face.box[2] < 40  # the whole face: its box runs past the edge


class ScoredNet:
    """A stand-in for CenterFace: fixed boxes with fixed scores, those over the threshold."""

    def __init__(self, boxes, scores):
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(scores, np.float32)

    def find(self, image, threshold):
        keep = self.scores > threshold
        marks = np.repeat(((self.boxes[:, :2] + self.boxes[:, 2:]) / 2)[:, None], 5, axis=1)
        return self.boxes[keep].copy(), self.scores[keep].copy(), marks[keep]


def test_the_scaled_down_pass_gives_weak_finds_only_when_asked_and_marks_them():
    from anonymizer.detection import CascadeDetector

    detector = CascadeDetector(turned_side=None)  # large pass: 320 px, over 0.45
    detector.photo.detect = lambda image: []
    detector.net = ScoredNet([[20, 20, 60, 60], [200, 100, 240, 140], [100, 20, 140, 60]], [0.6, 0.3, 0.1])
    image = np.zeros((720, 1280, 3), np.uint8)  # scaled by 0.25 for the pass
    (strong,) = detector.detect(image)
    assert strong.source == "detector" and strong.score == pytest.approx(0.6)
    found = detector.detect(image, weak=0.2)
    assert [f.source for f in found] == ["detector", "weak"]
    assert found[1].score == pytest.approx(0.3)
    assert box_iou(found[1].box, np.array([784, 384, 976, 576], np.float32))[0, 0] > 0.99  # 4x, grown 1.2x
    assert len(detector.detect(image, weak=0.35)) == 1
    assert detector.detect(image, extra=False, weak=0.2) == []  # weak finds come from the extra passes only


def test_retinaface_finds_the_astronaut_with_its_landmarks_in_order(astronaut):
    from anonymizer.detection.retinaface import RetinaFaceDetector
    from tests.conftest import ASTRONAUT_FACE

    faces = RetinaFaceDetector(0.5).detect(astronaut)
    assert len(faces) == 1
    assert box_iou(faces[0].box[None], np.array([ASTRONAUT_FACE], np.float32))[0, 0] > 0.5
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = faces[0].landmarks
    assert lx < nx < rx and mlx < mrx, "left (viewer's) eye and mouth corner first"
    assert max(ly, ry) < ny < min(mly, mry), "eyes above the nose, the nose above the mouth"


def test_retinaface_turned_45_degrees_finds_a_face_turned_halfway_between_the_right_angles():
    """``retinaface_diagonal_side``: RetinaFace on the photo turned 45, 135, 225 and 315 degrees (an option,
    measured in benchmarks/results/detection_tune_tilt_retdiag.md), its finds carried back to the photo."""
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.cascade import rotate
    from anonymizer.detection.retinaface import RetinaFaceDetector

    image = _astronaut()
    (upright,) = make_detector().detect(image)
    turned, back = rotate(image, 135)
    forward = np.vstack([cv2_invert(back), [0, 0, 1]])
    centre = forward @ np.array([*(upright.box[:2] + upright.box[2:]) / 2, 1.0])
    retina = RetinaFaceDetector(0.5, grow=1.2)
    retina.find = lambda image, threshold=None: (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))  # blinded
    settings = dict(threshold=1.0, large_side=10**6, turned_side=None, retinaface=retina)  # CenterFace finds nothing
    assert CascadeDetector(**settings).detect(turned) == []
    (alone,) = CascadeDetector(**settings, retinaface_diagonal_side=320).detect(turned)
    assert np.hypot(*((alone.box[:2] + alone.box[2:]) / 2 - centre[:2])) < 0.15 * upright.size
    assert 0.7 < alone.size / upright.size < 1.6


def test_retinafaces_anchors_are_the_networks_outputs_for_any_size():
    from anonymizer.detection.retinaface import RetinaFace, anchors

    net = RetinaFace()
    for h, w in ((100, 130), (64, 64), (201, 333)):
        blob = np.zeros((1, 3, h, w), np.float32)
        loc = net.session.run(None, {net.input: blob})[0]
        assert loc.shape[1] == len(anchors(h, w))


def test_the_retinaface_pass_adds_only_what_the_cascade_did_not_find(astronaut):
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.retinaface import RetinaFaceDetector

    retina = RetinaFaceDetector(0.5, grow=1.2)
    plain = CascadeDetector().detect(astronaut)
    both = CascadeDetector(retinaface=retina).detect(astronaut)
    assert len(plain) == len(both) == 1 and np.array_equal(plain[0].box, both[0].box), "found already: not added"
    # A cascade that finds nothing (every pass's threshold out of reach): the RetinaFace pass finds her.
    blind = CascadeDetector(threshold=1.0)
    assert blind.detect(astronaut) == []
    blind.retinaface = retina
    assert len(blind.detect(astronaut)) == 1
    assert blind.detect(astronaut, extra=False) == [], "the video's in-between frames run the photo pass only"


def test_the_detector_runs_on_the_device_asked_for(monkeypatch):
    """``--device cuda``: every ONNX network of the default detector asks for onnxruntime's CUDA provider (the
    CPU's behind it); ``auto`` takes it where onnxruntime has it; ``cpu`` never; ``cuda`` without it is a
    clear error."""
    import onnxruntime as ort

    from anonymizer.detection import make_detector

    made = []
    real = ort.InferenceSession

    def spy(path, options=None, providers=None):
        made.append(list(providers))
        return real(path, options, providers=["CPUExecutionProvider"])  # this machine has no GPU to run it on

    monkeypatch.setattr(ort, "InferenceSession", spy)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    make_detector("default", device="cuda")
    assert len(made) == 2 and all(p == ["CUDAExecutionProvider", "CPUExecutionProvider"] for p in made)
    made.clear()
    make_detector("default", device="auto")
    assert made and all(p[0] == "CUDAExecutionProvider" for p in made)
    made.clear()
    make_detector("default", device="cpu")
    assert made and all(p == ["CPUExecutionProvider"] for p in made)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    made.clear()
    make_detector("default", device="auto")
    assert made and all(p == ["CPUExecutionProvider"] for p in made)
    with pytest.raises(RuntimeError, match="no CUDA provider"):
        make_detector("default", device="cuda")


def test_every_network_session_lets_its_threads_sleep_when_idle(monkeypatch):
    """The detector's and the generator's onnxruntime sessions: this process's threads, and no spinning between
    runs (spinning threads take a core from the video decoder and encoder)."""
    import onnxruntime as ort

    from anonymizer import device
    from anonymizer.detection import make_detector

    made = []
    real = ort.InferenceSession

    def spy(path, options=None, providers=None):
        made.append(options)
        return real(path, options, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    monkeypatch.setattr(device, "_threads", 1)
    make_detector("default", device="cpu")
    assert len(made) == 2
    for options in made:
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert options.intra_op_num_threads == 1


def test_a_small_earlier_box_hides_a_larger_new_find_only_when_the_overlap_is_measured_on_the_smaller_box():
    from anonymizer.boxes import overlaps_any
    from anonymizer.detection.cascade import new_faces

    large = np.array([[100, 100, 300, 300]], np.float32)  # a new 200 px find
    corner = np.array([[80, 80, 140, 140]], np.float32)  # an earlier 60 px find on its corner
    same = np.array([[110, 105, 305, 310]], np.float32)  # the same face found before
    assert overlaps_any(large, corner)[0] and not overlaps_any(large, corner, of="boxes")[0]
    assert overlaps_any(large, same)[0] and overlaps_any(large, same, of="boxes")[0]
    with pytest.raises(ValueError):
        overlaps_any(large, corner, of="larger")
    found = (large, np.array([0.9], np.float32), np.zeros((1, 5, 2), np.float32))
    assert new_faces(found, corner, min_size=48, grow=1.0) == []
    (face,) = new_faces(found, corner, min_size=48, grow=1.0, of="boxes")
    np.testing.assert_allclose(face.box, large[0])
    assert new_faces(found, same, min_size=48, grow=1.0, of="boxes") == []
