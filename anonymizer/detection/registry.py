"""Every detector by name (``anonymize --detector``): the default and its variants, and those kept for comparison
(:mod:`anonymizer.detection.comparison`)."""

from __future__ import annotations

from anonymizer.detection._onnx import on_device
from anonymizer.detection.blazeface import BlazeFaceDetector
from anonymizer.detection.cascade import (
    BLAZEFACE_GROW,
    BLAZEFACE_MODEL,
    BLAZEFACE_THRESHOLD,
    DEFAULT_THRESHOLD,
    DIAGONAL_SIDE,
    DIAGONAL_THRESHOLD,
    CascadeDetector,
    default_retinaface,
)
from anonymizer.detection.centerface import DEFAULT_MIN_FACE, CenterFaceDetector
from anonymizer.detection.comparison.union import UnionDetector
from anonymizer.detection.comparison.yunet import YuNetDetector

DETECTORS = (
    "default",
    "cascade",
    "padded",
    "default+blazeface",
    "default+diagonal",
    "yunet+centerface",
    "union-yunet",
    "yunet",
    "centerface",
    "blazeface",
    "mtcnn",
)


def make_detector(
    name: str = "default",
    threshold: float = DEFAULT_THRESHOLD,
    min_face_size: int = DEFAULT_MIN_FACE,
    device: str = "auto",
):
    """A detector by name: ``default`` (:class:`CascadeDetector` with its RetinaFace pass), ``cascade`` (the
    CenterFace cascade alone, the default before the RetinaFace pass), ``padded`` (the default, its photo and
    scaled-down passes on a mirrored border, for faces cut by the photo's edge), ``default+blazeface`` (the
    default plus a BlazeFace pass for large faces), ``default+diagonal`` (the default plus CenterFace on the photo
    turned 45, 135, 225 and 315 degrees, for faces tilted between the right angles); for comparison,
    ``yunet+centerface`` (the previous default: YuNet with its verifier, and CenterFace), ``union-yunet`` (YuNet on the photo and the mirrored photo, with
    its verifier), and ``yunet``, ``centerface``, ``blazeface`` (at MediaPipe's 0.5), ``mtcnn`` alone.
    ``threshold`` is the default's (YuNet's own thresholds are fixed where it is a member); ``device`` is where
    the ONNX networks run (:func:`anonymizer.detection._onnx.on_device`), and MTCNN's."""
    with on_device(device):
        return _make(name, threshold, min_face_size, device)


def _make(name: str, threshold: float, min_face_size: int, device: str):
    if name == "default":
        return CascadeDetector(threshold, min_face_size, **default_retinaface())
    if name == "cascade":
        return CascadeDetector(threshold, min_face_size)
    if name == "padded":
        return CascadeDetector(threshold, min_face_size, **default_retinaface()).with_border()
    if name == "default+blazeface":
        blazeface = BlazeFaceDetector(BLAZEFACE_THRESHOLD, model=BLAZEFACE_MODEL, grow=BLAZEFACE_GROW)
        return CascadeDetector(threshold, min_face_size, blazeface=blazeface, **default_retinaface())
    if name == "default+diagonal":
        return CascadeDetector(
            threshold,
            min_face_size,
            diagonal_side=DIAGONAL_SIDE,
            diagonal_threshold=DIAGONAL_THRESHOLD,
            **default_retinaface(),
        )
    if name == "yunet+centerface":
        return UnionDetector(
            [
                YuNetDetector(0.6, min_face_size, verify=True, verify_threshold=0.7),
                CenterFaceDetector(0.2, min_face_size, small_threshold=0.22, grow=1.2),
            ]
        )
    if name == "union-yunet":
        return UnionDetector([YuNetDetector(0.6, min_face_size, verify=True, mirror=True)])
    if name == "yunet":
        return YuNetDetector(0.6, min_face_size)
    if name == "centerface":
        return CenterFaceDetector(min_face_size=min_face_size)
    if name == "blazeface":
        return BlazeFaceDetector(0.5, min_face_size, BLAZEFACE_MODEL, grow=BLAZEFACE_GROW)  # MediaPipe's 0.5
    if name == "mtcnn":
        from anonymizer.detection.comparison.mtcnn import MTCNNDetector

        return MTCNNDetector(0.6, min_face_size, device)
    raise ValueError(f"unknown detector {name!r}: use one of {', '.join(DETECTORS)}")
