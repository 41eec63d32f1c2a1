"""One aligned face frame: every face mapped onto one template from its five landmarks.

The GAN paints faces in this frame. A similarity transform (rotation, uniform
scale, shift) fitted to the five landmarks maps the face onto a fixed template
crop, so the eyes and mouth always land at the same place; the generator
paints a soft inner-face mask fixed in the template (brows to chin, cheek to
cheek) and its pixels are warped back into the photo with the inverse
transform. This module holds the frame end to end: the fit, the crop's window, the warp, the mask, and the
warp back into the photo. Preparation, training and inference all cut faces through
:func:`anonymizer.frames.make_crop` (with an :class:`InnerMask` region), so what the generator learns on
is what it is given.

A face whose landmarks do not fit the template (a profile, where the points
bunch on one side; landmarks outside the box) is *not alignable*: the GAN
hands it to the coarse fallback instead of painting a face into the wrong
place.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from anonymizer.crops import FaceCrop, add_grain
from anonymizer.faces import Face

# The ArcFace five-point template (112 px; left eye, right eye, nose, mouth corners from the viewer's side),
# shrunk about the crop's centre so that the face spans about 60 % of the side and the hair, ears and head
# outline stay inside the crop: as fractions of the crop's side.
_ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
TEMPLATE_SHRINK = 0.75
TEMPLATE = (_ARCFACE_112 / 112.0 - 0.5) * TEMPLATE_SHRINK + 0.5

# The inner-face mask: an ellipse fixed in the template, as fractions of the side (brows to chin, cheek to cheek).
INNER_CENTRE = (0.5, 0.625)
INNER_AXES = (0.227, 0.258)  # semi-axes at mask scale 1
# The fit's residual (mean landmark distance after the transform, over the template's eye distance) above
# which a face is not alignable: half the faces of the training photos fit to 0.08, 95 % to 0.16; a profile
# bunches its landmarks on one side and fits to 0.3 and more.
MAX_RESIDUAL = 0.25
EYE_DISTANCE = float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0]))


def template_points(size: int) -> np.ndarray:
    """The template's five landmarks in pixels of a ``size`` crop."""
    return (TEMPLATE * size).astype(np.float32)


# The coarse pose a "pose"-conditioned generator is given (``GeneratorConfig.landmarks == "pose"``): how far the
# nose sits beside the line from the eyes' middle to the mouth's (yaw, in eye distances) and down from the eyes
# towards the mouth (pitch, a share of that span), each against the template's, clipped and rounded to steps.
POSE_STEP = 0.05
POSE_YAW_MAX = 0.6
POSE_PITCH_MAX = 0.3


def coarse_pose(points):
    """(yaw, pitch) of each face's five landmarks (N x 5 x 2, NumPy or torch, in any frame): the nose's offset
    sideways from the middle of the eyes and mouth in eye distances, and its height between the eyes' line and
    the mouth's as a share of that span."""
    eyes = (points[..., 0, :] + points[..., 1, :]) / 2
    mouth = (points[..., 3, :] + points[..., 4, :]) / 2
    eye_distance = (((points[..., 1, :] - points[..., 0, :]) ** 2).sum(-1) ** 0.5).clip(min=1e-3)
    yaw = (points[..., 2, 0] - (eyes[..., 0] + mouth[..., 0]) / 2) / eye_distance
    pitch = (points[..., 2, 1] - eyes[..., 1]) / (mouth[..., 1] - eyes[..., 1]).clip(min=1e-3)
    return yaw, pitch


def pose_from_template(points, size: int = 128):
    """(yaw, pitch) of each face's five ``points`` (:func:`coarse_pose`) less the template's own (in a ``size``
    crop): zero for a face that faces the camera as the template does."""
    yaw0, pitch0 = coarse_pose(template_points(size)[None].astype(np.float64))
    yaw, pitch = coarse_pose(points)
    return yaw - float(yaw0[0]), pitch - float(pitch0[0])


