"""Square face crops with context, their masks, and pasting new pixels back.

Inference and training both cut faces with :func:`make_crop`, so the generator
is trained on exactly the crops, masks and landmarks it is later given.

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

import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from anonymizer.align import InnerMask, fit_alignment, mask_box, transform_box, transform_points, warp_to_frame
from anonymizer.boxes import box_iou, grow_boxes
from anonymizer.faces import Face

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
SHAPES = ("rect", "ellipse")


@dataclass(frozen=True)
class Region:
    """Where a face is replaced, relative to its box, and how much context its crop holds."""

    scale: float = DEFAULT_MASK_SCALE  # the hidden area's bounding rectangle: the box grown by this
    shape: str = "rect"  # "rect", or "ellipse": the ellipse inscribed in that rectangle
    feather: float = FEATHER  # the fade band beyond it, as a fraction of its longer side
    context: float = DEFAULT_CONTEXT  # the crop's side as a multiple of the box's longer side

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"region shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")
        if self.scale <= 0 or self.feather < 0 or self.context <= 0:
            raise ValueError(f"invalid region {self}")


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
    region: Region | InnerMask = field(default_factory=Region)
    track: int | None = None  # the face's track in a video (its one generated face), else None
    # In the aligned frame (region an InnerMask): the similarity transform from photo to crop pixels. The crop
    # is then the face on the template, ``origin`` and ``side`` the photo square that bounds it.
    matrix: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return self.size / self.side

    def areas(self, native: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hidden 0/1, alpha, replaced 0/1) over the crop, at crop size or, with ``native``, photo size
        (box frame only: an aligned crop's masks are the template's)."""
        if isinstance(self.region, InnerMask):
            if native:
                raise ValueError("an aligned crop has no photo-size masks: its region is warped back")
            return self.region.masks(self.size)
        side, hidden = (self.side, self.hidden / self.scale) if native else (self.size, self.hidden)
        return region_masks((side, side), hidden, self.region)


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
    inside = (xs >= rect[0]) & (xs < rect[2]) & (ys >= rect[1]) & (ys < rect[3])
    return inside.astype(np.float32)


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


def crop_geometry(box: np.ndarray, region: Region = Region()) -> tuple[int, int, int]:
    """Top-left corner and side (photo pixels) of the square crop around a face box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    face = max(x2 - x1, y2 - y1, 1.0)
    replaced = _replaced_region(hidden_region(box, region.scale), region.feather)
    # The crop always keeps a margin of context around what gets replaced.
    need = 1.25 * max(replaced[2] - replaced[0], replaced[3] - replaced[1])
    side = int(round(max(region.context * face, need, 8.0)))
    x0 = int(round((x1 + x2) / 2 - side / 2))
    y0 = int(round((y1 + y2) / 2 - side / 2))
    return x0, y0, side


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
    if isinstance(regions, (Region, InnerMask)):
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


ALIGNED_SIZE = 128  # an aligned crop's side when none is asked for


def face_window(face: Face, region: Region | InnerMask) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles [x1, y1, x2, y2] of the crop a face is replaced from and of its hidden area."""
    if isinstance(region, InnerMask):
        return _aligned_windows(fit_alignment(face.landmarks, ALIGNED_SIZE)[0], region, ALIGNED_SIZE)
    x0, y0, side = crop_geometry(face.box, region)
    return np.array([x0, y0, x0 + side, y0 + side], np.float32), hidden_region(face.box, region.scale)


