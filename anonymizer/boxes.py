"""Box geometry shared by the detectors, the crops and the benchmarks. Boxes are ``[x1, y1, x2, y2]`` in pixels."""

from __future__ import annotations

import numpy as np


def xywh_to_xyxy(x, y, w, h) -> np.ndarray:
    """Boxes from corners and sizes (arrays of the same length), as an Nx4 float32 array."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return np.stack([x, y, x + np.asarray(w, np.float32), y + np.asarray(h, np.float32)], axis=-1).reshape(-1, 4)


def _areas_and_intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas of boxes ``a`` (Nx4) and ``b`` (Mx4), and the NxM areas of their intersections."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return area_a, area_b, inter


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (Nx4) and ``b`` (Mx4)."""
    area_a, area_b, inter = _areas_and_intersections(a, b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


OVERLAP_OF = ("smaller", "boxes")


def overlaps_any(boxes: np.ndarray, found: np.ndarray, share: float = 0.2, of: str = "smaller") -> np.ndarray:
    """True for each of ``boxes`` whose intersection with some box of ``found`` is ``share`` or more of the
    smaller of the two (``of="smaller"``), or of the box of ``boxes`` itself (``of="boxes"``: a small box of
    ``found`` inside a much larger one of ``boxes`` does not count)."""
    if of not in OVERLAP_OF:
        raise ValueError(f"of must be one of {', '.join(OVERLAP_OF)}, not {of!r}")
    if len(boxes) == 0 or len(found) == 0:
        return np.zeros(len(boxes), dtype=bool)
    area_a, area_b, inter = _areas_and_intersections(boxes, found)
    base = np.minimum(area_a[:, None], area_b[None, :]) if of == "smaller" else area_a[:, None]
    return (inter / np.maximum(base, 1e-6)).max(axis=1) >= share


def grow_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Each box scaled by ``factor`` about its centre (Nx4 or a single box, same shape back)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    half = (boxes[..., 2:] - boxes[..., :2]) * (factor / 2)
    return np.concatenate([centre - half, centre + half], axis=-1).astype(np.float32)


def carried_points(points: np.ndarray, matrix: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """Points (..., 2) carried by the 2x3 affine ``matrix``. ``shift`` moves the pixel grid before and after
    (0.5 for OpenCV's turned images, whose matrices have pixel centres at whole numbers)."""
    return (points - shift) @ matrix[:, :2].T + matrix[:, 2] + shift


def carried_squares(boxes: np.ndarray, matrix: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """Each box carried by the 2x3 affine ``matrix`` as the square of its area about its carried centre: the
    face's own extent, not the larger box round its turned corners (``shift``: :func:`carried_points`)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    centre = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    centre = carried_points(centre, matrix, shift)
    half = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0)) / 2
    return np.column_stack([centre - half[:, None], centre + half[:, None]])


def box_sizes(boxes: np.ndarray) -> np.ndarray:
    """The longer side of each box."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy suppression (best score first; a box overlapping a kept one at
    IoU >= ``iou`` is dropped), best first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    overlap = box_iou(boxes, boxes)
    gone = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if gone[i]:
            continue
        keep.append(i)
        gone |= overlap[i] >= iou
    return np.asarray(keep, dtype=np.int64)


def square_window(box: np.ndarray, scale: float = 1.0, minimum: float = 1.0) -> tuple[int, int, int]:
    """Top-left corner and side (whole pixels) of the square of side ``scale`` x the box's longer side,
    centred on the box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = int(round(max(scale * max(x2 - x1, y2 - y1), minimum)))
    return int(round((x1 + x2) / 2 - side / 2)), int(round((y1 + y2) / 2 - side / 2)), side


def cut_square(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window at ``(x0, y0)``, zero where it leaves the image."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, *image.shape[2:]), dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
