"""The pipeline: detect faces, cut crops, replace them, paste back. No file I/O."""

from __future__ import annotations

import logging

import numpy as np

from anonymizer.audit import AUDIT_MODES, DEFAULT_AUDIT, Audit
from anonymizer.crops import DEFAULT_MASK_SCALE, DEFAULT_MASK_SHAPE, FEATHER_MAX, Region
from anonymizer.detection import DEFAULT_MIN_FACE, DEFAULT_THRESHOLD, Detector, make_detector
from anonymizer.faces import Face, ImageResult
from anonymizer.frames import make_crop, paint_waves, paste_back
from anonymizer.replacers import PixelateReplacer, Replacer, make_replacer

log = logging.getLogger(__name__)

DEFAULT_METHOD = "blur"


class Anonymizer:
    """Hides every face of an RGB image.

    >>> Anonymizer(method="blur").anonymize(image)  # doctest: +SKIP
    ImageResult(image=..., faces=[Face(...), ...])

    A detector and a replacer can be passed in (tests pass fakes); otherwise
    they are built from the names and settings given.
    """

    def __init__(
        self,
        method: str = DEFAULT_METHOD,
        *,
        detector: Detector | None = None,
        replacer: Replacer | None = None,
        fallback: Replacer | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        mask_scale: float = DEFAULT_MASK_SCALE,
        mask_shape: str | None = None,
        mask_feather_max: float | None = FEATHER_MAX,
        device: str = "auto",
        detector_name: str = "default",
        audit: str = DEFAULT_AUDIT,
        auditor: Audit | None = None,
        **replacer_options,
    ) -> None:
        if audit not in AUDIT_MODES:
            raise ValueError(f"audit must be one of {', '.join(AUDIT_MODES)}, not {audit!r}")
        self.audit = audit
        self._auditor = auditor
        self._detector = detector
        self._detector_args = (detector_name, threshold, min_face_size, device)
        # What rebuilds this pipeline in another process (see ``recipe``); None when given its own parts.
        self._recipe = (
            dict(
                method=method,
                threshold=threshold,
                min_face_size=min_face_size,
                mask_scale=mask_scale,
                mask_shape=mask_shape,
                mask_feather_max=mask_feather_max,
                device=device,
                detector_name=detector_name,
                audit=audit,
                **replacer_options,
            )
            if detector is None and replacer is None and fallback is None and auditor is None
            else None
        )
        if replacer is None:
            if method == "gan":
                replacer_options.setdefault("device", device)
            replacer = make_replacer(method, **replacer_options)
        self.replacer = replacer
        self.fallback = fallback or PixelateReplacer()
        self.mask_scale = mask_scale
        # None: each kind's default (an ellipse in photos; video frames ask for their own, a rectangle)
        self.mask_shape = mask_shape
        # the fade band's width at most, in photo pixels (None: a fixed share of the region, however large)
        self.mask_feather_max = mask_feather_max
        # a bad one fails here, not at a face
        Region(scale=mask_scale, shape=mask_shape or DEFAULT_MASK_SHAPE, feather_max=mask_feather_max)

    @property
    def recipe(self) -> dict | None:
        """Keyword arguments that build the same pipeline anew (``Anonymizer(**recipe)``), e.g. in a worker
        process; None for a pipeline given its own detector, replacer or fallback, which cannot be rebuilt."""
        return None if self._recipe is None else dict(self._recipe)

    @property
    def method(self) -> str:
        return self.replacer.name

    @property
    def detector(self) -> Detector:
        if self._detector is None:  # built on first use, so a pipeline given its faces never loads one
            self._detector = make_detector(*self._detector_args)
        return self._detector

    @property
    def auditor(self) -> Audit:
        if self._auditor is None:  # built on first use: a pipeline whose audit is off never loads its network
            self._auditor = Audit()
        return self._auditor

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.detector.detect(_check_rgb(image))

    def anonymize(
        self,
        image: np.ndarray,
        faces: list[Face] | None = None,
        *,
        default_shape: str = DEFAULT_MASK_SHAPE,
        audit: bool = True,
        dismissed=(),
    ) -> ImageResult:
        """Replace every face (detected here unless ``faces`` is given) in a copy of ``image``. Blur, pixelate
        and solid hide ``mask_shape``, or ``default_shape`` when the pipeline was given none (a video frame
        passes its own).

        Then, unless the pipeline's ``audit`` is "off" or ``audit`` is False, the new image is searched again
        (:class:`anonymizer.audit.Audit`): what it finds outside every hidden region is in ``residuals``; with
        "hide", those it is sure of are hidden as well (they join ``faces``), the others are flagged. A find
        matching one of ``dismissed`` (boxes a reviewer said are no face) is left as it is, marked "dismissed"."""
        image = _check_rgb(image)
        if faces is None:
            faces = self.detect(image)
        faces = list(faces)
        out = self._paint(image, faces, default_shape) if faces else image.copy()
        residuals = []
        if audit and self.audit != "off":
            residuals = self.auditor.residuals(out, faces, self.mask_scale, dismissed)
            if self.audit == "flag":
                for r in residuals:
                    if r.action == "hidden":
                        r.action = "flagged"
            more = [r.as_face() for r in residuals if r.action == "hidden"]
            if more:
                out = self._paint(out, more, default_shape)
                faces += more
        return ImageResult(image=out, faces=faces, residuals=residuals)

    def _paint(self, image: np.ndarray, faces: list[Face], default_shape: str) -> np.ndarray:
        chosen = [self._replacer_for(face) for face in faces]
        out = image
        shape = self.mask_shape or default_shape
        for wave in paint_waves(faces, [self.region_of(r, shape) for r in chosen]):
            out = self._replace_wave(out, faces, chosen, wave, shape)
        return out

    def _replacer_for(self, face: Face) -> Replacer:
        """The replacer, or the fallback for a face it cannot paint (too small; for the aligned GAN, landmarks
        that fit no frontal face), with the reason in ``face.fallback``."""
        face.fallback = None
        if face.size < self.replacer.min_face_size:
            face.fallback = f"smaller than {self.replacer.name}'s {self.replacer.min_face_size:g} px"
        else:
            declines = getattr(self.replacer, "declines", None)
            face.fallback = declines(face) if declines is not None else None
        return self.fallback if face.fallback else self.replacer

    def region_of(self, replacer: Replacer, shape: str) -> Region:
        """Where ``replacer`` paints: its own region (the GAN's is fixed by training), else ``mask_scale``'s, of
        ``shape`` (the image's: :meth:`anonymize` resolves it)."""
        return replacer.region or Region(scale=self.mask_scale, shape=shape, feather_max=self.mask_feather_max)

    def _replace_wave(
        self, image: np.ndarray, faces: list[Face], chosen: list[Replacer], wave: list[int], shape: str
    ) -> np.ndarray:
        """Replace the faces ``wave`` indexes (one batch per replacer) and paste them into a copy of ``image``."""
        groups: dict[int, tuple[Replacer, list[int]]] = {}
        for i in wave:
            groups.setdefault(id(chosen[i]), (chosen[i], []))[1].append(i)
        crops, new, grain = [], [], []
        for replacer, indices in groups.values():
            region = self.region_of(replacer, shape)
            group = [make_crop(image, faces[i], replacer.crop_size, region) for i in indices]
            pixels = replacer.replace(group)
            if len(pixels) != len(group):
                raise RuntimeError(f"{replacer.name} returned {len(pixels)} crops for {len(group)} faces")
            for i, crop, px in zip(indices, group, pixels):
                px = np.asarray(px)
                if px.shape != crop.image.shape or px.dtype != np.uint8:
                    raise RuntimeError(
                        f"{replacer.name} returned a {px.dtype} {px.shape} crop, expected uint8 {crop.image.shape}"
                    )
                crops.append(crop)
                new.append(px)
                grain.append(replacer.grain)
                faces[i].method = replacer.name
        return paste_back(image, crops, new, grain)


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}")
    return image
