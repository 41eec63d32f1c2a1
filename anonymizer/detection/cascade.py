"""The default detector: the CenterFace cascade, and the RetinaFace pass where it found nothing.

:class:`CascadeDetector` (``make_detector("default")``) runs CenterFace three
ways and merges what it finds:

* on the photo itself: faces scored over ``threshold`` (0.17) from 32 px,
  over ``threshold - 0.01`` under 32 px, where false finds are more frequent;
* on the photo scaled down to ``large_side`` px (320): faces of ``large_min``
  px (48) or more scored over 0.45 -- a very large face becomes one of a size
  the network knows;
* on the photo turned by 90, 180 and 270 degrees at ``turned_side`` px (320):
  faces of ``large_min`` px or more scored over 0.5 (a face upside down or
  lying sideways is upright in one of them).

and then a second detector family, RetinaFace (MobileNet-0.25,
:mod:`~anonymizer.detection.retinaface`), on the photo at 640 px upright and at
320 px turned three ways: faces of 32 px or more scored over 0.7 that no
CenterFace pass found (``make_detector("cascade")`` is the cascade without it).

``border`` and ``large_border`` (off by default; ``make_detector("padded")``
turns them on) run the photo's pass and the scaled-down pass on the frame padded
by a mirrored border (:func:`~anonymizer.detection.centerface.find_padded`), so
that a face cut by the photo's edge becomes a whole, mirrored one; its box then
runs past the edge, and so does the region hidden. Measured on the report half
of the WIDER photos, it found more faces cut by the edge but lost a few weak
finds near it and added false ones (``benchmarks/results/detection_padded_border.md``),
so it is not the default.

``blazeface`` (off by default; ``make_detector("default+blazeface")`` turns it
on) adds one pass of MediaPipe's BlazeFace (:mod:`~anonymizer.detection.blazeface`,
short-range model, the whole photo at 128 px): its faces of ``blazeface_min`` px
(64) or more scored over 0.7, boxes grown 1.1x, kept where no other pass found
one. Chosen on the tune half (``benchmarks/blazeface_tune.py``), it added one
face of 64 px or more there, and only on the photos cut through a face; on the
report half it hid exactly the default's faces, uncut and cut, and on the uncut
photos added two false finds (dogs' faces) and more pixels changed outside faces
(``benchmarks/results/detection_blazeface.md``), so it is not the default.

``diagonal_side`` (off by default; ``make_detector("default+diagonal")`` turns
it on) adds CenterFace on the photo at 320 px turned 45, 135, 225 and 315
degrees, for faces tilted halfway between the right angles the turned passes
cover (a person lying down, a camera held askew). On the tune half's photos
turned by any angle it hid 94.6 % of the faces of 64 px or more against 92.9 %
(report half: 92.4 % against 91.5 %), with the same faces hidden on the photos as
they are and 0.01 more false finds a photo, but it costs about 40 % more detector
time a photo, so it is not the default.

A face the second or third way finds is kept only where no earlier pass found
one (its box overlaps none by 20% of the smaller box): merged, its box would
only enlarge the region hidden around a face already found, and measured, that
cost more pixels outside the faces than the previous default did.

Boxes are grown 1.2x (CenterFace's are tight). ``benchmarks/detector_study.py``
chose these settings on the 400 WIDER photos of ``benchmarks/detection.py``
(see docs/detection.md): against the previous
default (:class:`UnionDetector` of YuNet with its verifier and CenterFace,
``make_detector("yunet+centerface")``), it hides at least as many faces in
every size bucket from 16 px up, changes fewer pixels outside faces, and costs
about a third of the time on crowd photos; YuNet no longer added any face of
16 px or more there. The turned passes were measured on the same photos turned
90 degrees (``python -m benchmarks.detection --turn 90``): faces of 64 px or more
hidden 81.0% without them, 92.4% with them (deface: 77.6%).
"""

from __future__ import annotations

import copy

import numpy as np

from anonymizer.boxes import box_sizes, carried_points, carried_squares, grow_boxes, overlaps_any
from anonymizer.detection.blazeface import BlazeFaceDetector
from anonymizer.detection.centerface import DEFAULT_MIN_FACE, CenterFace, CenterFaceDetector, find_padded
from anonymizer.detection.merge import merge_faces
from anonymizer.detection.retinaface import RetinaFaceDetector
from anonymizer.faces import Face
from anonymizer.imageio import scaled_down

