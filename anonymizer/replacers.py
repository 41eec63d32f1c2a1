"""Replacement methods. Each takes face crops and returns their replaced pixels.

Every method, the GAN included, has the same interface, so the pipeline, the
CLI, the GUI and the benchmarks treat them alike. A replacer returns, per crop,
an SxSx3 uint8 image of which the pipeline uses the part under ``crop.mask``.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from anonymizer.crops import FaceCrop, Region, scaled_window

METHODS = ("gan", "blur", "pixelate", "solid")


class Replacer(Protocol):
    name: str
    crop_size: int | None  # the side crops are resized to; None keeps them at photo resolution
    min_face_size: float  # smaller faces go to the pipeline's fallback replacer
    grain: bool  # paste back with the photo's grain (for crops painted at a lower resolution)
    region: Region | None  # where it paints; None: the pipeline's region (the user's mask scale)

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]: ...


def _hidden_side(crop: FaceCrop) -> float:
    return max(float(crop.hidden[2] - crop.hidden[0]), float(crop.hidden[3] - crop.hidden[1]), 1.0)


def _downscale(crop: FaceCrop, cells: int) -> np.ndarray:
    """The crop averaged down to ``cells`` x ``cells``; where only part of it is on the photo (``crop.visible``),
    the cells over that part are averaged from the pixels under them and the others repeat the cells at its
    edge (the crop's pixels there only repeat the photo's edge)."""
    if crop.visible is None:
        return cv2.resize(crop.image, (cells, cells), interpolation=cv2.INTER_AREA)
    x1, y1, x2, y2 = crop.visible
    per = crop.size / cells  # crop pixels per cell
    c1, r1 = min(int(x1 / per), cells - 1), min(int(y1 / per), cells - 1)
    c2, r2 = min(max(int(np.ceil(x2 / per)), c1 + 1), cells), min(max(int(np.ceil(y2 / per)), r1 + 1), cells)
    part = crop.image[int(round(r1 * per)) : int(round(r2 * per)), int(round(c1 * per)) : int(round(c2 * per))]
    small = cv2.resize(part, (c2 - c1, r2 - r1), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(small, r1, cells - r2, c1, cells - c2, cv2.BORDER_REPLICATE)


def _upscale(small: np.ndarray, crop: FaceCrop, interpolation: int) -> np.ndarray:
    """``small`` resized to the crop's size; where only part of the crop is on the photo (``crop.visible``),
    only that part (the rest, never pasted, stays black): a close-up's crop can be many times the frame."""
    size = crop.size
    if crop.visible is None:
        return cv2.resize(small, (size, size), interpolation=interpolation)
    x1, y1, x2, y2 = crop.visible
    out = np.zeros((size, size, 3), np.uint8)
    if interpolation == cv2.INTER_NEAREST:  # as cv2.resize picks: crop pixel x shows small pixel floor(x s)
        s = small.shape[0] / size  # small pixels per crop pixel
        rows = np.minimum(np.floor(np.arange(y1, y2) * s).astype(int), small.shape[0] - 1)
        cols = np.minimum(np.floor(np.arange(x1, x2) * s).astype(int), small.shape[1] - 1)
        out[y1:y2, x1:x2] = small[rows[:, None], cols[None, :]]
    else:
        out[y1:y2, x1:x2] = scaled_window(small, size / small.shape[0], x1, y1, x2 - x1, y2 - y1, interpolation)
    return out


class BlurReplacer:
    """A Gaussian blur whose strength grows with the face, so big faces stay unrecognisable.

    ``strength`` is how many blur radii (sigmas) fit across the hidden region:
    fewer means stronger.
    """

    name = "blur"
    crop_size = None
    min_face_size = 0.0
    grain = False
    region = None

    def __init__(self, strength: float = 6.0) -> None:
        self.strength = strength

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        out = []
        for crop in crops:
            sigma = _hidden_side(crop) / self.strength
            # Blur a downscaled copy: the same look as a huge kernel, at a fraction of the cost.
            factor = max(1.0, sigma / 3.0)
            small_side = max(4, int(round(crop.size / factor)))
            small = _downscale(crop, small_side)
            small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(sigma / factor, 0.5), borderType=cv2.BORDER_REPLICATE)
            out.append(_upscale(small, crop, cv2.INTER_LINEAR))
        return out


class PixelateReplacer:
    """Blocks of flat colour, about ``blocks`` of them across the hidden region."""

    name = "pixelate"
    crop_size = None
    min_face_size = 0.0
    grain = False
    region = None

    def __init__(self, blocks: int = 8) -> None:
        self.blocks = blocks

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        out = []
        for crop in crops:
            block = max(2.0, _hidden_side(crop) / self.blocks)
            cells = max(1, int(round(crop.size / block)))
            out.append(_upscale(_downscale(crop, cells), crop, cv2.INTER_NEAREST))
        return out


class SolidReplacer:
    """One flat colour (black by default) over the whole region."""

    name = "solid"
    crop_size = None
    min_face_size = 0.0
    grain = False
    region = None

    def __init__(self, color: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.color = np.asarray(color, dtype=np.uint8)

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        return [np.broadcast_to(self.color, (c.size, c.size, 3)).copy() for c in crops]


def make_replacer(method: str, **options) -> Replacer:
    """The replacer for a method name; ``options`` go to the GAN (weights, device, seed)."""
    if method == "blur":
        return BlurReplacer()
    if method == "pixelate":
        return PixelateReplacer()
    if method == "solid":
        return SolidReplacer()
    if method == "gan":
        from anonymizer.gan import GanReplacer

        return GanReplacer(**options)
    raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
