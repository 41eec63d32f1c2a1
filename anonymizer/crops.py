"""Where a face is replaced and what a replacer receives: :class:`Region`, the masks, :class:`FaceCrop`, the grain.

The two frames a face is cut in build on this: the box frame (:mod:`anonymizer.box_frame`, a square around
the face box) and the aligned frame (:mod:`anonymizer.align`, the face mapped onto a template from its
landmarks); :mod:`anonymizer.frames` is the one seam the pipeline calls (cut, paste back, waves). Inference
and training both cut faces there, so the generator is trained on exactly the crops, masks and landmarks it is
later given.

Where a face is replaced is a :class:`Region`, which each replacer chooses
(blur, pixelate and solid take the user's ``--mask-scale``; the GAN the region
its generator was trained on). Two areas matter per face:

* the *hidden* area: the box grown by ``Region.scale`` (a rectangle, or the
  ellipse inscribed in it). Every pixel in it is fully replaced (alpha 1) in
  the output.
* the *replaced* area: the hidden area grown by a feather band. The replacer
  paints all of it; across the band the new pixels fade into the photo.
  Outside it the photo is untouched.

The mask handed to a replacer is the replaced area, so nothing the output
shows of the face ever comes from the original face pixels.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from anonymizer.boxes import grow_boxes

DEFAULT_CONTEXT = 2.0  # crop side as a multiple of the face box's longer side
DEFAULT_MASK_SCALE = 1.3  # hidden region as a multiple of the face box
# The shape blur, pixelate and solid hide, unless the user chooses one (benchmarks/results/region_tune_tune.md):
# in photos the ellipse inscribed in that rectangle, which on the tune half of the WIDER photos hid the
# rectangle's faces from 16 px up and changed 2.9 % of the pixels outside faces, against 5.5 %; in video frames
# the rectangle, whose boxes are often carried or cut by the frame's edge (on the tune clips the ellipse left
# one more face-frame showing alone).
DEFAULT_MASK_SHAPE = "ellipse"
VIDEO_MASK_SHAPE = "rect"
FEATHER = 0.12  # feather band as a fraction of the hidden region's longer side
# The band of blur, pixelate and solid at most this many photo pixels wide (it bites on faces of about 170 px
# and more): otherwise a close-up's band blurs the photo far round the face, while the hidden ellipse inside it
# is the same either way (chosen on the tune half: benchmarks/results/region_cap_tune.md).
FEATHER_MAX = 32.0
SHAPES = ("rect", "ellipse")


@dataclass(frozen=True)
class Region:
    """Where a face is replaced, relative to its box, and how much context its crop holds."""

    scale: float = DEFAULT_MASK_SCALE  # the hidden area's bounding rectangle: the box grown by this
    shape: str = "rect"  # "rect", or "ellipse": the ellipse inscribed in that rectangle
    feather: float = FEATHER  # the fade band beyond it, as a fraction of its longer side
    context: float = DEFAULT_CONTEXT  # the crop's side as a multiple of the box's longer side
    feather_max: float | None = None  # the fade band's width at most, in photo pixels (None: no cap)

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"region shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")
        if self.scale <= 0 or self.feather < 0 or self.context <= 0:
            raise ValueError(f"invalid region {self}")
        if self.feather_max is not None and not self.feather_max >= 0:  # NaN too
            raise ValueError(f"invalid region {self}")

    def for_box(self, box: np.ndarray) -> Region:
        """This region for one face box: its fade band no wider than ``feather_max`` photo pixels (the same
        region where it already is, or where there is no cap)."""
        if self.feather_max is None:
            return self
        hidden = hidden_region(box, self.scale)
        side = max(float(hidden[2] - hidden[0]), float(hidden[3] - hidden[1]), 1.0)
        if self.feather * side <= self.feather_max:
            return self
        return dataclasses.replace(self, feather=self.feather_max / side)


class TemplateMask(Protocol):
    """A region fixed in another frame's template, with its own masks: the aligned frame's
    :class:`~anonymizer.align.InnerMask`."""

    def masks(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass
class FaceCrop:
    """One face cut out of a photo, as every replacer receives it."""

    image: np.ndarray  # SxSx3 uint8, the context (face pixels included; replacers mask them)
    mask: np.ndarray  # SxS float32, 1 where the replacer must paint (the replaced area)
    hidden: np.ndarray  # [x1, y1, x2, y2] of the hidden area's bounding rectangle, in crop pixels
    landmarks: np.ndarray  # 5x2 float32, in crop pixels
    origin: tuple[int, int]  # top-left corner of the crop in the photo (may be negative)
    side: int  # side of the crop in photo pixels
    face_size: float  # longer side of the face box, in photo pixels
    region: Region | TemplateMask = field(default_factory=Region)
    track: int | None = None  # the face's track in a video (its one generated face), else None
    # In the aligned frame (region an InnerMask): the similarity transform from photo to crop pixels. The crop
    # is then the face on the template, ``origin`` and ``side`` the photo square that bounds it.
    matrix: np.ndarray | None = None
    # The part of a box-frame crop on the photo, [x1, y1, x2, y2] in crop pixels, where the crop runs past the
    # photo's edge (None: all of it). Only that part is ever pasted, so a replacer may leave the rest unpainted:
    # a close-up's crop can be many times the frame.
    visible: tuple[int, int, int, int] | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return self.size / self.side

    def areas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hidden 0/1, alpha, replaced 0/1) over the crop, at crop size (an aligned crop's are the
        template's)."""
        if not isinstance(self.region, Region):  # the aligned frame (an InnerMask): the template's masks
            return self.region.masks(self.size)
        return region_masks((self.size, self.size), self.hidden, self.region)


