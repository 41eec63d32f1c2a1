"""The GAN replacer: paints a new face into each crop with the trained generator.

It sees the crop with the face region blanked out, the mask and the landmarks,
never the face itself, so it cannot copy the identity. The faces the pipeline
hands over together (all faces of a photo, unless some overlap: see
:func:`anonymizer.crops.paint_waves`) go through the generator as one batch.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import torch

from anonymizer.align import InnerMask, alignable
from anonymizer.crops import FaceCrop, Region
from anonymizer.device import resolve_device
from anonymizer.models.io import load_generator
from anonymizer.models.networks import GeneratorConfig, to_model_inputs

log = logging.getLogger(__name__)

MIN_GAN_FACE = 20.0  # px: below this a generated face means nothing; pixelate instead


def default_weights() -> Path:
    """The shipped generator (package data of ``anonymizer.weights``, the repository's ``weights/``)."""
    from importlib.resources import files

    return Path(str(files("anonymizer.weights") / "generator.safetensors"))


class GanReplacer:
    name = "gan"
    grain = True  # pasted back with the photo's grain: faces scaled up from 64 px are smooth

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = "auto",
        seed: int | None = None,
        min_face_size: float = MIN_GAN_FACE,
        batch_size: int = 64,
    ) -> None:
        self.weights = Path(weights) if weights else default_weights()
        self.device = resolve_device(device)
        self.generator = load_generator(self.weights, self.device)
        config = self.generator.config
        self.crop_size = config.resolution
        self.region = region_of(config)
        self.min_face_size = min_face_size
        self.batch_size = batch_size
        self.seed = seed
        self._rng = torch.Generator()  # unseeded only (seeded codes come from each crop): other faces every run
        self._rng.seed()
        # a video track's code comes from this and its id: one face per track, other faces every run
        self._track_key = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,), generator=self._rng))

    def declines(self, face) -> str | None:
        """Why this generator cannot paint ``face`` (the pipeline's fallback hides it instead), or None.
        An aligned generator needs landmarks that fit the template: not a profile, none outside the box."""
        if not isinstance(self.region, InnerMask):
            return None
        ok, why = alignable(face.landmarks, face.box)
        return None if ok else f"not alignable: {why}"

    def start_video(self, name: str) -> None:
        """Tracks of a new video get new faces: track ids restart with each video, so their codes must not
        repeat the last video's (two strangers in two clips would share a face). Seeded, the key follows
        from the seed and the video's name, so a rerun paints the same faces."""
        if self.seed is not None:
            self._track_key = zlib.crc32(f"video {name}".encode(), self.seed & 0xFFFFFFFF)
        else:
            self._track_key = int(torch.randint(0, 2**31 - 1, (1,), generator=self._rng))

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        if not crops:
            return []
        out: list[np.ndarray] = []
        for start in range(0, len(crops), self.batch_size):
            out.extend(self._replace_batch(crops[start : start + self.batch_size]))
        return out

    def _latents(self, crops: list[FaceCrop]) -> torch.Tensor:
        """One latent code per face: random, or with a seed, a function of the seed and what the generator sees;
        for a face of a video track, a function of the track (and the seed, or a random key drawn per replacer).

        Seeded codes follow from each crop's context (its face pixels masked
        out), not from its place in a batch: a photo gives the same faces
        however its faces are batched or ordered, and faces with different
        surroundings do not share a code.
        """
        dim = self.generator.config.latent_dim
        if self.seed is None and all(c.track is None for c in crops):
            return torch.randn(len(crops), dim, generator=self._rng)
        codes = []
        for crop in crops:
            if crop.track is not None:  # a face followed through a video: its track's one code
                key = zlib.crc32(f"track {crop.track}".encode(), self._track_key & 0xFFFFFFFF)
                codes.append(torch.randn(dim, generator=torch.Generator().manual_seed(key)))
                continue
            if self.seed is None:
                codes.append(torch.randn(dim, generator=self._rng))
                continue
            context = np.where(crop.mask[..., None] > 0.5, 0, crop.image).astype(np.uint8)
            key = zlib.crc32(np.ascontiguousarray(context).tobytes(), self.seed & 0xFFFFFFFF)
            codes.append(torch.randn(dim, generator=torch.Generator().manual_seed(key)))
        return torch.stack(codes)

    @torch.no_grad()
    def _replace_batch(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        image, mask, landmarks = to_model_inputs(
            np.stack([c.image for c in crops]),
            np.stack([c.mask for c in crops]),
            np.stack([c.landmarks for c in crops]),
            self.device,
        )
        z = self._latents(crops).to(self.device)
        composite = self.generator.inpaint(image, mask, landmarks, z)
        result = ((composite.clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1).cpu().numpy()
        return [match_seam_colour(r, c) for r, c in zip(result, crops)]


def region_of(config: GeneratorConfig) -> Region | InnerMask:
    """The face region a generator paints and the crop it sees, as its config records them: a box-frame
    :class:`Region`, or the aligned frame's :class:`InnerMask`."""
    if config.frame == "aligned":
        return InnerMask(scale=config.region_scale, feather=config.feather)
    return Region(scale=config.region_scale, shape=config.region_shape, feather=config.feather, context=config.context)


def match_seam_colour(generated: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """Shift the new face's colour so that its feathered edge meets the photo's.

    The band between the hidden region and the edge of the replaced region is
    where the new pixels fade into the photo; the mean colour difference there
    (three numbers, no face detail) is taken out of everything generated.
    """
    hidden, _, replaced = crop.areas()
    band = (replaced > 0.5) & (hidden < 0.5)
    out = generated.astype(np.float32)
    if band.sum() >= 16:
        shift = crop.image[band].astype(np.float32).mean(0) - out[band].mean(0)
        inside = crop.mask > 0.5
        out[inside] += shift
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