DEFAULT_THRESHOLD = 0.17
TURNS = (90, 180, 270)  # degrees clockwise
DIAGONALS = (45, 135, 225, 315)  # degrees clockwise: the diagonal passes (``diagonal_side``)
# ``make_detector("default+diagonal")``: CenterFace on the photo at 320 px turned by each of DIAGONALS, its faces
# of ``large_min`` px or more scored over 0.5 (the turned passes' score; 0.35 found no more faces of 64 px or more
# on the tune half's tilted photos), kept where no other pass found one. Not the default: it adds about 40 % to
# the detector's time a photo (benchmarks/results/detection_tune_tilt_diagonal.md, detection_report_tilt_diagonal.md).
DIAGONAL_SIDE = 320
DIAGONAL_THRESHOLD = 0.5
# ``make_detector("padded")``: the photo pass and the scaled-down pass on the frame padded by these shares of
# the longer side, mirrored (chosen on the tune half of benchmarks/wider_split.py, photos cut through a face).
PADDED_BORDER = 0.02
PADDED_LARGE_BORDER = 0.25
# ``make_detector("default+blazeface")``: the BlazeFace pass's model, score and smallest face (px), and how much
# its boxes are grown (they run from the brows to the chin).
BLAZEFACE_MODEL = "short_range"
BLAZEFACE_THRESHOLD = 0.7
BLAZEFACE_MIN = 64.0
BLAZEFACE_GROW = 1.1


# The default's RetinaFace pass (a second detector family): its faces scored over 0.7 on the photo at 640 px
# upright and at 320 px turned three ways, of 32 px or more, boxes grown 1.2x, kept where no CenterFace pass
# found one. Chosen on the tune half of the WIDER photos and its hard sets (benchmarks/retinaface_tune.py,
# benchmarks/results/retinaface_tune.md): it hides more faces of 64 px and more in every hard set (cut, upscaled,
# dark, tilted) for 0.03 more false finds a photo and 0.2 % more pixels changed outside faces on the plain
# photos; lower thresholds found a few more tilted faces but pushed the tilted set over 3 % of its pixels. It
# costs about a fifth of the whole process on crowd photos, nearly all of it the upright pass.
RETINAFACE_THRESHOLD = 0.7
RETINAFACE_MIN = 32.0
RETINAFACE_SIDE = 640
RETINAFACE_TURNED_SIDE = 320
RETINAFACE_GROW = 1.2


def default_retinaface() -> dict:
    """The RetinaFace settings of the default detector, as :class:`CascadeDetector` arguments (a new network)."""
    return {
        "retinaface": RetinaFaceDetector(RETINAFACE_THRESHOLD, side=RETINAFACE_SIDE, grow=RETINAFACE_GROW),
        "retinaface_min": RETINAFACE_MIN,
        "retinaface_turned_side": RETINAFACE_TURNED_SIDE,
    }


def _turn(image: np.ndarray, angle: int) -> np.ndarray:
    import cv2

    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[angle]
    return np.ascontiguousarray(cv2.rotate(image, code))


def turn_back(points: np.ndarray, angle: int, shape: tuple[int, int]) -> np.ndarray:
    """Points (..., 2) found on the image turned ``angle`` degrees clockwise, in the unturned image of ``shape``
    (height, width)."""
    h, w = shape
    x, y = points[..., 0], points[..., 1]
    if angle == 90:
        out = (y, h - x)
    elif angle == 180:
        out = (w - x, h - y)
    else:
        out = (w - y, x)
    return np.stack(out, axis=-1).astype(np.float32)


def _boxes_back(boxes: np.ndarray, angle: int, shape: tuple[int, int]) -> np.ndarray:
    corners = turn_back(boxes.reshape(-1, 2, 2), angle, shape)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)


