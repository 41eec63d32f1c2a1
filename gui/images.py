"""Conversions between the pipeline's RGB arrays and Qt images."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

THUMBNAIL_SIZE = 96


def to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an HxWx3 uint8 RGB array (safe to pass between threads)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def thumbnail(rgb: np.ndarray, size: int = THUMBNAIL_SIZE) -> QImage:
    return to_qimage(rgb).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
