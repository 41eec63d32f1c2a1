"""The audit: an independent check of every anonymized image before it is written.

The image the pipeline made is searched again, at a low score, by RetinaFace (MobileNet-0.25), a family other
than the CenterFace cascade that finds most faces: on the image scaled to 640 px, upright (``TURNED_SIDE`` adds
the image scaled to 320 px turned 90, 180 and 270 degrees: it caught a few more tilted faces on the tune half,
and took the audit's cost from about 10 % of the whole process on crowd photos to 18 %). A find whose box does
not lie (``INSIDE`` of its area) within the region hidden around one of the faces is a **residual**: a face that may still show. Those scored ``hide_threshold`` or more
are hidden too (fail closed: with ``mode="hide"``, the default); the others are **flagged** for a person to look
at. Every residual goes into the report with its box, its score and what happened to it.

The thresholds were chosen on the tune half of the WIDER photos and its hard sets (``benchmarks/audit_tune.py``,
``benchmarks/results/audit_tune.md`` with the turned searches, ``audit_tune_upright.md`` without), never on the
report half: flagging from 0.6 keeps false flags under 0.1 a photo on every set. Measured there, upright only,
the audit catches almost none of the faces the main pass leaves visible (none on the photos as they are, cut or
dark, 2 % of tilted ones, 8 % of upscaled ones): with RetinaFace in the main pass too, what is left is what
neither family finds, and a second look by one of them adds little. It stays a net for faces a main pass loses
(a face the pipeline failed to paint over is found again and hidden), and the report's record of the check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anonymizer.boxes import box_iou, box_sizes
from anonymizer.crops import hidden_region
from anonymizer.faces import Face

AUDIT_MODES = ("off", "flag", "hide")
DEFAULT_AUDIT = "hide"
FLAG_THRESHOLD = 0.6  # a residual scored this or more is flagged (under it: not reported)
HIDE_THRESHOLD = 0.9  # and this or more, hidden as well (mode "hide")
MIN_SIZE = 16.0  # px: smaller finds are not judged (a face of under 16 px gives no one away)
INSIDE = 0.5  # share of a find's box inside one hidden region for it to count as that face, already hidden
TURNED_SIDE = None  # px of the turned search; None: upright only
UPRIGHT_SIDE = 640


DISMISS_MATCH_IOU = 0.5  # a find overlapping a box a reviewer dismissed this much is that find again
RESIDUAL_ACTIONS = ("hidden", "flagged", "dismissed")


@dataclass
class Residual:
    """A face-like find in the anonymized image outside every hidden region: ``action`` is "hidden" (hidden
    too), "flagged" (left for a person to look at) or "dismissed" (a reviewer said it is no face: left as it
    is, and not counted as needing a look)."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    action: str = "flagged"

    def to_report(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "action": self.action,
        }

    def as_face(self) -> Face:
        return Face(self.box.copy(), self.score, self.landmarks.copy(), source="audit")


@dataclass(frozen=True)
class Reviewed:
    """A photo's faces as a reviewer left them, and the audit's finds they dismissed (boxes in the photo's
    pixels): a later audit leaves a find matching one of those (IoU ``DISMISS_MATCH_IOU``) as it is, marked
    "dismissed". A reviewer who hides a find adds it to ``faces``."""

    faces: tuple[Face, ...]
    dismissed: tuple[tuple[float, float, float, float], ...] = ()


def inside_share(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """For each box (Nx4), the largest share of its area that lies inside one of ``regions`` (Mx4)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    regions = np.asarray(regions, np.float32).reshape(-1, 4)
    if not len(boxes) or not len(regions):
        return np.zeros(len(boxes), np.float32)
    ix = np.clip(
        np.minimum(boxes[:, None, 2], regions[None, :, 2]) - np.maximum(boxes[:, None, 0], regions[None, :, 0]), 0, None
    )
    iy = np.clip(
        np.minimum(boxes[:, None, 3], regions[None, :, 3]) - np.maximum(boxes[:, None, 1], regions[None, :, 1]), 0, None
    )
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    return (ix * iy / area[:, None]).max(axis=1)


class Audit:
    """Searches an anonymized image for faces outside the hidden regions (see the module's docstring).

    ``detector`` (tests pass a fake) has ``find(image, threshold) -> (boxes, scores, landmarks)`` in the
    image's pixels; by default RetinaFace, upright and turned."""

    def __init__(
        self,
        flag_threshold: float = FLAG_THRESHOLD,
        hide_threshold: float = HIDE_THRESHOLD,
        min_size: float = MIN_SIZE,
        detector=None,
    ) -> None:
        self.flag_threshold = flag_threshold
        self.hide_threshold = hide_threshold
        self.min_size = min_size
        self._detector = detector

    @property
    def detector(self):
        if self._detector is None:  # loaded on first use
            self._detector = _RetinaFaceSearch()
        return self._detector

    def residuals(self, image: np.ndarray, faces: list[Face], mask_scale: float, dismissed=()) -> list[Residual]:
        """The finds in ``image`` (the anonymized one) scored ``flag_threshold`` or more, of ``min_size`` px or
        more, that lie within no hidden region (each face's box grown ``mask_scale``), each "flagged" or, scored
        ``hide_threshold`` or more, marked "hidden" (for the caller to hide); one matching a box of
        ``dismissed`` (a reviewer's) is marked "dismissed"."""
        boxes, scores, marks = self.detector.find(image, self.flag_threshold)
        if not len(boxes):
            return []
        regions = np.array([hidden_region(f.box, mask_scale) for f in faces], np.float32).reshape(-1, 4)
        keep = (box_sizes(boxes) >= self.min_size) & (inside_share(boxes, regions) < INSIDE)
        boxes, scores, marks = boxes[keep], scores[keep], marks[keep]
        waved = np.zeros(len(boxes), bool)
        if len(dismissed) and len(boxes):
            waved = box_iou(boxes, np.asarray(dismissed, np.float32).reshape(-1, 4)).max(axis=1) >= DISMISS_MATCH_IOU
        return [
            Residual(b, float(s), m, "dismissed" if w else "hidden" if s >= self.hide_threshold else "flagged")
            for b, s, m, w in zip(boxes, scores, marks, waved)
        ]


class _RetinaFaceSearch:
    """RetinaFace on the image at 640 px upright and, with ``TURNED_SIDE``, at that size turned three ways, finds
    merged (suppressed at IoU 0.4, best first), in the image's pixels."""

    def __init__(self) -> None:
        from anonymizer.detection.retinaface import RetinaFaceDetector

        self.upright = RetinaFaceDetector(side=UPRIGHT_SIDE)

    def find(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from anonymizer.boxes import greedy_nms
        from anonymizer.detection.cascade import find_turned
        from anonymizer.imageio import scaled_down

        found = [self.upright.find(image, threshold)]
        if not TURNED_SIDE:
            return found[0]
        small, f = scaled_down(image, TURNED_SIDE)
        found += [(b / f, s, m / f) for b, s, m in find_turned(lambda im: self.upright.net.find(im, threshold), small)]
        boxes = np.concatenate([b.reshape(-1, 4) for b, _, _ in found]).astype(np.float32)
        scores = np.concatenate([s for _, s, _ in found]).astype(np.float32)
        marks = np.concatenate([m.reshape(-1, 5, 2) for _, _, m in found]).astype(np.float32)
        order = greedy_nms(boxes, scores, 0.4)
        return boxes[order], scores[order], marks[order]
