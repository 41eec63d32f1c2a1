"""MTCNN from facenet-pytorch (torch): boxes, scores and five landmarks. Not in the default detector."""

from __future__ import annotations

import numpy as np

from anonymizer.detection.comparison.yunet import DEFAULT_MIN_FACE, DEFAULT_THRESHOLD
from anonymizer.device import resolve_device
from anonymizer.faces import Face


class MTCNNDetector:
    """MTCNN from facenet-pytorch: boxes, scores and five landmarks."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        device: str = "auto",
    ) -> None:
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise ImportError(
                "the mtcnn detector (kept for comparison) needs torch and facenet-pytorch: pip install 'anonymizer[eval]'"
            ) from exc

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
