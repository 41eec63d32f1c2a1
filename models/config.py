"""The generator's config, without torch: what inference on onnxruntime and the weights' sidecar need to know.

:mod:`anonymizer.models.networks` builds the torch networks from it; the
sidecar ``generator.json`` records it beside the weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

N_LANDMARKS = 5
COND_CHANNELS = 3 + 1 + N_LANDMARKS  # masked RGB, mask, landmark heatmaps
LANDMARK_MODES = ("own", "template", "pose")  # GeneratorConfig.landmarks


@dataclass(frozen=True)
class GeneratorConfig:
    resolution: int = 64
    width: int = 32  # channels of the first level; doubles per level up to max_width
    max_width: int = 256
    latent_dim: int = 128
    # The face region the generator paints and the crop it sees (anonymizer.crops.Region), fixed
    # by training: the defaults are those of the first generators, whose weights do not record them.
    region_scale: float = 1.3  # the hidden area: the face box grown by this
    region_shape: str = "rect"  # or "ellipse" (inscribed in that rectangle)
    feather: float = 0.12  # fade band beyond it, a fraction of its longer side
    context: float = 2.0  # crop side as a multiple of the face box's longer side
    # 2: the U-Net works at half the resolution, its input folded into channels (pixel unshuffle)
    # and its output unfolded (pixel shuffle): no convolution at full resolution, the costliest.
    fold: int = 1
    # "box": crops around the face box, region as above; "aligned": the face on the template of
    # anonymizer.align, painted inside its inner-face mask (region_scale its size, feather its soft edge)
    frame: str = "box"
    # "own": each face's five landmarks; "template" (aligned frame): the template's five points for every face,
    # so that the generator (and the discriminator beside it in training) never sees a face's own proportions,
    # which a face recogniser reads (benchmarks/gan_landmark_probe.py); "pose" (aligned frame): the template's
    # points moved to the face's coarse pose (which way the head turns and tilts, in steps), not its proportions
    landmarks: str = "own"
    # False: the latent code enters at the 4x4 bottleneck only, where the U-Net's skips let it be ignored (one face
    # whatever the code: benchmarks/diversity.py); True: it also scales and shifts every decoder level's channels
    # (FiLM), from zero at first, so weights of a plain generator start one that paints what they paint.
    modulated: bool = False
    # Aligned frame: the loosest fit to the template (anonymizer.align.fit_alignment's residual) of a face it paints;
    # a face fitting worse goes to the fallback. 0.25 declines turned heads (anonymizer.align.MAX_RESIDUAL); a
    # generator trained on faces fitting to a looser bound paints to that bound.
    max_residual: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def levels(self) -> int:
        """Down-sampling steps from the (folded) resolution to a 4x4 bottleneck."""
        if self.resolution not in (64, 128, 256):
            raise ValueError(f"resolution must be 64, 128 or 256, not {self.resolution}")
        if self.fold not in (1, 2):
            raise ValueError(f"fold must be 1 or 2, not {self.fold}")
        return {64: 4, 128: 5, 256: 6}[self.resolution] - (self.fold - 1)

    def channels(self) -> list[int]:
        return [min(self.width * 2**i, self.max_width) for i in range(self.levels + 1)]


def model_arrays(images: np.ndarray, masks: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, ...]:
    """uint8 NxRxRx3 crops, NxRxR masks and Nx5x2 landmarks as the networks take them (float32, channels first):
    image in [-1, 1] (N x 3 x R x R), mask 0/1 (N x 1 x R x R), landmarks in crop pixels (N x 5 x 2)."""
    image = np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(127.5) - 1
    mask = np.ascontiguousarray(np.asarray(masks, dtype=np.float32)[:, None])
    points = np.ascontiguousarray(np.asarray(landmarks, dtype=np.float32))
    return image, mask, points


def painted_landmarks(config: GeneratorConfig, landmarks):
    """The landmarks the generator is given for ``landmarks`` (N x 5 x 2 in crop pixels, NumPy or torch):
    themselves; with ``config.landmarks == "template"`` the template's five points for every face; with "pose"
    the template's points moved to each face's coarse pose (:func:`anonymizer.align.posed_template`)."""
    if config.landmarks == "own":
        return landmarks
    if config.landmarks not in LANDMARK_MODES or config.frame != "aligned":
        raise ValueError(
            f"landmarks {config.landmarks!r} in the {config.frame} frame: use 'own', or 'template' or 'pose' (aligned)"
        )
    from anonymizer.align import posed_template, template_points

    if isinstance(landmarks, np.ndarray):
        if config.landmarks == "pose":
            return posed_template(landmarks.astype(np.float32), config.resolution).astype(np.float32)
        return np.broadcast_to(template_points(config.resolution), landmarks.shape).astype(np.float32)
    import torch

    def as_tensor(values):
        return torch.as_tensor(values, dtype=landmarks.dtype, device=landmarks.device)

    if config.landmarks == "pose":
        return posed_template(landmarks, config.resolution, as_tensor)
    return as_tensor(template_points(config.resolution)).expand_as(landmarks).clone()
