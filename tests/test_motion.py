"""The camera's motion between frames, as the tracker is given it."""

import cv2
import numpy as np

from anonymizer.motion import CameraMotion


def _scene(seed: int = 0) -> np.ndarray:
    """A textured 1280x720 picture: smoothed noise, so that corners are found and followed."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (720 // 8, 1280 // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, (1280, 720), interpolation=cv2.INTER_CUBIC)


def test_a_pan_and_a_zoom_are_measured_in_full_size_pixels():
    scene = _scene()
    truth = np.array([[1.02, 0.0, -14.0], [0.0, 1.02, 6.0]])  # zoom in 2 %, picture moves left 14, down 6
    moved = cv2.warpAffine(scene, truth, (1280, 720), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    motion = CameraMotion()
    assert motion.update(scene) is None, "no motion for the first frame"
    found = motion.update(moved)
    assert found is not None
    np.testing.assert_allclose(found[:, :2], truth[:, :2], atol=0.004)
    # where a point of the picture goes, within a pixel at the frame's corners
    corners = np.array([[0, 0, 1], [1280, 0, 1], [0, 720, 1], [1280, 720, 1]], dtype=np.float64)
    assert np.abs(corners @ found.T - corners @ truth.T).max() < 1.0


def test_a_flat_frame_gives_no_motion():
    motion = CameraMotion()
    flat = np.full((720, 1280, 3), 90, np.uint8)
    motion.update(flat)
    assert motion.update(flat) is None
    motion.update(_scene())
    assert motion.update(cv2.resize(_scene(), (640, 360))) is None, "a frame of another size starts again"


def test_a_new_shot_is_a_cut_and_a_pan_or_a_flat_frame_is_not():
    motion = CameraMotion()
    scene = _scene(0)
    motion.update(scene)
    assert not motion.cut
    moved = cv2.warpAffine(scene, np.float64([[1, 0, -20], [0, 1, 4]]), (1280, 720), borderMode=cv2.BORDER_REFLECT)
    assert motion.update(moved) is not None and not motion.cut, "a pan: motion, no cut"
    other = np.ascontiguousarray(_scene(7)[::-1])  # another picture altogether
    assert motion.update(other) is None and motion.cut, "a new shot: no motion fitted, and unlike the frame before"
    assert motion.update(other) is not None and not motion.cut
    dim = np.full((720, 1280, 3), 90, np.uint8)
    dim[:, :640] = 60  # two flat halves: no corners to follow, so no motion, but alike
    motion.update(dim)
    assert motion.update(dim) is None and not motion.cut, "no motion fitted, the same picture: no cut"
