"""The second look at YuNet's weak candidates: is there a face in this box?

Evidence per candidate: YuNet's own score, YuNet run again on two zoomed crops
around it (1.5 and 2.5 sides of context, the face ``VERIFY_SIZE`` px across),
and MTCNN's O-Net face probability on its 48x48 crop (O-Net on onnxruntime,
from ``models_data/onet.onnx``; see ``ONET_LICENSE.txt`` there). A logistic
regression (:data:`VERIFY_WEIGHTS`, fit on the weak candidates of the 400
WIDER photos of ``benchmarks/detection.py``; a candidate is a face when it
overlaps an annotated one at IoU >= 0.3; two-fold cross-validation over photos
gave AUC 0.82, YuNet's score alone 0.65) turns them into a probability.

The re-runs are what cost (a YuNet run on a 320 px crop each), so the
evidence is gathered cheapest first and a candidate stops being examined as
soon as its verdict is certain: O-Net for all candidates at once, then the wide
re-check only where the verdict still depends on it, then the near one. Each
re-check score lies in [0, 1], so the bounds are exact and the verdicts are the
same as with all evidence gathered.
"""

from __future__ import annotations

import os

import numpy as np

from anonymizer.boxes import box_iou, cut_square, square_window
from anonymizer.detection._onnx import MODELS_DATA, session

VERIFY_WEIGHTS = (1.90, 0.91, 3.13, 1.54)  # YuNet's score, near re-check, wide re-check, O-Net
VERIFY_BIAS = -3.56
VERIFY_SIZE = 64.0  # px: the face's size in the zoomed re-check crops
ONET_MODEL = os.path.join(MODELS_DATA, "onet.onnx")
_ONET = None


def onet_scores(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """MTCNN O-Net's face probability for each box, on its square 48x48 crop (one batch)."""
    import cv2

    global _ONET
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.float32)
    if _ONET is None:
        _ONET = session(ONET_MODEL)
    crops = []
    for b in boxes:
        x0, y0, side = square_window(b)
        pad = cut_square(image, x0, y0, side)
        interp = cv2.INTER_AREA if pad.shape[0] > 48 else cv2.INTER_LINEAR
        crops.append(cv2.resize(pad, (48, 48), interpolation=interp))
    x = (np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32) - 127.5) * 0.0078125
    return _ONET.run(["prob"], {"crops": x})[0][:, 1].astype(np.float32)


def recheck(image: np.ndarray, box: np.ndarray, context: float, yunet) -> float:
    """YuNet's best score (0-1) for ``box`` on a crop of ``context`` sides around it, zoomed so that the
    face is ``VERIFY_SIZE`` px; 0 if YuNet finds nothing there. ``yunet(image)`` gives YuNet's raw rows."""
    import cv2

    h, w = image.shape[:2]
    side = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
    cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
    half = context * side
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    zoom = VERIFY_SIZE / side
    crop = cv2.resize(
        image[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR if zoom >= 1 else cv2.INTER_AREA
    )
    rows = yunet(np.ascontiguousarray(crop))
    if len(rows) == 0:
        return 0.0
    found = np.c_[rows[:, 1], rows[:, 2], rows[:, 1] + rows[:, 3], rows[:, 2] + rows[:, 4]] / zoom + [x0, y0, x0, y0]
    hit = box_iou(found, box)[:, 0] >= 0.3
    return float(rows[hit, 0].max()) / 100.0 if hit.any() else 0.0


def verify(image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float, yunet) -> np.ndarray:
    """True for each weak candidate whose face probability is ``threshold`` or more."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    cut = float(np.log(threshold / (1.0 - threshold)))
    w_score, w_near, w_wide, w_onet = VERIFY_WEIGHTS
    known = w_score * np.asarray(scores, np.float32) + w_onet * onet_scores(image, boxes) + VERIFY_BIAS
    verdict = np.full(n, -1)  # -1 open, 0 no, 1 yes
    verdict[known + w_near + w_wide < cut] = 0
    verdict[known >= cut] = 1
    for weight, context, rest in ((w_wide, 2.5, w_near), (w_near, 1.5, 0.0)):  # rest: what may still come
        for i in np.flatnonzero(verdict < 0):
            known[i] += weight * recheck(image, boxes[i], context, yunet)
            if known[i] >= cut:
                verdict[i] = 1
            elif known[i] + rest < cut:
                verdict[i] = 0
    return verdict == 1
