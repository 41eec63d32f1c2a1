"""The one seam the pipeline calls to cut faces and paste new ones back, whatever the frame.

A face's :class:`~anonymizer.crops.Region` says its frame: a :class:`~anonymizer.crops.Region` is the box frame
(:mod:`anonymizer.box_frame`), an :class:`~anonymizer.align.InnerMask` the aligned frame
(:mod:`anonymizer.align`). :func:`make_crop` cuts a face in its frame, :func:`paste_back` blends the new pixels
of every face back into the photo, :func:`paint_waves` orders faces whose crops see each other.
"""

from __future__ import annotations

import cv2
import numpy as np

from anonymizer.align import ALIGNED_SIZE, InnerMask, aligned_layers, aligned_window, make_aligned_crop
from anonymizer.box_frame import box_layers, box_window, make_box_crop
from anonymizer.boxes import box_iou
from anonymizer.crops import FaceCrop, Region, nonzero_block
from anonymizer.faces import Face


def face_window(face: Face, region: Region | InnerMask) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles [x1, y1, x2, y2] of the crop a face is replaced from and of its hidden area."""
    if isinstance(region, InnerMask):
        return aligned_window(face, region)
    return box_window(face, region)


def make_crop(
    image: np.ndarray, face: Face, size: int | None = None, region: Region | InnerMask = Region()
) -> FaceCrop:
    """Cut the crop of ``face`` in its region's frame, resized to ``size`` (the box frame: native when None;
    the aligned frame: 128 px when None)."""
    if isinstance(region, InnerMask):
        return make_aligned_crop(image, face, size or ALIGNED_SIZE, region)
    return make_box_crop(image, face, size, region)


def paint_waves(faces: list[Face], regions: list[Region] | Region = Region()) -> list[list[int]]:
    """Indices of ``faces`` grouped into waves to be cut, replaced and pasted one after another.

    ``regions`` is one :class:`Region` for all faces or one per face (each
    face's replacer chooses its own). Two faces whose crops see each other's
    hidden region (people side by side, a face in front of another) must not
    be replaced from the same photo: the second one pasted would cut a hard
    edge into the first, painted without knowing it. So they go in different
    waves, and a later wave is cut from the photo as the earlier waves left
    it: its new face continues theirs. Larger faces go first, so where two
    hidden regions overlap, the smaller face is painted last and stays whole:
    the overlap is a smaller share of the larger face, which still reads as a
    face. Faces that do not touch share a wave: a photo of separate faces is a
    single wave, one batch per replacer.
    """
    if not isinstance(regions, list):
        regions = [regions] * len(faces)
    places = [face_window(f, r) for f, r in zip(faces, regions)]
    windows = np.array([w for w, _ in places], np.float32).reshape(-1, 4)
    hidden = np.array([h for _, h in places], np.float32).reshape(-1, 4)
    sees = box_iou(windows, hidden) > 0  # [i, j]: face i's crop shows part of face j's hidden region
    touching = sees | sees.T
    order = sorted(range(len(faces)), key=lambda i: (-faces[i].size, i))
    wave_of: dict[int, int] = {}
    for n, i in enumerate(order):
        wave_of[i] = max((wave_of[j] + 1 for j in order[:n] if touching[i, j]), default=0)
    waves: list[list[int]] = [[] for _ in range(max(wave_of.values(), default=-1) + 1)]
    for i in range(len(faces)):
        waves[wave_of[i]].append(i)
    return waves


def paste_back(
    image: np.ndarray, crops: list[FaceCrop], new: list[np.ndarray], grain: list[bool] | None = None
) -> np.ndarray:
    """Blend each replaced crop into a copy of ``image`` and return it.

    The hidden region of every face is pasted last with alpha 1, so where faces
    overlap, no feathered edge of one face lets the original of another show.
    Where ``grain`` is true, the crop gets the photo's grain (:func:`add_grain`);
    the noise is seeded by the new pixels, so equal inputs give equal outputs.
    Only the pixels each region's feather reaches are touched (a video frame is
    not converted whole for a few faces).
    """
    if len(crops) != len(new):
        raise ValueError("one replaced crop is needed per crop")
    if grain is not None and len(grain) != len(crops):
        raise ValueError("one grain flag is needed per crop")
    result = image.copy()
    hard_parts: list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]] = []
    for n, (crop, pixels) in enumerate(zip(crops, new)):
        pixels = np.asarray(pixels)
        if pixels.shape[:2] != (crop.size, crop.size):
            raise ValueError(f"replaced crop has shape {pixels.shape}, expected {crop.size}x{crop.size}")
        layers = (aligned_layers if crop.matrix is not None else box_layers)(
            image, crop, pixels, bool(grain is not None and grain[n])
        )
        if layers is None:
            continue
        photo_part, a, hard, new_part = layers
        if new_part.dtype == np.uint8:  # OpenCV's blend: one pass, several times numpy's speed on a large face
            result[photo_part] = cv2.blendLinear(new_part, result[photo_part], a, 1.0 - a)
        else:
            blended = a[..., None] * new_part + (1 - a[..., None]) * result[photo_part].astype(np.float32)
            result[photo_part] = _to_uint8(blended)
        hard_parts.append((photo_part, hard, new_part))
    for photo_part, hard, new_part in hard_parts:
        hidden = nonzero_block(hard)
        if hidden is None:
            continue
        r, c = hidden
        block = hard[r, c]
        target = result[photo_part][r, c]
        if block.all():  # a rectangle: one copy, not a masked one (a close-up's is most of the frame)
            target[...] = _to_uint8(new_part[r, c])
        else:
            np.copyto(target, _to_uint8(new_part[r, c]), where=block[..., None])
    return result


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Pixel values rounded to the nearest grey level (uint8 ones as they are)."""
    if values.dtype == np.uint8:
        return values
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
