"""The pipeline: detect faces, cut crops, replace them, paste back. No file I/O."""

from __future__ import annotations

import logging

import numpy as np

from anonymizer.crops import DEFAULT_MASK_SCALE, make_crop, paint_waves, paste_back
from anonymizer.detection import DEFAULT_MIN_FACE, DEFAULT_THRESHOLD, Detector, make_detector
from anonymizer.faces import Face, ImageResult
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
        device: str = "auto",
        detector_name: str = "union",
        **replacer_options,
    ) -> None:
        self._detector = detector
        self._detector_args = (detector_name, threshold, min_face_size, device)
        if replacer is None:
            if method == "gan":
                replacer_options.setdefault("device", device)
            replacer = make_replacer(method, **replacer_options)
        self.replacer = replacer
        self.fallback = fallback or PixelateReplacer()
        self.mask_scale = mask_scale

    @property
    def method(self) -> str:
        return self.replacer.name

    @property
    def detector(self) -> Detector:
        if self._detector is None:  # built on first use: MTCNN takes a moment to load
            self._detector = make_detector(*self._detector_args)
        return self._detector

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.detector.detect(_check_rgb(image))

    def anonymize(self, image: np.ndarray, faces: list[Face] | None = None) -> ImageResult:
        """Replace every face (detected here unless ``faces`` is given) in a copy of ``image``."""
        image = _check_rgb(image)
        if faces is None:
            faces = self.detect(image)
        faces = list(faces)
        if not faces:
            return ImageResult(image=image.copy(), faces=[])
        out = image
        for wave in paint_waves(faces, mask_scale=self.mask_scale):
            out = self._replace_wave(out, faces, wave)
        return ImageResult(image=out, faces=faces)

    def _replace_wave(self, image: np.ndarray, faces: list[Face], wave: list[int]) -> np.ndarray:
        """Replace the faces ``wave`` indexes (one batch per replacer) and paste them into a copy of ``image``."""
        groups: dict[int, tuple[Replacer, list[int]]] = {}
        for i in wave:
            chosen = self.replacer if faces[i].size >= self.replacer.min_face_size else self.fallback
            groups.setdefault(id(chosen), (chosen, []))[1].append(i)
        crops, new, grain = [], [], []
        for replacer, indices in groups.values():
            group = [make_crop(image, faces[i], replacer.crop_size, mask_scale=self.mask_scale) for i in indices]
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