def _aligned_windows(matrix: np.ndarray, region: InnerMask, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo rectangles that bound an aligned ``size`` crop (``matrix``: photo to crop) and its hidden area."""
    inverse = cv2.invertAffineTransform(matrix)
    return transform_box([0, 0, size, size], inverse), transform_box(mask_box(region.masks(size)[0]), inverse)


def make_aligned_crop(
    image: np.ndarray, face: Face, size: int = ALIGNED_SIZE, region: InnerMask | None = None
) -> FaceCrop:
    """Cut the face mapped onto the template of :mod:`anonymizer.align` (see :func:`make_crop`)."""
    region = region or InnerMask()
    matrix, _ = fit_alignment(face.landmarks, size)
    if not np.isfinite(matrix).all():
        raise ValueError(f"the landmarks of the face at {face.box.tolist()} give no alignment")
    window, _ = _aligned_windows(matrix, region, size)
    hidden, _, replaced = region.masks(size)
    return FaceCrop(
        image=warp_to_frame(image, matrix, size),
        mask=replaced,
        hidden=mask_box(hidden),
        landmarks=transform_points(face.landmarks, matrix),
        origin=(int(np.floor(window[0])), int(np.floor(window[1]))),
        side=int(np.ceil(max(window[2] - window[0], window[3] - window[1]))),
        face_size=face.size,
        region=region,
        track=face.track,
        matrix=matrix,
    )


def make_crop(
    image: np.ndarray, face: Face, size: int | None = None, region: Region | InnerMask = Region()
) -> FaceCrop:
    """Cut the square crop around ``face``, resized to ``size`` (native when None).

    Parts of the square beyond the photo are filled by replicating its border.
    With an :class:`InnerMask` region the crop is the face in the aligned frame (:func:`make_aligned_crop`).
    """
    if isinstance(region, InnerMask):
        return make_aligned_crop(image, face, size or ALIGNED_SIZE, region)
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
    if pad_l or pad_t or pad_r or pad_b:
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
        mask=region_masks((out, out), hidden, region)[2],
        hidden=hidden,
        landmarks=landmarks.astype(np.float32),
        origin=(x0, y0),
        side=side,
        face_size=face.size,
        region=region,
        track=face.track,
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


GRAIN_BLUR = 1.0  # sigma of the blur whose residual measures grain
_kernel = cv2.getGaussianKernel(9, GRAIN_BLUR)
_impulse = np.zeros((9, 1))
_impulse[4] = 1
# The residual of white noise of std s has std GRAIN_GAIN * s.
GRAIN_GAIN = float(np.sqrt(((np.outer(_impulse, _impulse) - np.outer(_kernel, _kernel)) ** 2).sum()))
MAX_GRAIN = 12.0  # grey levels: a cap, so a busy background does not turn the face into static


def grain_level(pixels: np.ndarray, where: np.ndarray) -> float:
    """Robust std (grey levels) of the fine residual of luma over the pixels ``where`` is true."""
    luma = pixels.astype(np.float32).mean(axis=2)
    residual = luma - cv2.GaussianBlur(luma, (0, 0), GRAIN_BLUR)
    values = residual[where]
    if values.size < 64:
        return 0.0
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
    noise = np.random.default_rng(seed).normal(0.0, sigma, native.shape[:2]).astype(np.float32)
    return native + noise[..., None]


def _box_layers(image: np.ndarray, crop: FaceCrop, pixels: np.ndarray, grain: bool):
    """A box-frame crop's new pixels at photo size: (photo slices, alpha, hidden, new pixels) over the part of
    the photo its feather reaches, or None where that lies outside the photo."""
    window = _crop_window(crop, image.shape[:2])
    if window is None:
        return None
    native = pixels.astype(np.float32)
    if crop.size != crop.side:
        native = cv2.resize(native, (crop.side, crop.side), interpolation=cv2.INTER_LINEAR)
    iy, ix, cy, cx = window
    hard, alpha, replaced = crop.areas(native=True)
    if grain:
        inside = replaced > 0.5
        seed = zlib.crc32(np.ascontiguousarray(pixels).tobytes())
        context = native.copy()  # the photo where the crop lies on it; beyond its edge nothing is measured
        context[cy, cx] = image[iy, ix]
        visible = np.zeros(inside.shape, bool)
        visible[cy, cx] = True
        native = add_grain(native, context, inside | ~visible, seed)
    # the part of the window the feather reaches
    a = alpha[cy, cx]
    rows, cols = np.flatnonzero(a.max(axis=1) > 0), np.flatnonzero(a.max(axis=0) > 0)
    if rows.size == 0:
        return None
    r, c = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    photo_part = (slice(iy.start + r.start, iy.start + r.stop), slice(ix.start + c.start, ix.start + c.stop))
    return photo_part, a[r, c], hard[cy, cx][r, c] > 0.5, native[cy, cx][r, c]


def _aligned_layers(image: np.ndarray, crop: FaceCrop, pixels: np.ndarray, grain: bool):
    """An aligned crop's new pixels warped back into the photo: (photo slices, alpha, hidden, new pixels)
    over the photo window its replaced area covers, or None where that lies outside the photo."""
    h, w = image.shape[:2]
    hidden, alpha, replaced = crop.areas()
    photo = transform_box(mask_box(replaced), cv2.invertAffineTransform(crop.matrix))
    x0, y0 = (max(int(np.floor(v)) - 1, 0) for v in photo[:2])
    x1, y1 = (int(np.ceil(v)) + 1 for v in photo[2:])
    x1, y1 = min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    to_crop = crop.matrix.astype(np.float64).copy()  # photo-window pixel -> crop pixel
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)

    def back(layer: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            layer,
            to_crop,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    part = (slice(y0, y1), slice(x0, x1))
    new_part = back(pixels.astype(np.float32))
    a = np.clip(back(alpha), 0.0, 1.0)
    hard = back(hidden) > 0.5
    a[hard] = 1.0
    if grain:
        seed = zlib.crc32(np.ascontiguousarray(pixels).tobytes())
        new_part = add_grain(new_part, image[part], a > 0, seed)
    return part, a, hard, new_part


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
        layers = (_aligned_layers if crop.matrix is not None else _box_layers)(
            image, crop, pixels, bool(grain is not None and grain[n])
        )
        if layers is None:
            continue
        photo_part, a, hard, new_part = layers
        blended = a[..., None] * new_part + (1 - a[..., None]) * result[photo_part].astype(np.float32)
        result[photo_part] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        hard_parts.append((photo_part, hard, new_part))
    for photo_part, hard, new_part in hard_parts:
        result[photo_part][hard] = np.clip(np.rint(new_part[hard]), 0, 255).astype(np.uint8)
    return result