def find_turned(find, small: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``find(image)`` (boxes, scores, landmarks) on ``small`` turned by each of :data:`TURNS`, each carried back
    to the unturned ``small``'s pixels."""
    found = []
    for angle in TURNS:
        boxes, scores, marks = find(_turn(small, angle))
        found.append((_boxes_back(boxes, angle, small.shape[:2]), scores, turn_back(marks, angle, small.shape[:2])))
    return found


def rotate(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned ``angle`` degrees clockwise on a canvas that holds all of it (the corners black), and the
    2x3 matrix that carries the turned image's points back to ``image``'s."""
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    turned = cv2.warpAffine(image, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return turned, cv2.invertAffineTransform(matrix)


def rotate_back(found: tuple, back: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finds (boxes, scores, landmarks) on an image turned by :func:`rotate`, carried back by its matrix ``back``:
    each box as the square of its area about its centre carried back (the face's own extent, not the larger box
    round its turned corners), the landmarks point by point."""
    boxes, scores, marks = found
    boxes = carried_squares(np.asarray(boxes, np.float32), back, shift=0.5).astype(np.float32)
    marks = carried_points(np.asarray(marks, np.float32), back, shift=0.5).astype(np.float32)
    return boxes, scores, marks


def _boxes(passes: list[list[Face]]) -> np.ndarray:
    return np.array([face.box for group in passes for face in group], np.float32).reshape(-1, 4)


def new_faces(
    found: tuple, known: np.ndarray, min_size: float, grow: float, scale: float = 1.0, of: str = "smaller"
) -> list[Face]:
    """The faces of ``min_size`` px or more among ``found`` (boxes, scores, landmarks on the photo scaled by
    ``scale``) that overlap none of the ``known`` boxes (:func:`~anonymizer.boxes.overlaps_any`, measured as a
    share ``of`` the smaller box or of the new one), in the photo's pixels with their boxes grown ``grow``."""
    boxes, scores, marks = found
    grown = grow_boxes(boxes / scale, grow).reshape(-1, 4)
    keep = (box_sizes(boxes) / scale >= min_size) & ~overlaps_any(grown, known, of=of)
    return [Face(b, float(s), m / scale) for b, s, m in zip(grown[keep], scores[keep], marks[keep])]


class CascadeDetector:
    """The default detector: CenterFace on the photo, scaled down, and turned (see the module's docstring)."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        grow: float = 1.2,
        large_side: int = 320,
        large_threshold: float = 0.45,
        large_min: float = 48.0,
        turned_side: int | None = 320,
        turned_threshold: float = 0.5,
        merge_iou: float = 0.3,
        model_path: str | None = None,
        border: float = 0.0,
        large_border: float = 0.0,
        border_mode: str = "reflect",
        min_inside: float = 0.3,
        blazeface: BlazeFaceDetector | None = None,
        blazeface_min: float = BLAZEFACE_MIN,
        retinaface: RetinaFaceDetector | None = None,
        retinaface_min: float = 0.0,
        retinaface_turned_side: int | None = None,
        diagonal_side: int | None = None,
        diagonal_threshold: float = 0.5,
        known_of: str = "smaller",
        retinaface_diagonal_side: int | None = None,
    ) -> None:
        self.photo = CenterFaceDetector(
            threshold,
            min_face_size,
            model_path,
            small_threshold=max(0.0, threshold - 0.01),
            grow=grow,
            border=border,
            border_mode=border_mode,
            min_inside=min_inside,
        )
        self.net: CenterFace = self.photo.net
        self.grow = grow
        self.large_side = large_side
        self.large_threshold = max(large_threshold, threshold)
        self.large_min = large_min
        self.turned_side = turned_side
        self.turned_threshold = max(turned_threshold, threshold)
        self.merge_iou = merge_iou
        self.large_border = large_border
        self.border_mode = border_mode
        self.min_inside = min_inside
        self.blazeface = blazeface
        self.blazeface_min = blazeface_min
        self.retinaface = retinaface
        self.retinaface_min = retinaface_min
        self.retinaface_turned_side = retinaface_turned_side
        # RetinaFace (with ``retinaface``) on the photo at this side turned 45, 135, 225 and 315 degrees, as the
        # diagonal pass runs CenterFace; None: not run
        self.retinaface_diagonal_side = retinaface_diagonal_side
        self.diagonal_side = diagonal_side
        self.diagonal_threshold = max(diagonal_threshold, threshold)
        # A later pass's find is the face an earlier pass found when their overlap is 0.2 of the smaller box
        # ("smaller"), or of the new find ("boxes": a small earlier box, a neighbour, no longer hides a larger face
        # nobody else found; it hid more large faces on the tune half's upscaled and tilted photos, and kept huge
        # false finds round whole couples, 3.43 % of the pixels outside faces changed against 3.13 %:
        # benchmarks/results/detection_dedupe_tune.md). "smaller" stays the default until a rule keeps the one
        # and drops the other.
        self.known_of = known_of

    def with_border(self, border: float = PADDED_BORDER, large_border: float = PADDED_LARGE_BORDER) -> CascadeDetector:
        """The same detector (sharing its network) with its photo and scaled-down passes on a mirrored border
        of these shares of the longer side: ``make_detector("padded")``'s, by default."""
        twin = copy.copy(self)
        twin.photo = copy.copy(self.photo)
        twin.photo.border = border
        twin.large_border = large_border
        return twin

    def _new(self, found: tuple, known: np.ndarray, min_size: float, grow: float, scale: float = 1.0) -> list[Face]:
        """:func:`new_faces` by this cascade's rule for what an earlier pass already found (``known_of``)."""
        return new_faces(found, known, min_size, grow, scale, of=self.known_of)

    def _diagonal(
        self, find, small: np.ndarray, f: float, known: np.ndarray, min_size: float, grow: float
    ) -> list[Face]:
        """The faces ``find`` (image -> boxes, scores, landmarks) gives on ``small`` (the photo scaled by ``f``)
        turned by each of :data:`DIAGONALS`, carried back, that overlap none of the ``known`` boxes nor one
        another, in the photo's pixels."""
        faces: list[Face] = []
        for angle in DIAGONALS:
            turned_image, back = rotate(small, angle)
            found = rotate_back(find(turned_image), back)
            faces += self._new(found, np.concatenate([known, _boxes([faces])]), min_size, grow, f)
        return faces

    def _new_large_faces(
        self, found: tuple, f: float, known: np.ndarray, turned: int = 0, shape: tuple[int, int] | None = None
    ) -> list[Face]:
        """The faces of ``large_min`` px or more among ``found`` (boxes, scores, landmarks on the photo scaled by
        ``f`` and, when ``turned``, turned that much: ``shape`` is the unturned scaled photo's) that overlap none
        of the ``known`` boxes, in the photo's pixels with their boxes grown."""
        boxes, scores, marks = found
        if turned:
            boxes, marks = _boxes_back(boxes, turned, shape), turn_back(marks, turned, shape)
        return self._new((boxes, scores, marks), known, self.large_min, self.grow, f)

    def detect(
        self, image: np.ndarray, extra: bool = True, weak: float | None = None, scale: float = 1.0
    ) -> list[Face]:
        """The faces of ``image``; ``extra=False`` runs the photo's own pass only (a video's frames between
        the frames that get all passes: the tracker bridges the frames in between).

        ``scale`` (under 1) runs the photo's own pass on the image scaled by it: a video's cheaper search of
        the frames between full ones (:class:`~anonymizer.video.VideoOptions`' ``full_every``).

        ``weak`` (a video's search, with ``extra``): the scaled-down pass also gives its finds scored from
        ``weak`` up to its own threshold, where no other pass found a face, after the others, with
        ``source="weak"``. Too many of them are not faces to hide on their own, so the tracker hides them only
        where several frames in a row confirm them (:class:`~anonymizer.tracking.FaceTracker`'s ``confirm``)."""
        passes = [self.photo.detect(image) if scale == 1.0 else self.photo.detect(image, scale)]
        if not extra:
            return passes[0]
        weak_found = None
        scaled: dict[int, tuple[np.ndarray, float]] = {}  # the passes at one size share the scaled photo

        def at(side: int) -> tuple[np.ndarray, float]:
            if side not in scaled:
                scaled[side] = scaled_down(image, side)
            return scaled[side]

        if max(image.shape[:2]) > self.large_side:
            small, f = at(self.large_side)
            px = int(round(self.large_border * max(small.shape[:2])))
            threshold = self.large_threshold if weak is None else min(weak, self.large_threshold)
            found = find_padded(self.net, small, threshold, px, self.border_mode, self.min_inside)
            if weak is not None:
                strong = found[1] >= self.large_threshold
                weak_found = tuple(a[~strong] for a in found)
                found = tuple(a[strong] for a in found)
            passes.append(self._new_large_faces(found, f, _boxes(passes)))
        if self.turned_side:
            small, f = at(self.turned_side)
            upright = _boxes(passes)
            turned = []
            for angle in TURNS:
                found = self.net.find(_turn(small, angle), self.turned_threshold)
                turned += self._new_large_faces(found, f, upright, angle, small.shape[:2])
            passes.append(turned)
        if self.diagonal_side:
            find = lambda im: self.net.find(im, self.diagonal_threshold)  # noqa: E731
            passes.append(self._diagonal(find, *at(self.diagonal_side), _boxes(passes), self.large_min, self.grow))
        if self.retinaface is not None:
            found = self.retinaface.find(image)
            passes.append(self._new(found, _boxes(passes), self.retinaface_min, self.retinaface.grow))
            if self.retinaface_turned_side:
                small, f = at(self.retinaface_turned_side)
                turned = []
                for found in find_turned(lambda im: self.retinaface.net.find(im, self.retinaface.threshold), small):
                    known = np.concatenate([_boxes(passes), _boxes([turned])])
                    turned += self._new(found, known, self.retinaface_min, self.retinaface.grow, f)
                passes.append(turned)
            if self.retinaface_diagonal_side:
                find = lambda im: self.retinaface.net.find(im, self.retinaface.threshold)  # noqa: E731
                scaled_photo = at(self.retinaface_diagonal_side)
                known = _boxes(passes)
                passes.append(self._diagonal(find, *scaled_photo, known, self.retinaface_min, self.retinaface.grow))
        if self.blazeface is not None:
            found = self.blazeface.net.find(image, self.blazeface.threshold)
            passes.append(self._new(found, _boxes(passes), self.blazeface_min, self.blazeface.grow))
        faces = merge_faces(passes, self.merge_iou)
        if weak_found is not None and len(weak_found[0]):
            known = np.array([face.box for face in faces], np.float32).reshape(-1, 4)
            for face in self._new_large_faces(weak_found, f, known):
                face.source = "weak"
                faces.append(face)
        return faces
