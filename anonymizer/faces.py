"""The small records that travel between the pipeline's steps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Face:
    """One detected (or user-added) face, in pixels of the displayed image.

    ``box`` is ``[x1, y1, x2, y2]``; ``landmarks`` is 5x2 in MTCNN order:
    left eye, right eye, nose, left mouth corner, right mouth corner (from the
    viewer's side, as MTCNN returns them).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    method: str | None = None  # filled in by the pipeline: which replacer hid it
    source: str = "detector"  # "detector", "user", or "track" (a video face placed by its track, not detected)
    track: int | None = None  # in a video: the track the face belongs to (one person, one generated face)
    fallback: str | None = None  # filled in by the pipeline: why the fallback method hid it instead, if it did

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(5, 2)
        self.score = float(self.score)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        """The longer side of the box, the size used for fallbacks and buckets."""
        return max(self.width, self.height)

    def to_report(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "method": self.method,
            **({"fallback": self.fallback} if self.fallback else {}),
        }


def estimate_landmarks(box: np.ndarray) -> np.ndarray:
    """Landmarks of a frontal face placed in ``box``, for faces with none known.

    The proportions are the mean of MTCNN landmarks relative to its boxes.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.31, 0.40], [0.69, 0.40], [0.50, 0.58], [0.35, 0.78], [0.65, 0.78]], dtype=np.float32)
    return np.stack([x1 + rel[:, 0] * w, y1 + rel[:, 1] * h], axis=1)


@dataclass
class ImageResult:
    """What anonymizing one image gives: the new pixels and the faces hidden."""

    image: np.ndarray
    faces: list[Face] = field(default_factory=list)
    # what the audit found outside every hidden region (anonymizer.audit.Residual): hidden too, or flagged
    residuals: list = field(default_factory=list)

    @property
    def flagged(self) -> list:
        """The residuals left for a person to look at."""
        return [r for r in self.residuals if r.action == "flagged"]