def posed_template(points, size: int, as_array=np.asarray):
    """The template's five points (in a ``size`` crop) with its nose, and half as far its mouth, moved to the
    coarse pose of each face's own ``points`` (N x 5 x 2 in the aligned frame; :func:`coarse_pose`, relative to
    the template's, clipped and rounded to ``POSE_STEP``): a turned head is told which way it turns, and the
    face's own proportions (its eyes' spacing, its mouth's width) do not pass. ``as_array`` makes a constant of
    the points' kind (NumPy by default; a torch caller passes its own)."""
    template = template_points(size)
    yaw, pitch = pose_from_template(points, size)
    yaw = (yaw.clip(-POSE_YAW_MAX, POSE_YAW_MAX) / POSE_STEP).round() * POSE_STEP
    pitch = (pitch.clip(-POSE_PITCH_MAX, POSE_PITCH_MAX) / POSE_STEP).round() * POSE_STEP
    eye_distance = float(np.linalg.norm(template[1] - template[0]))
    span = float((template[3, 1] + template[4, 1]) / 2 - (template[0, 1] + template[1, 1]) / 2)
    sideways = np.zeros((5, 2), np.float32)
    sideways[2, 0], sideways[3, 0], sideways[4, 0] = eye_distance, eye_distance / 2, eye_distance / 2
    down = np.zeros((5, 2), np.float32)
    down[2, 1] = span
    return as_array(template) + yaw[..., None, None] * as_array(sideways) + pitch[..., None, None] * as_array(down)


@dataclass(frozen=True)
class InnerMask:
    """The region the GAN paints, fixed in the template: an ellipse grown by ``scale``, its edge ``feather`` wide
    (a fraction of the side) fading into the photo."""

    scale: float = 1.0
    feather: float = 0.06

    def masks(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hidden 0/1, alpha, replaced 0/1) float32 masks over a ``size`` crop; read-only, computed once per
        mask and size (every face of every photo uses the same three)."""
        return _inner_masks(self, size)


MASK_SCALE_STEP = 0.05  # between the mask sizes a generator trained on a range of them sees


def mask_scales(low: float, high: float) -> list[float]:
    """The inner-face mask scales from ``low`` to ``high`` in steps of :data:`MASK_SCALE_STEP` (both ends
    included): what ``anonymize-train train --mask-scales LO:HI`` draws from."""
    if not 0 < low <= high:
        raise ValueError(f"mask scales must be positive and low <= high, not {low}:{high}")
    count = int(round((high - low) / MASK_SCALE_STEP)) + 1
    return [round(float(v), 4) for v in np.linspace(low, high, count)]


@lru_cache(maxsize=16)
def _inner_masks(mask: InnerMask, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys = (np.arange(size, dtype=np.float32)[:, None] + 0.5) / size
    xs = (np.arange(size, dtype=np.float32)[None, :] + 0.5) / size
    a, b = INNER_AXES[0] * mask.scale, INNER_AXES[1] * mask.scale
    dx, dy = xs - INNER_CENTRE[0], ys - INNER_CENTRE[1]
    radius = np.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    # The distance beyond the ellipse along the ray from its centre, as a fraction of the side.
    beyond = np.maximum(radius - 1.0, 0.0) * np.sqrt(dx * dx + dy * dy) / np.maximum(radius, 1e-6)
    alpha = np.clip(1.0 - beyond / max(mask.feather, 1e-6), 0.0, 1.0).astype(np.float32)
    hidden = (radius <= 1.0).astype(np.float32)
    replaced = (alpha > 0).astype(np.float32)
    for layer in (hidden, alpha, replaced):
        layer.setflags(write=False)  # shared by every caller
    return hidden, alpha, replaced


def fit_alignment(landmarks: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The similarity transform (2x3, photo to crop pixels) that maps ``landmarks`` onto the template of a
    ``size`` crop, least squares over all five points, and its residual (mean point distance after the
    transform, in template eye distances)."""
    src = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    dst = TEMPLATE * size
    # Every point an inlier (a huge threshold): the least-squares fit over all five, refined.
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1e9, refineIters=20)
    if matrix is None:
        return np.full((2, 3), np.nan), float("inf")
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.linalg.norm(mapped - dst, axis=1).mean() / (EYE_DISTANCE * size))
    return matrix, residual


