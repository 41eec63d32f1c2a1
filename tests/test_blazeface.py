"""BlazeFace: the shipped model, anchors, decoding on real photos, and its pass in the cascade."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, noise_image, sha256

from anonymizer.boxes import box_iou
from anonymizer.detection import CascadeDetector, make_detector
from anonymizer.detection.blazeface import (
    DEFAULT_MODEL,
    MODELS,
    BlazeFace,
    BlazeFaceDetector,
    find_blazeface_model,
    five_landmarks,
    ssd_anchors,
    weighted_nms,
)
from anonymizer.detection.cascade import new_faces


@pytest.fixture(scope="module")
def detector() -> BlazeFaceDetector:
    return BlazeFaceDetector()


def _iou(box, other) -> float:
    return float(box_iou(np.asarray([box], np.float32), np.asarray([other], np.float32))[0, 0])


def _check_face(face, expected) -> None:
    assert _iou(face.box, expected) >= 0.5
    x1, y1, x2, y2 = face.box
    lm = face.landmarks
    assert ((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2)).all()
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # the viewer's left first
    assert lm[2, 1] > lm[:2, 1].max() and lm[3:, 1].min() > lm[2, 1]  # eyes, then nose, then mouth


def test_the_shipped_model_is_the_converted_file_with_its_licence():
    import os

    path = find_blazeface_model()
    if os.environ.get("ANONYMIZER_BLAZEFACE"):
        pytest.skip("ANONYMIZER_BLAZEFACE points elsewhere")
    assert sha256(path) == MODELS[DEFAULT_MODEL].sha256
    assert os.path.getsize(path) < 500_000
    assert os.path.exists(os.path.join(os.path.dirname(path), "BLAZEFACE_LICENSE.txt"))


def test_anchors_match_the_networks_outputs():
    net = BlazeFace()
    anchors = ssd_anchors(net.model)
    assert anchors.shape == (896, 2) == tuple(net.session.get_outputs()[0].shape[1:2]) + (2,)
    # The stride-8 layer first (16x16 cells, two anchors each), row by row; then the stride-16 ones (6 each).
    np.testing.assert_allclose(anchors[:4], [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2)
    np.testing.assert_allclose(anchors[512:518], [[1 / 16, 1 / 16]] * 6)
    np.testing.assert_allclose(anchors[-1], [15 / 16, 15 / 16])
    assert ssd_anchors(MODELS["full_range"]).shape == (2304, 2)


def test_weighted_suppression_averages_a_group_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    points = np.zeros((3, 6, 2), np.float32)
    points[1] += 3
    b, s, p = weighted_nms(boxes, scores, points, 0.3)
    np.testing.assert_allclose(s, [0.9, 0.7])
    np.testing.assert_allclose(b[0], [0.6, 0.6, 10.6, 10.6], atol=1e-5)  # (0.6 * 0 + 0.9 * 1) / 1.5
    np.testing.assert_allclose(p[0], 1.8, atol=1e-5)
    np.testing.assert_allclose(b[1], boxes[2])


def test_mouth_corners_lie_either_side_of_the_mouth_along_the_eyes():
    keypoints = np.array([[[10, 10], [30, 10], [20, 20], [20, 30], [0, 15], [40, 15]]], np.float32)
    marks = five_landmarks(keypoints)
    np.testing.assert_allclose(marks[0, :3], keypoints[0, :3])
    np.testing.assert_allclose(marks[0, 3:], [[20 - 20 * 0.15 / 0.38, 30], [20 + 20 * 0.15 / 0.38, 30]], atol=1e-5)


def test_finds_the_astronaut_with_landmarks_in_order(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    _check_face(faces[0], ASTRONAUT_FACE)
    assert faces[0].score > 0.8


def test_boxes_come_back_to_the_photo_wherever_it_is_letterboxed(detector, astronaut):
    # The astronaut moved right on a wide canvas (letterboxed top and bottom) and down on a tall one (left
    # and right). Not much wider: at 128 px the network sees her face at under 20 px, and misses it.
    for pad in (((0, 0), (160, 0), (0, 0)), ((200, 0), (0, 0), (0, 0))):
        canvas = np.pad(astronaut, pad)
        dy, dx = pad[0][0], pad[1][0]
        (face,) = detector.detect(canvas)
        _check_face(face, np.add(ASTRONAUT_FACE, [dx, dy, dx, dy]))


def test_nothing_on_noise(detector):
    assert detector.detect(noise_image(480, 640)) == []
    assert detector.detect(noise_image(128, 128, seed=3)) == []


def test_a_face_filling_most_of_the_photo_is_found(detector, astronaut):
    import cv2

    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_FACE)
    side = max(x2 - x1, y2 - y1)  # 115 px
    # A crop where the face's box is about 60% of the side, scaled up to 1000 px.
    pad = int(side / 0.6 - side) // 2
    crop = astronaut[y1 - min(pad, y1) : y2 + pad, x1 - pad : x2 + pad]
    f = 1000 / max(crop.shape[:2])
    big = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    expected = (np.asarray(ASTRONAUT_FACE) - [x1 - pad, y1 - min(pad, y1)] * 2) * f
    faces = detector.detect(big)
    assert len(faces) == 1 and faces[0].size > 0.45 * 1000
    _check_face(faces[0], expected)


def test_the_cascade_pass_adds_only_large_faces_no_cascade_face_overlaps():
    found = (
        np.array([[0, 0, 100, 100], [200, 0, 300, 100], [400, 0, 440, 40]], np.float32),
        np.array([0.9, 0.8, 0.95], np.float32),
        np.zeros((3, 5, 2), np.float32),
    )
    known = np.array([[10, 10, 90, 90]], np.float32)
    (face,) = new_faces(found, known, min_size=64, grow=1.2)  # the first overlaps, the third is 40 px
    np.testing.assert_allclose(face.box, [190, -10, 310, 110])
    assert face.score == pytest.approx(0.8)


def test_the_cascade_with_blazeface_finds_the_astronaut_once(astronaut):
    detector = make_detector("default+blazeface")
    assert isinstance(detector, CascadeDetector) and detector.blazeface is not None
    (face,) = detector.detect(astronaut)
    assert _iou(face.box, ASTRONAUT_FACE) >= 0.5
    assert make_detector("blazeface").detect(astronaut)
