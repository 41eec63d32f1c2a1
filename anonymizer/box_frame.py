"""The box frame: a face cut as a square around its box (with context), and its new pixels pasted back.

Blur, pixelate and solid, and the shipped 64 px generator, work in this frame; the seam that chooses the frame
for each face is :mod:`anonymizer.frames`.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from anonymizer.crops import (
    FaceCrop,
    Region,
    _replaced_region,
    add_grain,
    hidden_region,
    nonzero_block,
    region_masks,
    replaced_mask,
    scaled_window,
)
from anonymizer.faces import Face


def crop_geometry(box: np.ndarray, region: Region = Region()) -> tuple[int, int, int]:
    """Top-left corner and side (photo pixels) of the square crop around a face box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    face = max(x2 - x1, y2 - y1, 1.0)
    region = region.for_box(box)
    replaced = _replaced_region(hidden_region(box, region.scale), region.feather)
    # The crop always keeps a margin of context around what gets replaced.
    need = 1.25 * max(replaced[2] - replaced[0], replaced[3] - replaced[1])
    side = int(round(max(region.context * face, need, 8.0)))
    x0 = int(round((x1 + x2) / 2 - side / 2))
    y0 = int(round((y1 + y2) / 2 - side / 2))
    return x0, y0, side


def box_window(face: Face, region: Region) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles [x1, y1, x2, y2] of the crop a face is replaced from and of its hidden area."""
    x0, y0, side = crop_geometry(face.box, region)
    return np.array([x0, y0, x0 + side, y0 + side], np.float32), hidden_region(face.box, region.scale)


def make_box_crop(image: np.ndarray, face: Face, size: int | None = None, region: Region = Region()) -> FaceCrop:
    """Cut the square crop around ``face``, resized to ``size`` (native when None).

    Parts of the square beyond the photo are filled by replicating its border.
    """
    region = region.for_box(face.box)
    x0, y0, side = crop_geometry(face.box, region)
    h, w = image.shape[:2]
    # Crop with border replication: pad only as much as the square leaves the photo.
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + side - w), max(0, y0 + side - h)
    sx1, sy1 = max(0, x0), max(0, y0)
    sx2, sy2 = min(w, x0 + side), min(h, y0 + side)
    if sx2 <= sx1 or sy2 <= sy1:
        raise ValueError(f"face box {face.box.tolist()} lies outside the {w}x{h} image")
    part = image[sy1:sy2, sx1:sx2]
    padded = bool(pad_l or pad_t or pad_r or pad_b)
    if padded:
        part = cv2.copyMakeBorder(part, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    out = side if size is None else int(size)
    if out != side:
        interp = cv2.INTER_AREA if out < side else cv2.INTER_CUBIC
        part = cv2.resize(part, (out, out), interpolation=interp)
    scale = out / side
    offset = np.array([x0, y0, x0, y0], dtype=np.float32)
    hidden = (hidden_region(face.box, region.scale) - offset) * scale
    landmarks = (face.landmarks - np.array([x0, y0], dtype=np.float32)) * scale
    return FaceCrop(
        image=np.ascontiguousarray(part),
        mask=replaced_mask((out, out), hidden, region),
        hidden=hidden,
        landmarks=landmarks.astype(np.float32),
        origin=(x0, y0),
        side=side,
        face_size=face.size,
        region=region,
        track=face.track,
        visible=(pad_l, pad_t, side - pad_r, side - pad_b) if padded and out == side else None,
    )


def _crop_window(crop: FaceCrop, shape: tuple[int, int]) -> tuple[slice, slice, slice, slice] | None:
    """Slices of the photo and of the native-size crop where they overlap."""
    h, w = shape
    x0, y0 = crop.origin
    sx1, sy1 = max(0, x0), max(0, y0)
    sx2, sy2 = min(w, x0 + crop.side), min(h, y0 + crop.side)
    if sx2 <= sx1 or sy2 <= sy1:
        return None
    return (
        slice(sy1, sy2),
        slice(sx1, sx2),
        slice(sy1 - y0, sy2 - y0),
        slice(sx1 - x0, sx2 - x0),
    )


def box_layers(image: np.ndarray, crop: FaceCrop, pixels: np.ndarray, grain: bool):
    """A box-frame crop's new pixels at photo size: (photo slices, alpha, hidden, new pixels) over the part of
    the photo its feather reaches, or None where that lies outside the photo."""
    window = _crop_window(crop, image.shape[:2])
    if window is None:
        return None
    iy, ix, cy, cx = window
    # The masks over the part of the crop on the photo only: a face larger than the frame (a close-up, a box
    # carried past the frame's edge) has a crop many times the frame, most of it off the picture.
    offset = np.array([cx.start, cy.start, cx.start, cy.start], np.float32)
    hard, alpha, replaced = region_masks(
        (cy.stop - cy.start, cx.stop - cx.start), crop.hidden / crop.scale - offset, crop.region
    )
    if crop.size != crop.side:  # scaled to photo pixels over the part on the photo only
        w, h = cx.stop - cx.start, cy.stop - cy.start
        native = scaled_window(pixels.astype(np.float32), 1 / crop.scale, cx.start, cy.start, w, h, cv2.INTER_LINEAR)
    else:
        native = pixels[cy, cx]
    if grain:
        # The grain the new pixels lack inside the replaced area, measured on the photo around it (on the photo).
        seed = zlib.crc32(np.ascontiguousarray(pixels).tobytes())
        native = add_grain(native.astype(np.float32), image[iy, ix], replaced > 0.5, seed)
    # the part of the window the feather reaches
    reach = nonzero_block(alpha > 0)
    if reach is None:
        return None
    r, c = reach
    photo_part = (slice(iy.start + r.start, iy.start + r.stop), slice(ix.start + c.start, ix.start + c.stop))
    return photo_part, alpha[r, c], hard[r, c] > 0.5, native[r, c]  # new pixels: uint8, or float32 where made
