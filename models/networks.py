"""The conditional DCGAN: a U-Net generator over the masked crop and a conditional discriminator.

In the lineage of DCGAN (strided convolutions, batch norm, ReLU/LeakyReLU,
tanh output), Context Encoders and DeepPrivacy. The condition is the masked
crop, the mask, and five landmark heatmaps; a latent vector joins at the
bottleneck so that every draw gives a different face.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from anonymizer.models.config import COND_CHANNELS, N_LANDMARKS, GeneratorConfig, model_arrays
from torch import nn
from torch.nn.utils import spectral_norm

__all__ = [
    "COND_CHANNELS",
    "N_LANDMARKS",
    "Discriminator",
    "Generator",
    "GeneratorConfig",
    "condition",
    "grow_folded",
    "landmark_heatmaps",
    "load_weights",
    "to_model_inputs",
    "widen",
]


def landmark_heatmaps(landmarks: torch.Tensor, resolution: int, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blobs (B x 5 x R x R) at landmarks given in crop pixels (B x 5 x 2)."""
    sigma = sigma or resolution / 32
    coords = torch.arange(resolution, device=landmarks.device, dtype=torch.float32) + 0.5
    # The blob is separable: exp(-(dx² + dy²)) = exp(-dx²) exp(-dy²), two rows of exponentials, not a plane.
    dx = coords.view(1, 1, 1, -1) - landmarks[..., 0].float().view(*landmarks.shape[:2], 1, 1)
    dy = coords.view(1, 1, -1, 1) - landmarks[..., 1].float().view(*landmarks.shape[:2], 1, 1)
    scale = -1.0 / (2 * sigma * sigma)
    return torch.exp(dy * dy * scale) * torch.exp(dx * dx * scale)


