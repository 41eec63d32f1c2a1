"""The GAN replacer: paints a new face into each crop with the trained generator.

It sees the crop with the face region blanked out, the mask and the landmarks,
never the face itself, so it cannot copy the identity. It runs on onnxruntime
(``generator.onnx``, exported beside the weights), so inference needs no
torch; weights without a current export run on torch where it is installed. The faces the pipeline
hands over together (all faces of a photo, unless some overlap: see
:func:`anonymizer.frames.paint_waves`) go through the generator as one batch.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np

from anonymizer.align import InnerMask, alignable
from anonymizer.crops import FaceCrop, Region
from anonymizer.device import onnx_providers, torch_available
from anonymizer.models.config import GeneratorConfig, model_arrays, painted_landmarks
from anonymizer.models.io import WeightsError, config_of, onnx_export_of, read_info

log = logging.getLogger(__name__)

MIN_GAN_FACE = 20.0  # px: below this a generated face means nothing; pixelate instead
BACKENDS = ("auto", "onnx", "torch")
# How the new face meets the photo: "shift" moves its colour to the photo's at the seam (one offset, three
# numbers); "blend" does that and then blends it in band by band (:func:`blend_seam`).
SEAMS = ("shift", "blend")


def default_weights() -> Path:
    """The shipped generator (package data of ``anonymizer.weights``, the repository's ``weights/``)."""
    from importlib.resources import files

    return Path(str(files("anonymizer.weights") / "generator.safetensors"))


class OnnxGenerator:
    """The generator's export on onnxruntime: ``inpaint`` as :meth:`Generator.inpaint`, on NumPy arrays."""

    backend = "onnx"

    def __init__(self, model: Path, config: GeneratorConfig, device: str = "auto") -> None:
        import onnxruntime as ort

        from anonymizer.device import onnx_session_options

        self.config = config
        providers = onnx_providers(device)
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        self.session = ort.InferenceSession(str(model), onnx_session_options(), providers=providers)

    def inpaint(self, image: np.ndarray, mask: np.ndarray, landmarks: np.ndarray, z: np.ndarray) -> np.ndarray:
        feed = {"image": image, "mask": mask, "landmarks": landmarks, "z": np.ascontiguousarray(z, dtype=np.float32)}
        return self.session.run(["composite"], feed)[0]


class TorchGenerator:
    """The generator's safetensors weights on torch (the ``train`` extra): the same ``inpaint`` on NumPy arrays."""

    backend = "torch"

    def __init__(self, weights: Path, device: str = "auto", why_not_onnx: str = "") -> None:
        from anonymizer.device import resolve_device
        from anonymizer.models.io import load_generator

        self.why_not_onnx = why_not_onnx  # why the export was not used, when there is no usable one
        self.device = resolve_device(device)
        self.net = load_generator(weights, self.device)
        self.config = self.net.config

    def inpaint(self, image: np.ndarray, mask: np.ndarray, landmarks: np.ndarray, z: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            tensors = [
                torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)
                for a in (image, mask, landmarks, z)
            ]
            return self.net.inpaint(*tensors).cpu().numpy()


def open_generator(weights: Path, device: str = "auto", backend: str = "auto") -> OnnxGenerator | TorchGenerator:
    """The generator of ``weights`` on ``backend``: ``onnx`` (onnxruntime, the export beside the weights),
    ``torch`` (the safetensors weights; needs the ``train`` extra), or ``auto``: onnx where the weights have a
    current export, else torch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown generator backend {backend!r}: use one of {', '.join(BACKENDS)}")
    weights = Path(weights)
    meta = read_info(weights)
    model, why_not = onnx_export_of(weights, meta)
    export_hint = f"export them with 'anonymize-train export --onnx --weights {weights}' (needs anonymizer[train])"
    if backend == "onnx" or (backend == "auto" and model is not None):
        if model is None:
            raise WeightsError(f"{weights}: {why_not}; {export_hint}")
        return OnnxGenerator(model, config_of(meta), device)
    if weights.suffix == ".onnx":
        raise WeightsError(f"{weights}: {why_not}")
    if not torch_available():
        raise WeightsError(
            f"{weights}: {why_not}, and torch, which runs the weights without it, is not installed: {export_hint}"
        )
    if backend == "auto":
        log.info("%s: %s; running the generator on torch", weights, why_not)
    return TorchGenerator(weights, device, why_not_onnx=why_not)


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
        backend: str = "auto",
        seam: str = "shift",
        truncation: float = 1.0,
    ) -> None:
        if seam not in SEAMS:
            raise ValueError(f"seam must be one of {', '.join(SEAMS)}, not {seam!r}")
        if not 0.0 <= truncation <= 1.0:  # also refuses NaN
            raise ValueError(f"truncation must be 0-1, not {truncation!r}")
        self.seam = seam
        # The truncation trick (BigGAN, StyleGAN): latent codes drawn nearer their mean (0), faces nearer the
        # generator's typical ones; 1 leaves the codes as drawn.
        self.truncation = float(truncation)
        self.weights = Path(weights) if weights else default_weights()
        self.generator = open_generator(self.weights, device, backend)
        self.device = self.generator.device
        self.backend = self.generator.backend
        config = self.generator.config
        self.crop_size = config.resolution
        self.region = region_of(config)
        self.max_residual = config.max_residual  # the loosest fit of a face it paints, as trained
        self.min_face_size = min_face_size
        self.batch_size = batch_size
        self.seed = seed
        self._rng = np.random.default_rng()  # unseeded only (seeded codes come from each crop): other faces every run
        # a video track's code comes from this and its id: one face per track, other faces every run
        self._track_key = seed if seed is not None else int(self._rng.integers(0, 2**31 - 1))

    def declines(self, face) -> str | None:
        """Why this generator cannot paint ``face`` (the pipeline's fallback hides it instead), or None.
        An aligned generator needs landmarks that fit the template: not a profile, none outside the box."""
        if not isinstance(self.region, InnerMask):
            return None
        ok, why = alignable(face.landmarks, face.box, self.max_residual)
        return None if ok else f"not alignable: {why}"

    def start_video(self, name: str) -> None:
        """Tracks of a new video get new faces: track ids restart with each video, so their codes must not
        repeat the last video's (two strangers in two clips would share a face). Seeded, the key follows
        from the seed and the video's name, so a rerun paints the same faces."""
        if self.seed is not None:
            self._track_key = zlib.crc32(f"video {name}".encode(), self.seed & 0xFFFFFFFF)
        else:
            self._track_key = int(self._rng.integers(0, 2**31 - 1))

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        if not crops:
            return []
        out: list[np.ndarray] = []
        for start in range(0, len(crops), self.batch_size):
            out.extend(self._replace_batch(crops[start : start + self.batch_size]))
        return out

    def _latents(self, crops: list[FaceCrop]) -> np.ndarray:
        """One latent code per face (float32, N x latent): random, or with a seed, a function of the seed and
        what the generator sees; for a face of a video track, a function of the track (and the seed, or a
        random key drawn per replacer).

        Seeded codes follow from each crop's context (its face pixels masked
        out), not from its place in a batch: a photo gives the same faces
        however its faces are batched or ordered, and faces with different
        surroundings do not share a code.
        """
        dim = self.generator.config.latent_dim
        if self.seed is None and all(c.track is None for c in crops):
            return self._rng.standard_normal((len(crops), dim), dtype=np.float32)
        codes = []
        for crop in crops:
            if crop.track is not None:  # a face followed through a video: its track's one code
                key = zlib.crc32(f"track {crop.track}".encode(), self._track_key & 0xFFFFFFFF)
                codes.append(_code(key, dim))
                continue
            if self.seed is None:
                codes.append(self._rng.standard_normal(dim, dtype=np.float32))
                continue
            context = np.where(crop.mask[..., None] > 0.5, 0, crop.image).astype(np.uint8)
            key = zlib.crc32(np.ascontiguousarray(context).tobytes(), self.seed & 0xFFFFFFFF)
            codes.append(_code(key, dim))
        return np.stack(codes)

    def _replace_batch(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        image, mask, landmarks = model_arrays(
            np.stack([c.image for c in crops]),
            np.stack([c.mask for c in crops]),
            painted_landmarks(self.generator.config, np.stack([c.landmarks for c in crops])),
        )
        codes = self._latents(crops) * np.float32(self.truncation)
        composite = self.generator.inpaint(image, mask, landmarks, codes)
        result = ((np.clip(composite, -1, 1) + 1) * 127.5).transpose(0, 2, 3, 1)
        out = [match_seam_colour(r, c) for r, c in zip(result, crops)]
        if self.seam == "blend":
            out = [blend_seam(r, c) for r, c in zip(out, crops)]
        return out


def _code(key: int, dim: int) -> np.ndarray:
    """The latent code of a key (a seeded face, a video track): the same on every machine and backend."""
    return np.random.default_rng(key).standard_normal(dim, dtype=np.float32)


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


SEAM_LEVELS = 4  # pyramid levels of the seam blend: a 128 px crop's transition reaches 16 px cells


def fill_from_outside(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (HxWx3 float32) with the pixels where ``known`` is false filled smoothly from the known ones
    alone (push-pull: a pyramid of known-weighted means, the holes filled coarse to fine). Nothing of the
    unknown pixels reaches the result."""
    import cv2

    w = known.astype(np.float32)
    levels = [(image * w[..., None], w)]
    while min(levels[-1][1].shape) > 4:
        im, wt = levels[-1]
        levels.append((cv2.pyrDown(im), cv2.pyrDown(wt)))
    im, wt = levels[-1]
    filled = im / np.maximum(wt, 1e-6)[..., None]
    if not (wt > 1e-6).any():
        filled[:] = (image * w[..., None]).sum((0, 1)) / max(w.sum(), 1e-6)
    for im, wt in reversed(levels[:-1]):
        coarse = cv2.pyrUp(filled, dstsize=(wt.shape[1], wt.shape[0]))
        a = np.clip(wt * 4.0, 0.0, 1.0)[..., None]  # where enough known pixels are near, trust them
        filled = a * (im / np.maximum(wt, 1e-6)[..., None]) + (1 - a) * coarse
    return np.where(known[..., None], image, filled)


def blend_seam(generated: np.ndarray, crop: FaceCrop, levels: int = SEAM_LEVELS) -> np.ndarray:
    """The new face blended into its surroundings band by band (a Laplacian pyramid): fine detail meets the
    photo across the feather, the coarse shading across a band several times wider, so that the face's
    lighting runs into the photo's instead of stopping at the region's edge.

    The photo side of the blend is the crop with its hidden region filled from outside it
    (:func:`fill_from_outside`): the original face's pixels never enter, so the blend adds no identity."""
    import cv2

    hidden, alpha, _ = crop.areas()
    new = generated.astype(np.float32)
    photo = fill_from_outside(crop.image.astype(np.float32), hidden < 0.5)
    mask = np.ascontiguousarray(alpha, dtype=np.float32)
    pyramid = []
    for _ in range(levels - 1):
        small_new, small_photo, small_mask = cv2.pyrDown(new), cv2.pyrDown(photo), cv2.pyrDown(mask)
        size = (new.shape[1], new.shape[0])
        pyramid.append((new - cv2.pyrUp(small_new, dstsize=size), photo - cv2.pyrUp(small_photo, dstsize=size), mask))
        new, photo, mask = small_new, small_photo, small_mask
    out = mask[..., None] * new + (1 - mask[..., None]) * photo
    for band_new, band_photo, m in reversed(pyramid):
        out = (
            cv2.pyrUp(out, dstsize=(m.shape[1], m.shape[0])) + m[..., None] * band_new + (1 - m[..., None]) * band_photo
        )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