def alignable(landmarks: np.ndarray, box: np.ndarray, max_residual: float = MAX_RESIDUAL) -> tuple[bool, str]:
    """Whether a face can be painted in the aligned frame, and if not, why."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    slack = 0.1  # landmarks a little outside a tight box are normal
    outside = (
        (points[:, 0] < x1 - slack * w)
        | (points[:, 0] > x2 + slack * w)
        | (points[:, 1] < y1 - slack * h)
        | (points[:, 1] > y2 + slack * h)
    )
    if outside.any() or not np.isfinite(points).all():
        return False, "a landmark outside the face box"
    _, residual = fit_alignment(points, 128)
    if not residual <= max_residual:
        return False, f"landmarks do not fit a frontal face (residual {residual:.2f})"
    return True, ""


def crop_scale(matrix: np.ndarray) -> float:
    """Crop pixels per photo pixel of a similarity transform."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def warp_to_frame(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cut the ``size`` crop that ``matrix`` (photo to crop) defines out of ``image``.

    A face much larger than the crop is first shrunk with area averaging (a
    warp alone would alias); beyond the photo's edge the border is replicated,
    as :func:`anonymizer.box_frame.make_box_crop` does.
    """
    scale = crop_scale(matrix)
    if scale < 0.5:
        # The photo window the crop covers, shrunk so that the remaining warp scales by about 0.7.
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
        photo = corners @ inverse[:, :2].T + inverse[:, 2]
        h, w = image.shape[:2]
        x0, y0 = (int(np.floor(v)) - 2 for v in photo.min(0))
        x1, y1 = (int(np.ceil(v)) + 2 for v in photo.max(0))
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            part = image[sy0:sy1, sx0:sx1]
            part = cv2.copyMakeBorder(part, sy0 - y0, y1 - sy1, sx0 - x0, x1 - sx1, cv2.BORDER_REPLICATE)
            factor = scale / 0.7
            small = cv2.resize(
                part,
                (max(1, round(part.shape[1] * factor)), max(1, round(part.shape[0] * factor))),
                interpolation=cv2.INTER_AREA,
            )
            fx, fy = small.shape[1] / part.shape[1], small.shape[0] / part.shape[0]
            # photo -> window -> shrunk window; the crop matrix then maps the shrunk window.
            to_small = np.array([[fx, 0, -x0 * fx], [0, fy, -y0 * fy], [0, 0, 1]], np.float64)
            matrix = (np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_small))[:2]
            image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The rectangle [x1, y1, x2, y2] (end exclusive) that bounds a mask's nonzero pixels."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def transform_box(box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The bounding rectangle of a box's corners after ``matrix``."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    corners = transform_points(np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]]), matrix)
    return np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)


ALIGNED_SIZE = 128  # an aligned crop's side when none is asked for


def aligned_window(face: Face, region: InnerMask) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles [x1, y1, x2, y2] that bound a face's aligned crop and its hidden area."""
    return _aligned_windows(fit_alignment(face.landmarks, ALIGNED_SIZE)[0], region, ALIGNED_SIZE)


def _aligned_windows(matrix: np.ndarray, region: InnerMask, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles that bound an aligned ``size`` crop (``matrix``: photo to crop) and its hidden area."""
    inverse = cv2.invertAffineTransform(matrix)
    return transform_box([0, 0, size, size], inverse), transform_box(mask_box(region.masks(size)[0]), inverse)


def make_aligned_crop(
    image: np.ndarray, face: Face, size: int = ALIGNED_SIZE, region: InnerMask | None = None
) -> FaceCrop:
    """Cut the face mapped onto the template (see :func:`anonymizer.frames.make_crop`)."""
    region = region or InnerMask()
    matrix, _ = fit_alignment(face.landmarks, size)
    if not np.isfinite(matrix).all():
        raise ValueError(f"the landmarks of the face at {face.box.tolist()} give no alignment")
    window, _ = _aligned_windows(matrix, region, size)
    hidden, _, replaced = region.masks(size)
    return FaceCrop(
        image=warp_to_frame(image, matrix, size),
        mask=replaced,
        hidden=mask_box(hidden),
        landmarks=transform_points(face.landmarks, matrix),
        origin=(int(np.floor(window[0])), int(np.floor(window[1]))),
        side=int(np.ceil(max(window[2] - window[0], window[3] - window[1]))),
        face_size=face.size,
        region=region,
        track=face.track,
        matrix=matrix,
    )


def aligned_layers(image: np.ndarray, crop: FaceCrop, pixels: np.ndarray, grain: bool):
    """An aligned crop's new pixels warped back into the photo: (photo slices, alpha, hidden, new pixels)
    over the photo window its replaced area covers, or None where that lies outside the photo."""
    h, w = image.shape[:2]
    hidden, alpha, replaced = crop.areas()
    photo = transform_box(mask_box(replaced), cv2.invertAffineTransform(crop.matrix))
    x0, y0 = (max(int(np.floor(v)) - 1, 0) for v in photo[:2])
    x1, y1 = (int(np.ceil(v)) + 1 for v in photo[2:])
    x1, y1 = min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    to_crop = crop.matrix.astype(np.float64).copy()  # photo-window pixel -> crop pixel
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)

    def back(layer: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            layer,
            to_crop,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    part = (slice(y0, y1), slice(x0, x1))
    new_part = back(pixels.astype(np.float32))
    a = np.clip(back(alpha), 0.0, 1.0)
    hard = back(hidden) > 0.5
    a[hard] = 1.0
    if grain:
        seed = zlib.crc32(np.ascontiguousarray(pixels).tobytes())
        new_part = add_grain(new_part, image[part], a > 0, seed)
    return part, a, hard, new_part
