"""RetinaFace with a MobileNet-0.25 backbone (Deng et al. 2020; biubug6's PyTorch weights), on onnxruntime.

A second detector family beside CenterFace: another network, trained otherwise, misses other faces (a face
in sunglasses, one kissing a cheek, a dark face lying on its side). Its ONNX file (1.7 MB, MIT) ships in
``anonymizer/models_data/`` (see ``RETINAFACE_LICENSE.txt`` there). The decoding is RetinaFace's: anchors
of 16 and 32 px on a stride-8 grid, 64 and 128 on stride 16, 256 and 512 on stride 32; box centres and
landmarks offset from the anchor by 0.1 of its size per unit, sizes scaled by ``exp(0.2 * value)``; the
network takes BGR minus the mean (104, 117, 123) and gives a softmax face score per anchor.
"""

from __future__ import annotations

import os

import numpy as np

from anonymizer.boxes import box_sizes, greedy_nms, grow_boxes
from anonymizer.detection._onnx import MODELS_DATA, session
from anonymizer.faces import Face
from anonymizer.imageio import scaled_down

RETINAFACE_MODEL = os.path.join(MODELS_DATA, "retinaface_mnet025.onnx")
ANCHORS = ((8, (16, 32)), (16, (64, 128)), (32, (256, 512)))  # (stride, anchor sizes in px)
VARIANCE_CENTRE, VARIANCE_SIZE = 0.1, 0.2
BGR_MEAN = np.array([104.0, 117.0, 123.0], np.float32)
NMS_IOU = 0.4


def anchors(height: int, width: int) -> np.ndarray:
    """RetinaFace's anchors for an input of ``height`` x ``width`` px: (N, 4) centre x, centre y, width, height
    in px, in the order of the network's outputs (stride by stride, row by row, anchor sizes innermost)."""
    rows = []
    for stride, sizes in ANCHORS:
        ny, nx = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        for_each = np.repeat(centres, len(sizes), axis=0)
        side = np.tile(np.array(sizes, np.float32), len(centres))
        rows.append(np.column_stack([for_each, side, side]))
    return np.concatenate(rows).astype(np.float32)


class RetinaFace:
    """The network and its decoding: :meth:`find` gives every face over a score, in the image's pixels."""

    def __init__(self, model_path: str | None = None) -> None:
        path = model_path or RETINAFACE_MODEL
        if not os.path.exists(path):
            raise RuntimeError(f"RetinaFace's model was not found at {path!r}: reinstall anonymizer")
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name
        self._anchors: dict[tuple[int, int], np.ndarray] = {}

    def find(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (Nx4), scores (N) and landmarks (Nx5x2: eyes, nose, mouth corners) of the faces scored over
        ``threshold`` in the HxWx3 RGB ``image``, best first, overlaps suppressed."""
        h, w = image.shape[:2]
        blob = (image[..., ::-1].astype(np.float32) - BGR_MEAN).transpose(2, 0, 1)[None]
        loc, conf, marks = self.session.run(None, {self.input: np.ascontiguousarray(blob)})
        if (h, w) not in self._anchors:
            self._anchors[(h, w)] = anchors(h, w)
        prior = self._anchors[(h, w)]
        scores = conf[0, :, 1]
        keep = np.nonzero(scores > threshold)[0]
        prior, loc, marks, scores = prior[keep], loc[0, keep], marks[0, keep], scores[keep]
        centre = prior[:, :2] + loc[:, :2] * VARIANCE_CENTRE * prior[:, 2:]
        size = prior[:, 2:] * np.exp(loc[:, 2:] * VARIANCE_SIZE)
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)
        points = prior[:, None, :2] + marks.reshape(-1, 5, 2) * VARIANCE_CENTRE * prior[:, None, 2:]
        order = greedy_nms(boxes, scores, NMS_IOU)
        return boxes[order], scores[order].astype(np.float32), points[order].astype(np.float32)


class RetinaFaceDetector:
    """RetinaFace as a detector: on the photo scaled so its longer side is at most ``side`` px (None: as it
    is), faces scored over ``threshold`` from ``min_face_size`` px (in the photo), boxes grown ``grow``."""

    def __init__(
        self,
        threshold: float = 0.5,
        min_face_size: float = 8.0,
        side: int | None = 640,
        grow: float = 1.0,
        model_path: str | None = None,
    ) -> None:
        self.net = RetinaFace(model_path)
        self.threshold = threshold
        self.min_face_size = min_face_size
        self.side = side
        self.grow = grow

    def find(self, image: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network's finds on the scaled photo, in the photo's pixels (boxes not grown)."""
        small, f = (image, 1.0) if self.side is None else scaled_down(image, self.side)
        boxes, scores, marks = self.net.find(small, self.threshold if threshold is None else threshold)
        return boxes / np.float32(f), scores, marks / np.float32(f)

    def detect(self, image: np.ndarray) -> list[Face]:
        boxes, scores, marks = self.find(image)
        ok = box_sizes(boxes) >= self.min_face_size
        grown = grow_boxes(boxes[ok], self.grow) if self.grow != 1.0 else boxes[ok]
        return [Face(b, float(s), m) for b, s, m in zip(grown, scores[ok], marks[ok])]
