"""The camera's motion from one video frame to the next: what carries a face the detector no longer sees.

A face the detector loses at the frame's edge (cut too far to be found) is still where the camera's motion
puts it. :class:`CameraMotion` measures that motion on small grey copies of consecutive frames: corners
(``cv2.goodFeaturesToTrack``) followed by pyramidal Lucas-Kanade optical flow, and one similarity transform
(shift, zoom, a little rotation) fitted to them with RANSAC, so that people moving in the scene count as
outliers and the background's motion is what is kept. About 5 ms a frame at 320 px on one core.

Where the fit is unsure (a flat or dark frame, few points followed, few inliers, an implausible zoom) no
motion is reported, and the tracker treats the camera as still for that frame.

A **cut** (a new shot) is a frame with no motion fitted from the one before whose 32x18 grey thumbnail is
unlike the one before (normalized cross-correlation under ``CUT_CORRELATION``): on the stage clip of
``shared/data/video`` its three cuts measured 0.01-0.27, every other frame 0.69 or more. The tracker does
not carry a face's box back or forward across a cut (:class:`~anonymizer.tracking.FaceTracker`).
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_WIDTH = 320  # px: the grey copy the motion is measured on
MAX_CORNERS = 200
MIN_POINTS = 12
MIN_INLIERS = 0.4  # share of the followed points the transform must fit
MAX_ZOOM = 1.15  # per frame, either way
CUT_CORRELATION = 0.4  # thumbnails of two frames less alike than this, with no motion fitted: a cut
THUMBNAIL = (32, 18)


class CameraMotion:
    """Feed frames in order to :meth:`update`; each call returns the 2x3 similarity that maps the previous
    frame's pixels onto this frame's (full-size pixels), or None (the first frame, or an unsure fit)."""

    def __init__(self, width: int = WORK_WIDTH) -> None:
        self.width = width
        self._previous: np.ndarray | None = None
        self._scale = 1.0
        self.cut = False  # whether the frame last given to update starts a new shot

    def update(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.width / max(w, 1))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        same_size = previous is not None and previous.shape == grey.shape and scale == self._scale
        self._scale = scale
        self.cut = False
        if not same_size:
            return None
        matrix = _fit(previous, grey, scale)
        if matrix is None:
            self.cut = thumbnail_correlation(previous, grey) < CUT_CORRELATION
        return matrix


def thumbnail_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalized cross-correlation of two grey images' 32x18 thumbnails (1: alike; 0 or less: unrelated)."""
    ta = cv2.resize(a, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float64)
    tb = cv2.resize(b, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float64)
    ta, tb = ta - ta.mean(), tb - tb.mean()
    norm = np.sqrt((ta * ta).sum() * (tb * tb).sum())
    return float((ta * tb).sum() / norm) if norm > 1e-6 else 1.0


def _fit(previous: np.ndarray, grey: np.ndarray, scale: float) -> np.ndarray | None:
    points = cv2.goodFeaturesToTrack(previous, MAX_CORNERS, 0.01, 8)
    if points is None or len(points) < MIN_POINTS:
        return None
    followed, status, _ = cv2.calcOpticalFlowPyrLK(previous, grey, points, None, winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    if ok.sum() < MIN_POINTS:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(
        points[ok], followed[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0
    )
    if matrix is None or inliers is None or inliers.sum() < MIN_INLIERS * ok.sum():
        return None
    zoom = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if not 1 / MAX_ZOOM <= zoom <= MAX_ZOOM:
        return None
    matrix = matrix.astype(np.float64)
    matrix[:, 2] /= scale  # the shift in full-size pixels (the linear part is the same at every scale)
    return matrix
