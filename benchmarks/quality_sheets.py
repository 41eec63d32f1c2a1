"""The quality benchmark's sample sheets: crops of the same faces under every method, side by side.

Part of ``python -m benchmarks.quality`` (see its docstring).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmarks.quality_data import SampleFace
from benchmarks.quality_metrics import LARGE_GROW, SAME_PERSON


def sample_crop(image: np.ndarray, box: np.ndarray, tile: int, grow: float = 2.0) -> np.ndarray:
    """The face's box grown ``grow`` times into a square, resized to ``tile``; beyond the photo is white."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * grow
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    x0, y0, s = int(round(cx - side / 2)), int(round(cy - side / 2)), max(2, int(round(side)))
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255)) if pad else image
    part = np.ascontiguousarray(padded[y0 + pad : y0 + pad + s, x0 + pad : x0 + pad + s])
    interp = cv2.INTER_AREA if s > tile else cv2.INTER_CUBIC
    return cv2.resize(part, (tile, tile), interpolation=interp)


def full_size_crop(image: np.ndarray, box: np.ndarray, grow: float = LARGE_GROW) -> np.ndarray:
    """The face's box grown ``grow`` times about its centre into a square, cut to the photo, not resized."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = max(x2 - x1, y2 - y1) * grow / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = image.shape[:2]
    left, top = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    right, bottom = min(w, int(round(cx + half))), min(h, int(round(cy + half)))
    return np.ascontiguousarray(image[top:bottom, left:right])


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    strip = np.full((16, tile.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(strip, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([tile, strip], axis=0)


def _save_sheet(image: np.ndarray, path: Path) -> None:
    """PNG, or JPEG at quality 92 without chroma subsampling where ``path`` ends in .jpg (a third the size)."""
    from PIL import Image

    if path.suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(image).save(path, quality=92, subsampling=0, optimize=True)
    else:
        Image.fromarray(image).save(path, optimize=True)


def pair_sheet(samples: list[SampleFace], method: str, path: Path, tile: int, per_row: int = 8) -> None:
    """Pairs original | ``method``, ``per_row`` pairs a row; the dlib distance under each pair."""
    gap = 6
    cells = []
    for s in samples:
        sep = np.full((tile, 2, 3), 255, dtype=np.uint8)
        pair = np.concatenate([s.crops["original"], sep, s.crops[method]], axis=1)
        text = f"d={s.distance:.2f}" + (" same" if s.distance is not None and s.distance < SAME_PERSON else "")
        cells.append(_label(pair, text))
    _save_sheet(_grid(cells, per_row, gap), path)


def full_size_pair(original: np.ndarray, new: np.ndarray, text: str) -> np.ndarray:
    """Original | new as they are (4 white pixels apart), ``text`` under the pair."""
    sep = np.full((original.shape[0], 4, 3), 255, dtype=np.uint8)
    return _label(np.concatenate([original, sep, new], axis=1), text)


def full_size_sheet(samples: list[SampleFace], method: str, path: Path, per_row: int = 4) -> None:
    """Pairs original | ``method`` at full size (no scaling), on white cells as large as the largest pair.

    The label under each pair gives the face's size and dlib's distance between the two.
    """
    cells = []
    for s in samples:
        d = s.distances[method]
        text = f"{method}: {s.size:.0f} px face, d={d:.2f}" + (" same" if d < SAME_PERSON else "")
        cells.append(full_size_pair(s.crops["original"], s.crops[method], text))
    h, w = max(c.shape[0] for c in cells), max(c.shape[1] for c in cells)
    padded = []
    for c in cells:
        cell = np.full((h, w, 3), 255, dtype=np.uint8)
        cell[: c.shape[0], : c.shape[1]] = c
        padded.append(cell)
    _save_sheet(_grid(padded, per_row, 10), path)


def methods_sheet(samples: list[SampleFace], methods: list[str], path: Path, tile: int) -> None:
    """One row per face: original, then each method."""
    rows = []
    for s in samples:
        row = [_label(s.crops["original"], "original")] + [_label(s.crops[m], m) for m in methods]
        rows.append(row)
    cells = [c for row in rows for c in row]
    _save_sheet(_grid(cells, 1 + len(methods), 4), path)


def _grid(cells: list[np.ndarray], per_row: int, gap: int) -> np.ndarray:
    h, w = cells[0].shape[:2]
    n_rows = math.ceil(len(cells) / per_row)
    cols = min(per_row, len(cells))
    sheet = np.full((n_rows * (h + gap) + gap, cols * (w + gap) + gap, 3), 255, dtype=np.uint8)
    for k, cell in enumerate(cells):
        r, c = divmod(k, per_row)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + h, x : x + w] = cell
    return sheet