def to_model_inputs(
    images: np.ndarray, masks: np.ndarray, landmarks: np.ndarray, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 NxRxRx3 crops, NxRxR masks and Nx5x2 landmarks as the networks take them, as tensors.

    Training and inference (torch or onnxruntime) all go through
    :func:`anonymizer.models.config.model_arrays`, so the generator is fed exactly what it learned on.
    """
    return tuple(torch.from_numpy(a).to(device) for a in model_arrays(images, masks, landmarks))


def condition(image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """The generator's input: the crop with the face blanked, the mask, the landmark maps.

    ``image`` is B x 3 x R x R in [-1, 1]; ``mask`` B x 1 x R x R, 1 where the face is replaced.
    """
    masked = image * (1 - mask)
    return torch.cat([masked, mask, landmark_heatmaps(landmarks, image.shape[-1])], dim=1)


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class _Up(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(cin + cskip, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        # Nearest upsampling then convolution: no checkerboard of transposed convolutions.
        x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return self.block(torch.cat([x, skip], dim=1))


class Generator(nn.Module):
    """U-Net from the condition (and a latent vector) to an RGB crop in [-1, 1]."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else GeneratorConfig()
        self.config = config
        ch = config.channels()
        fold = config.fold
        self.unshuffle = nn.PixelUnshuffle(fold)
        self.stem = nn.Sequential(
            nn.Conv2d(COND_CHANNELS * fold * fold, ch[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.downs = nn.ModuleList(_Down(ch[i], ch[i + 1]) for i in range(config.levels))
        bottleneck = ch[-1]
        self.latent = nn.Linear(config.latent_dim, bottleneck * 16)
        self.mix = nn.Sequential(
            nn.Conv2d(bottleneck * 2, bottleneck, 3, padding=1, bias=False),
            nn.BatchNorm2d(bottleneck),
            nn.ReLU(inplace=True),
        )
        self.ups = nn.ModuleList(_Up(ch[i + 1], ch[i], ch[i]) for i in reversed(range(config.levels)))
        if config.modulated:
            # Per decoder level, a scale and a shift per channel from the code; zero at first: no change.
            self.styles = nn.ModuleList(nn.Linear(config.latent_dim, 2 * ch[i]) for i in reversed(range(config.levels)))
            for style in self.styles:
                nn.init.zeros_(style.weight)
                nn.init.zeros_(style.bias)
        self.to_rgb = nn.Sequential(nn.Conv2d(ch[0], 3 * fold * fold, 3, padding=1), nn.Tanh())
        self.shuffle = nn.PixelShuffle(fold)

    def forward(self, cond: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.unshuffle(cond))
        skips = [x]
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself
        noise = self.latent(z).view(z.shape[0], self.config.channels()[-1], 4, 4)
        x = self.mix(torch.cat([x, noise], dim=1))
        for k, up in enumerate(self.ups):
            x = up(x, skips.pop())
            if self.config.modulated:
                scale, shift = self.styles[k](z)[:, :, None, None].chunk(2, dim=1)
                x = x * (1 + scale) + shift
        return self.shuffle(self.to_rgb(x))

    def inpaint(
        self, image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        """The composite ``mask * generated + (1 - mask) * image``."""
        generated = self(condition(image, mask, landmarks), z)
        return mask * generated + (1 - mask) * image


class Discriminator(nn.Module):
    """Tells real crops from composites, given the same condition (mask and landmarks).

    Strided convolutions from ``resolution`` down to 4x4, ``width`` channels at
    first, doubling per level up to ``max_width``.
    """

    def __init__(self, resolution: int = 64, width: int = 16, max_width: int = 256, fold: int = 1) -> None:
        super().__init__()
        # fold 2: the input's 2x2 pixels folded into channels (pixel unshuffle), no convolution at full resolution
        levels = {64: 4, 128: 5, 256: 6}[resolution] - (fold - 1)
        ch = [min(width * 2**i, max_width) for i in range(levels + 1)]
        layers: list[nn.Module] = [nn.PixelUnshuffle(fold)] if fold > 1 else []
        layers += [spectral_norm(nn.Conv2d(COND_CHANNELS * fold * fold, ch[0], 3, padding=1)), nn.LeakyReLU(0.2)]
        for i in range(levels):
            layers += [
                spectral_norm(nn.Conv2d(ch[i], ch[i + 1], 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(ch[-1] * 16, 1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, features: bool = False):
        """The logits (B); with ``features``, also the activations after each level (feature matching)."""
        x = torch.cat([image, mask, landmark_heatmaps(landmarks, image.shape[-1])], dim=1)
        if not features:
            return self.head(self.features(x).flatten(1)).squeeze(1)
        taken = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                taken.append(x)
        return self.head(x.flatten(1)).squeeze(1), taken


def load_weights(generator: Generator, state: dict) -> None:
    """Load a generator's ``state`` into ``generator``, strictly, except that a generator modulated by its code
    takes the weights of a plain one: its modulation stays at zero, so it paints what they paint."""
    missing, unexpected = generator.load_state_dict(state, strict=False)
    grown = generator.config.modulated and all(k.startswith("styles.") for k in missing)
    if unexpected or (missing and not grown):
        raise RuntimeError(f"the weights do not fit this generator: missing {missing[:3]}, unexpected {unexpected[:3]}")


def grow_folded(small: Generator, **changes) -> Generator:
    """A generator of twice ``small``'s resolution (fold 2) that starts out painting what ``small`` paints.

    Its U-Net works at ``small``'s resolution, so every inner layer is copied;
    the stem sees each input pixel's four sub-pixels (pixel unshuffle) and gets
    ``small``'s weights shared among them (a 2x2 average of its input), and the
    output layer writes each output pixel to its four sub-pixels (nearest
    upsampling). Training then adds the detail the finer grid can hold.
    ``changes`` go to the new config (the region, say).
    """
    config = small.config
    if config.fold != 1:
        raise ValueError("only an unfolded generator can be grown")
    grown = Generator(replace(config, resolution=config.resolution * 2, fold=2, **changes))
    state = small.state_dict()
    target = grown.state_dict()
    for key, value in state.items():
        if key == "stem.0.weight":  # out x C x 3 x 3 -> out x 4C x 3 x 3, unshuffled channel c*4 + sub-pixel
            value = value.repeat_interleave(4, dim=1) / 4
        elif key == "to_rgb.0.weight":  # 3 x in x 3 x 3 -> 12 x in x 3 x 3, shuffled channel c*4 + sub-pixel
            value = value.repeat_interleave(4, dim=0)
        elif key == "to_rgb.0.bias":
            value = value.repeat_interleave(4, dim=0)
        target[key] = value.clone()
    grown.load_state_dict(target)
    return grown


def widen(narrow: Generator, width: int, split_noise: float = 0.1, seed: int = 0) -> Generator:
    """A generator ``width`` channels wide at its first level (``narrow``'s config otherwise) that starts out
    painting what ``narrow`` paints: Net2WiderNet (Chen, Goodfellow and Shlens, 2016).

    Each level's new channels are copies of its old ones (new channel j copies old channel j mod n), with their
    batch norms' weights and running statistics, so a copy's activations are its original's, in training and in
    eval; the layer that reads them splits the original's weights among its copies, so their sum is unchanged.
    The split is uneven (shares 1 + ``split_noise`` x a normal draw, ``seed``), so the copies get different
    gradients and grow apart in training instead of staying copies; the output is the same up to float error.
    """
    config = narrow.config
    if width < config.width:
        raise ValueError(f"widen gives a wider generator: {width} channels, not more than {config.width}")
    wide = Generator(replace(config, width=width))
    rng = np.random.default_rng(seed)
    maps = []  # per level: which old channel each new one copies, and its share of that channel's outgoing weights
    for old, new in zip(config.channels(), wide.config.channels()):
        source = np.arange(new) % old
        share = np.ones(new) if new == old else np.clip(1 + split_noise * rng.standard_normal(new), 0.5, 1.5)
        share = share / np.bincount(source, weights=share, minlength=old)[source]
        maps.append((torch.from_numpy(source), torch.from_numpy(share).float()))

    state = narrow.state_dict()
    target = {}

    def rows(prefix: str, level: int) -> None:  # a layer's outputs (and its batch norm's) copied to the new channels
        source = maps[level][0]
        for key, value in state.items():
            if key.startswith(prefix + "."):
                target[key] = value[source] if value.ndim else value

    def columns(key: str, levels: list[int]) -> None:  # a convolution's inputs, concatenated from these levels
        parts, start = [], 0
        for level in levels:
            source, share = maps[level]
            n = config.channels()[level]
            part = target[key][:, start : start + n] if key in target else state[key][:, start : start + n]
            parts.append(part[:, source] * share.view(1, -1, *([1] * (part.ndim - 2))))
            start += n
        target[key] = torch.cat(parts, dim=1)

    last = config.levels
    rows("stem.0", 0)
    for i in range(config.levels):
        for layer in ("0", "1", "3", "4"):
            rows(f"downs.{i}.block.{layer}", i + 1)
        columns(f"downs.{i}.block.0.weight", [i])
        columns(f"downs.{i}.block.3.weight", [i + 1])
    # The code's map fills the bottleneck's channels, 16 values (4x4) each.
    source = maps[last][0]
    rows_16 = (source.view(-1, 1) * 16 + torch.arange(16)).flatten()
    target["latent.weight"], target["latent.bias"] = state["latent.weight"][rows_16], state["latent.bias"][rows_16]
    rows("mix.0", last)
    rows("mix.1", last)
    columns("mix.0.weight", [last, last])
    for k, i in enumerate(reversed(range(config.levels))):
        for layer in ("0", "1", "3", "4"):
            rows(f"ups.{k}.block.{layer}", i)
        columns(f"ups.{k}.block.0.weight", [i + 1, i])
        columns(f"ups.{k}.block.3.weight", [i])
        if config.modulated:  # a scale and a shift per channel: both halves follow the channels
            source, n = maps[i][0], config.channels()[i]
            both = torch.cat([source, source + n])
            target[f"styles.{k}.weight"] = state[f"styles.{k}.weight"][both]
            target[f"styles.{k}.bias"] = state[f"styles.{k}.bias"][both]
    target["to_rgb.0.bias"] = state["to_rgb.0.bias"]
    target["to_rgb.0.weight"] = state["to_rgb.0.weight"]
    columns("to_rgb.0.weight", [0])
    wide.load_state_dict(target)
    return wide