def hidden_region(box: np.ndarray, mask_scale: float = DEFAULT_MASK_SCALE) -> np.ndarray:
    """The rectangle, in photo pixels, that bounds what is fully replaced for a face box."""
    return grow_boxes(np.asarray(box, dtype=np.float32).reshape(4), mask_scale)


def _feather_width(hidden: np.ndarray, feather: float = FEATHER) -> float:
    return feather * max(float(hidden[2] - hidden[0]), float(hidden[3] - hidden[1]), 1.0)


def _replaced_region(hidden: np.ndarray, feather: float = FEATHER) -> np.ndarray:
    f = _feather_width(hidden, feather)
    return hidden + np.array([-f, -f, f, f], dtype=np.float32)


def _pixel_centres(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    return np.arange(h, dtype=np.float32)[:, None] + 0.5, np.arange(w, dtype=np.float32)[None, :] + 0.5


def rect_mask(shape: tuple[int, int], rect: np.ndarray) -> np.ndarray:
    """A hard 0/1 float32 mask of the pixels whose centres lie inside ``rect``."""
    ys, xs = _pixel_centres(shape)
    rows = np.flatnonzero((ys[:, 0] >= rect[1]) & (ys[:, 0] < rect[3]))
    cols = np.flatnonzero((xs[0] >= rect[0]) & (xs[0] < rect[2]))
    mask = np.zeros(shape, np.float32)
    if rows.size and cols.size:  # the centres inside form one block of rows by one block of columns
        mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = 1.0
    return mask


def nonzero_block(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns (slices) that bound a 2-D mask's nonzero pixels, or None where there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def scaled_window(image: np.ndarray, scale: float, x: int, y: int, w: int, h: int, interpolation: int) -> np.ndarray:
    """The ``w`` x ``h`` window at (``x``, ``y``) of ``image`` resized by ``scale`` (output pixels per input
    pixel), as ``cv2.resize`` of the whole would place it (pixel centres aligned), computed over the window
    only: a close-up's crop, resized whole, can be many times the frame."""
    s = 1.0 / scale  # input pixels per output pixel: output pixel x samples the input at (x + 0.5) s - 0.5
    to_input = np.array([[s, 0.0, (x + 0.5) * s - 0.5], [0.0, s, (y + 0.5) * s - 0.5]])
    return cv2.warpAffine(
        image, to_input, (w, h), flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def _outside_distance(shape: tuple[int, int], rect: np.ndarray, kind: str) -> np.ndarray:
    """Distance (pixels) of each pixel centre outside the rectangle, or the ellipse inscribed in it; 0 inside."""
    ys, xs = _pixel_centres(shape)
    if kind == "rect":
        dx = np.maximum(np.maximum(rect[0] - xs, xs - rect[2]), 0.0)
        dy = np.maximum(np.maximum(rect[1] - ys, ys - rect[3]), 0.0)
        return np.sqrt(dx * dx + dy * dy)
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    a, b = max((rect[2] - rect[0]) / 2, 1e-3), max((rect[3] - rect[1]) / 2, 1e-3)
    dx, dy = xs - cx, ys - cy
    radius = np.sqrt((dx / a) ** 2 + (dy / b) ** 2)  # 1 on the ellipse
    # Along the ray from the centre, the part of the distance beyond the ellipse.
    return np.maximum(radius - 1.0, 0.0) * np.sqrt(dx * dx + dy * dy) / np.maximum(radius, 1e-6)


def feather_alpha(shape: tuple[int, int], hidden: np.ndarray, feather: float, kind: str = "rect") -> np.ndarray:
    """1 inside ``hidden`` (a rectangle, or its inscribed ellipse), falling linearly to 0 ``feather`` px beyond."""
    dist = _outside_distance(shape, hidden, kind)
    return np.clip(1.0 - dist / max(feather, 1e-6), 0.0, 1.0).astype(np.float32)


def hidden_mask(shape: tuple[int, int], box: np.ndarray, region: Region) -> np.ndarray:
    """The pixels (bool, ``shape`` = height, width) that ``region`` fully replaces for a face's ``box``."""
    return region_masks(shape, hidden_region(box, region.scale), region)[0].astype(bool)


def replaced_mask(shape: tuple[int, int], hidden: np.ndarray, region: Region) -> np.ndarray:
    """The replaced 0/1 float32 mask alone (the third of :func:`region_masks`, without computing the others)."""
    if region.shape == "rect":
        return rect_mask(shape, _replaced_region(hidden, region.feather))
    width = _feather_width(hidden, region.feather)
    return (_outside_distance(shape, hidden, region.shape) < max(width, 1e-6)).astype(np.float32)


def region_masks(shape: tuple[int, int], hidden: np.ndarray, region: Region) -> tuple[np.ndarray, ...]:
    """(hidden 0/1, alpha, replaced 0/1) float32 masks for a hidden area's bounding rectangle ``hidden``."""
    width = _feather_width(hidden, region.feather)
    if region.shape == "rect":
        hard = rect_mask(shape, hidden)
        replaced = rect_mask(shape, _replaced_region(hidden, region.feather))
    else:
        dist = _outside_distance(shape, hidden, region.shape)
        hard = (dist <= 0).astype(np.float32)
        replaced = (dist < max(width, 1e-6)).astype(np.float32)
    return hard, feather_alpha(shape, hidden, width, region.shape), replaced


GRAIN_BLUR = 1.0  # sigma of the blur whose residual measures grain
_kernel = cv2.getGaussianKernel(9, GRAIN_BLUR)
_impulse = np.zeros((9, 1))
_impulse[4] = 1
# The residual of white noise of std s has std GRAIN_GAIN * s.
GRAIN_GAIN = float(np.sqrt(((np.outer(_impulse, _impulse) - np.outer(_kernel, _kernel)) ** 2).sum()))
MAX_GRAIN = 12.0  # grey levels: a cap, so a busy background does not turn the face into static


GRAIN_PIXELS = 1 << 16  # a larger area is measured on bands of its rows, about this many pixels in all
GRAIN_BAND = 16  # rows in a band, measured with the blur's reach of rows above and below it
_REACH = 4  # rows the 9-tap blur reaches
GRAIN_SAMPLES = 1 << 14  # the robust spread is taken over at most about this many of the values, evenly spaced
NOISE_SIDE = 1024  # the side of the table of unit noise that grain is cut from


@functools.cache
def _noise_table() -> np.ndarray:
    """Unit Gaussian noise (float32), made once: grain is a window of it cut at a place the seed chooses, many
    times faster than drawing new noise for every face."""
    return np.random.default_rng(0x6A41).standard_normal((NOISE_SIDE, NOISE_SIDE), dtype=np.float32)


def unit_noise(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A window of unit Gaussian noise of ``shape`` (float32), cut from :func:`_noise_table` at an offset the seed
    chooses. A side up to half the table's is cut within it; a longer one starts anywhere and wraps round the
    table's edge (it repeats every ``NOISE_SIDE`` pixels), so that large areas too get other noise for each seed."""
    table = _noise_table()
    h, w = shape
    rng = np.random.default_rng(seed)
    y, x = (int(rng.integers(0, NOISE_SIDE - n + 1 if n <= NOISE_SIDE // 2 else NOISE_SIDE)) for n in (h, w))
    if y + h <= NOISE_SIDE and x + w <= NOISE_SIDE:
        return table[y : y + h, x : x + w]
    rows, cols = (y + np.arange(h)) % NOISE_SIDE, (x + np.arange(w)) % NOISE_SIDE
    return table[rows[:, None], cols[None, :]]


_MEAN_OF_CHANNELS = np.full((1, 3), 1.0 / 3.0, np.float32)


def _fine_residual(pixels: np.ndarray) -> np.ndarray:
    # The mean of the three channels: OpenCV's transform, many times numpy's mean over the last axis.
    luma = cv2.transform(np.ascontiguousarray(pixels, dtype=np.float32), _MEAN_OF_CHANNELS)
    return luma - cv2.GaussianBlur(luma, (0, 0), GRAIN_BLUR)


def grain_level(pixels: np.ndarray, where: np.ndarray) -> float:
    """Robust std (grey levels) of the fine residual of luma over the pixels ``where`` is true.

    Up to ``GRAIN_PIXELS`` pixels, all of them; a larger area (a close-up in a video frame, whose window is the
    whole frame) on evenly spaced bands of ``GRAIN_BAND`` rows, each with the rows the blur reaches around it,
    about ``GRAIN_PIXELS`` in all: the grain is a statistic of the texture, and measuring all of a 720p window
    took most of a frame's time with the generator."""
    h, w = where.shape[:2]
    if h * w <= GRAIN_PIXELS:
        values = _fine_residual(pixels)[where]
    else:
        every = int(np.ceil(h * w / GRAIN_PIXELS))
        parts = []
        for top in range(0, h, GRAIN_BAND * every):
            lo, hi = max(top - _REACH, 0), min(top + GRAIN_BAND + _REACH, h)
            band = _fine_residual(pixels[lo:hi])[top - lo : top - lo + GRAIN_BAND]
            parts.append(band[where[top : top + GRAIN_BAND]])
        values = np.concatenate(parts)
    if values.size < 64:
        return 0.0
    if values.size > GRAIN_SAMPLES:  # a statistic of the texture: evenly spaced samples tell it as well
        values = values[:: values.size // GRAIN_SAMPLES]
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def add_grain(native: np.ndarray, context: np.ndarray, inside: np.ndarray, seed: int) -> np.ndarray:
    """Give the upscaled new pixels the fine grain (sensor noise, JPEG texture) of the photo around them.

    A face generated at 64 px and scaled up to a large face is smooth where the
    photo is not, which makes it look pasted on. The grain missing inside the
    replaced region (measured around it in ``context``, where ``inside`` is
    false) is added back as luma noise. It carries nothing of the original face.
    """
    have = grain_level(native, inside)
    want = grain_level(context, ~inside)
    sigma = min(np.sqrt(max(want * want - have * have, 0.0)) / GRAIN_GAIN, MAX_GRAIN)
    if sigma < 0.5:
        return native
    noise = unit_noise(native.shape[:2], seed) * np.float32(sigma)
    return native + noise[..., None]
