"""The union of several detectors: every face any of them finds, merged where several find the same one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anonymizer.detection.merge import merge_faces
from anonymizer.faces import Face


class UnionDetector:
    """Every face any of ``detectors`` finds, merged where several find the same one.

    ``detectors`` are tried in order of preference for landmarks (see
    :func:`~anonymizer.detection.merge.merge_faces`).
    """

    def __init__(self, detectors: Sequence, merge_iou: float = 0.3) -> None:
        self.detectors = list(detectors)
        self.merge_iou = merge_iou

    def detect(self, image: np.ndarray) -> list[Face]:
        return merge_faces([d.detect(image) for d in self.detectors], self.merge_iou)
