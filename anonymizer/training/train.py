"""The adversarial training loop of the conditional generator.

Minimax objective in its non-saturating form: the discriminator learns to tell
real crops from composites (``mask * generated + (1 - mask) * real``) under the
same condition; the generator learns to make it call composites real. Beside
it: an L1 term on the replaced region (Context Encoders' reconstruction term,
which steadies the first thousands of steps on a CPU budget), spectral norm in
the discriminator, the epsilon penalty on its real logits (Karras et al. 2018,
as in DeepPrivacy) and an exponential moving average of the generator, which
is what gets exported.

Runs on the CPU, one GPU (mixed precision), or several through
``torchrun ... -m anonymizer.training.cli train`` (DDP; gloo on the CPU).
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F

from anonymizer.align import InnerMask, mask_scales
from anonymizer.device import resolve_device
from anonymizer.gan import region_of
from anonymizer.models.config import painted_landmarks
from anonymizer.models.io import load_generator, load_trainable, read_info, save_generator, save_trainable
from anonymizer.models.networks import (
    Discriminator,
    Generator,
    GeneratorConfig,
    condition,
    grow_folded,
    load_weights,
    to_model_inputs,
    widen,
)
from anonymizer.training.dataset import FaceArrays, load_dataset
from anonymizer.training.options import TrainOptions
from anonymizer.training.recipes import holds_state

log = logging.getLogger(__name__)

FLIP_LANDMARKS = [1, 0, 2, 4, 3]  # a mirrored face swaps eyes and mouth corners
EPSILON_PENALTY = 0.001
SAMPLE_COUNT = 16
# Where a run writes its discriminator's trainable weights, beside generator.safetensors, per kind.
DISCRIMINATOR_FILE = {
    "dcgan": "discriminator.safetensors",
    "projected": "discriminator_projected.safetensors",
    "projected+dcgan": "discriminator_projected_dcgan.safetensors",
}
PATCH_DISCRIMINATORS = ("projected", "projected+dcgan")  # those that give per-patch logits


def init_weights(init: str | None) -> str | None:
    """The generator weights file a run starts from: ``init`` as :class:`TrainOptions` takes it ("shipped": the
    shipped generator's; "none" or None: none, random weights; else a file)."""
    if init is None or init == "none":
        return None
    if init == "shipped":
        from anonymizer.gan import default_weights

        return str(default_weights())
    return init


def jitter_colour(image: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Change brightness, contrast and saturation of whole crops (image in [-1, 1]) at random.

    The same change over the face and its context: the generator still has to
    match the face to what it sees, over more kinds of light and skin.
    """
    if strength <= 0:
        return image
    b = image.shape[0]
    draw = (torch.rand(b, 3, generator=generator) * 2 - 1).to(image.device) * strength
    grey = image.mean(1, keepdim=True)
    image = grey + (image - grey) * (1 + draw[:, 0]).view(b, 1, 1, 1)  # saturation
    mean = image.mean((1, 2, 3), keepdim=True)
    image = mean + (image - mean) * (1 + draw[:, 1]).view(b, 1, 1, 1)  # contrast
    return (image + draw[:, 2].view(b, 1, 1, 1)).clamp(-1, 1)  # brightness


def make_discriminator(
    kind: str,
    config: GeneratorConfig,
    lite0_weights: str | None = None,
    scales: int = 4,
    bf16_features: bool = False,
    head_width: int = 64,
    width: int | None = None,
) -> torch.nn.Module:
    """The discriminator of ``kind`` for ``config``'s crops; ``width``: the DCGAN one's first layer (default: the
    generator's)."""
    if kind == "dcgan":
        # In the aligned frame the discriminator folds its input as the generator does (the box frame's
        # discriminators were trained unfolded, and their saved weights must still fit).
        fold = config.fold if config.frame == "aligned" else 1
        return Discriminator(config.resolution, width or config.width, config.max_width, fold=fold)
    if kind in PATCH_DISCRIMINATORS:
        from anonymizer.models.projected import PixelAndProjected, ProjectedDiscriminator

        projected = ProjectedDiscriminator(
            weights=lite0_weights, scales=scales, head_width=head_width, bf16_features=bf16_features
        )
        if kind == "projected":
            return projected
        return PixelAndProjected(projected, make_discriminator("dcgan", config, width=width))
    raise ValueError(f"unknown discriminator {kind!r}: use one of {', '.join(DISCRIMINATOR_FILE)}")


def generator_config(options: TrainOptions, resolution: int, context: float, frame: str = "box") -> GeneratorConfig:
    """What the generator is: from ``--init`` weights when fine-tuning, else from the options and the data."""
    if options.init:
        config = GeneratorConfig(**read_info(Path(options.init))["config"])
        if options.grow:
            config = replace(config, resolution=config.resolution * 2, fold=2, **_region_options(options))
        if (config.resolution, config.context, config.frame) != (resolution, context, frame):
            raise ValueError(
                f"{options.init} paints {config.resolution} px crops ({config.frame} frame, context "
                f"{config.context}); the data holds {resolution} px crops ({frame} frame, context {context}): "
                f"prepare it with --resolution {config.resolution} --frame {config.frame}"
                + (f" --context {config.context}" if config.frame == "box" else "")
            )
        config = replace(config, modulated=config.modulated or options.modulated)
        return replace(config, landmarks=options.landmarks) if options.landmarks else config
    return GeneratorConfig(
        modulated=options.modulated,
        resolution=resolution,
        width=options.width,
        max_width=options.max_width,
        fold=options.fold,
        context=context,
        frame=frame,
        landmarks=options.landmarks or "own",
        **_region_options(options, frame),
    )


# The default region of each frame: (scale, feather).
FRAME_REGIONS = {"box": (1.3, 0.12), "aligned": (1.0, 0.06)}


def _region_options(options: TrainOptions, frame: str = "box") -> dict:
    scale, feather = FRAME_REGIONS[frame]
    return {
        "region_scale": scale if options.region_scale is None else options.region_scale,
        "region_shape": options.region_shape,
        "feather": feather if options.feather is None else options.feather,
    }


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 instructions, where autocast to bf16 is faster than fp32 (not emulated).
    ``ANONYMIZER_FORCE_BF16=1`` says yes regardless (to measure the emulated path: benchmarks/training_speed.py)."""
    if os.environ.get("ANONYMIZER_FORCE_BF16") == "1":
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def to_tensors(arrays: FaceArrays, index: np.ndarray, device: str) -> tuple[torch.Tensor, ...]:
    """The samples at ``index`` as image (-1..1), mask (0/1) and landmarks tensors."""
    return to_model_inputs(arrays.images[index], arrays.masks[index], arrays.landmarks[index], device)


def source_weights(files: np.ndarray) -> torch.Tensor:
    """Sampling weights that give every top-level folder of a dataset the same share of the batches.

    A face set that holds most of the photos (UTKFace's tight crops, say) would
    otherwise teach the generator mostly its own kind of context.
    """
    sources = np.array([f.split("/", 1)[0] if "/" in f else "" for f in files])
    _, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    return torch.from_numpy(1.0 / counts[inverse])


# A face counts as turned for ``turned_share`` when its coarse yaw is this far from the template's (in eye
# distances; anonymizer.align.coarse_pose): 4.3 % of the aligned recipes' training faces (each photo's largest
# that fits the template), 4.7 % of every face that fits it to 0.45.
TURNED_YAW = 0.3


def turned_heads(landmarks: np.ndarray) -> np.ndarray:
    """Which faces (N x 5 x 2 landmarks, in any frame) have a coarse yaw of ``TURNED_YAW`` or more from the
    template's."""
    from anonymizer.align import pose_from_template

    yaw, _ = pose_from_template(np.asarray(landmarks, np.float64))
    return np.abs(yaw) >= TURNED_YAW


def draw_weights(arrays: FaceArrays, options: TrainOptions) -> torch.Tensor | None:
    """Sampling weights for the training faces, or None to draw them uniformly: every top-level folder equally
    often with ``balance_sources``, and turned heads (:func:`turned_heads`) as ``turned_share`` of the draws,
    each kind weighted within itself as the sources weight it."""
    weights = source_weights(arrays.files) if options.balance_sources else None
    if options.turned_share <= 0:
        return weights
    if not 0 < options.turned_share < 1:
        raise ValueError(f"turned_share must be between 0 and 1, not {options.turned_share}")
    turned = turned_heads(arrays.landmarks)
    if not turned.any() or turned.all():
        log.warning(
            "turned_share: %d of %d faces are turned heads; drawing them as they come", turned.sum(), len(turned)
        )
        return weights
    base = weights.numpy().astype(np.float64) if weights is not None else np.ones(len(turned))
    share = np.where(
        turned, options.turned_share / base[turned].sum(), (1 - options.turned_share) / base[~turned].sum()
    )
    return torch.from_numpy(base * share)


def masked_l1(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference inside the replaced region (the reconstruction term)."""
    return ((fake - real).abs() * mask).sum() / (mask.sum() * 3).clamp(min=1)


def mean_colour_difference(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per face and channel (B x 3), the mean colour of the replaced region in ``fake`` minus ``real``'s."""
    area = mask.sum((2, 3)).clamp(min=1)
    return ((fake - real) * mask).sum((2, 3)) / area


def mean_colour_error(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 between the mean colours of the replaced region in ``fake`` and ``real``, per face.

    Unlike the pixel L1 it says nothing about where anything goes, so it does not
    pull the face towards a blurry average; it only keeps the skin tone and light
    of the new face from drifting into a colour cast.
    """
    return mean_colour_difference(fake, real, mask).abs().mean()


def flip(
    image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, which: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Mirror the samples selected by the boolean ``which``."""
    if not bool(which.any()):
        return image, mask, landmarks
    image, mask, landmarks = image.clone(), mask.clone(), landmarks.clone()
    image[which] = image[which].flip(-1)
    mask[which] = mask[which].flip(-1)
    mirrored = landmarks[which][:, FLIP_LANDMARKS]
    mirrored[..., 0] = image.shape[-1] - mirrored[..., 0]
    landmarks[which] = mirrored
    return image, mask, landmarks


def sample_sheet(generator: Generator, batch: tuple[torch.Tensor, ...], z: torch.Tensor) -> np.ndarray:
    """Rows: masked input | generated composite | original, one column per face."""
    image, mask, landmarks = batch
    with torch.no_grad():
        composite = generator.inpaint(image, mask, landmarks, z)
    rows = [image * (1 - mask), composite, image]
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    return ((grid.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()


def plot_losses(csv_path: Path, out: Path) -> None:
    """A small line plot of the losses, drawn with OpenCV (no plotting library needed)."""
    import cv2

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if len(rows) < 2:
        return
    keys = ["d_loss", "g_adv", "g_rec"]
    colours = [(200, 60, 60), (60, 60, 200), (60, 160, 60)]
    steps = np.array([float(r["step"]) for r in rows])
    w, h, pad = 800, 400, 50
    canvas = np.full((h, w, 3), 255, np.uint8)
    values = {k: np.array([float(r[k]) for r in rows]) for k in keys}
    top = max(float(np.percentile(np.concatenate(list(values.values())), 99)), 1e-3)
    cv2.rectangle(canvas, (pad, pad // 2), (w - pad // 2, h - pad), (0, 0, 0), 1)
    for i, key in enumerate(keys):
        v, x = np.minimum(values[key], top), steps
        # Smooth a little so the trend shows through the per-step noise (no padding at the ends).
        if len(v) > 10:
            v, x = np.convolve(v, np.ones(5) / 5, mode="valid"), steps[2:-2]
        xs = pad + (x - steps[0]) / max(steps[-1] - steps[0], 1) * (w - 1.5 * pad)
        ys = h - pad - v / top * (h - 1.5 * pad)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.polylines(canvas, [pts], False, colours[i], 1, cv2.LINE_AA)
        cv2.putText(canvas, key, (pad + 10 + 110 * i, pad), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colours[i], 1, cv2.LINE_AA)
    cv2.putText(
        canvas,
        f"step {int(steps[0])}..{int(steps[-1])}, max {top:.2f}",
        (pad, h - 15),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    tmp = out.with_name(f".{out.name}.tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    os.replace(tmp, out)


def _write_png(array: np.ndarray, out: Path) -> None:
    from PIL import Image

    tmp = out.with_name(f".{out.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    os.replace(tmp, out)


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


LOSS_FIELDS = [
    "step",
    "d_loss",
    "g_adv",
    "g_rec",
    "d_real",
    "d_fake",
    "images_per_s",
    "g_colour",
    "g_perceptual",
    "g_diversity",
    "g_fm",
]


def start_loss_log(csv_path: Path) -> None:
    """Make ``losses.csv`` ready for rows: its header written when it is new, or rewritten over the rows
    of a version that logged fewer columns."""
    old_rows: list[list[str]] = []
    if csv_path.exists():
        with open(csv_path, newline="") as f:
            old_rows = list(csv.reader(f))
    if not old_rows or old_rows[0] != LOSS_FIELDS:
        with open(csv_path, "w", newline="") as f:
            csv.writer(f).writerows([LOSS_FIELDS] + old_rows[1:])


def draw_batch(
    train_set: FaceArrays,
    weights,
    options: TrainOptions,
    config: GeneratorConfig,
    rng,
    device: str,
    scale_masks: torch.Tensor | None = None,
):
    """A training batch ((real, mask, landmarks), latents): faces drawn (by source weight with
    ``balance_sources``), half of them mirrored, colour-jittered, channels-last. With a diversity term,
    the batch's second half repeats its first (the same crops, other latent codes). With ``scale_masks``
    (K x 1 x R x R, :func:`mask_scale_stack`), each face's mask is one of them, drawn at random."""
    faces = options.batch_size // 2 if options.diversity_weight > 0 else options.batch_size
    if weights is None:
        index = torch.randint(len(train_set), (faces,), generator=rng).numpy()
    else:
        index = torch.multinomial(weights, faces, replacement=True, generator=rng).numpy()
    which = torch.rand(faces, generator=rng) < 0.5
    z = torch.randn(options.batch_size, config.latent_dim, generator=rng).to(device)
    real, mask, landmarks = to_tensors(train_set, index, device)
    if scale_masks is not None:
        mask = scale_masks[torch.randint(len(scale_masks), (faces,), generator=rng).to(scale_masks.device)]
    real, mask, landmarks = flip(real, mask, landmarks, which.to(device))
    landmarks = painted_landmarks(config, landmarks)  # the template's, for a generator that must not see its own
    real = jitter_colour(real, options.colour_jitter, rng)
    if faces != options.batch_size:
        real, mask, landmarks = (torch.cat([t, t]) for t in (real, mask, landmarks))
    real = real.contiguous(memory_format=torch.channels_last)
    mask = mask.contiguous(memory_format=torch.channels_last)
    return (real, mask, landmarks), z


def mask_scale_stack(config: GeneratorConfig, scales: list[float], device: str) -> torch.Tensor:
    """The replaced area of the inner-face mask at each scale (K x 1 x R x R, 0/1), as training draws it."""
    side = config.resolution
    layers = [(InnerMask(scale=s, feather=config.feather).masks(side)[2] > 0.5) for s in scales]
    return torch.from_numpy(np.stack(layers).astype(np.float32)[:, None]).to(device)


def same_network(a: GeneratorConfig, b: GeneratorConfig) -> bool:
    """Whether two configs describe the same network and crops, whatever region each paints by default
    (the region's size and edge are not part of the weights: a run may go on with a new one), and whatever fit
    to the template its faces have (a run may go on with looser-fitting faces)."""
    keep = {"region_scale": 0.0, "feather": 0.0, "landmarks": "own", "max_residual": 0.0}
    return replace(a, **keep) == replace(b, **keep)


def build_models(options: TrainOptions, config: GeneratorConfig) -> tuple[Generator, torch.nn.Module, tuple[int, int]]:
    """The generator (fresh, or from ``options.init``, grown if asked) and the discriminator (its trained
    heads from beside the init weights where there are some), with the steps and images the init had seen."""
    generator = Generator(config)
    discriminator = make_discriminator(
        options.discriminator,
        config,
        options.lite0_weights,
        options.projected_scales,
        options.bf16_features,
        options.projected_head_width,
        options.d_width,
    )
    if not options.init:
        return generator, discriminator, (0, 0)
    init = Path(options.init)
    if options.grow:
        generator = grow_folded(load_generator(init), **_region_options(options))
    else:
        load_weights(generator, load_generator(init).state_dict())
    trained = read_info(init).get("training", {})
    heads = init.with_name(DISCRIMINATOR_FILE[options.discriminator])
    if heads.is_file() and not options.grow:  # the discriminator trained beside those weights: not from scratch
        load_trainable(discriminator, heads)
        log.info("discriminator heads from %s", heads)
    return generator, discriminator, (int(trained.get("steps", 0)), int(trained.get("images_seen", 0)))


def adversarial_step(
    g_model,
    d_model,
    opt_g,
    opt_d,
    scaler,
    batch,
    z,
    options: TrainOptions,
    seen,
    use_amp: bool,
    perceptual=None,
    step: int = 0,
):
    """One discriminator update, then one generator update, on ``batch`` (real, mask, landmarks).

    The discriminator sees real crops and composites (``mask * G + (1 - mask) * real``) in one pass,
    non-saturating loss plus the epsilon penalty on real logits; the generator's loss is the adversarial
    term plus the L1, mean-colour and (with ``perceptual``, a :class:`models.projected.PerceptualDistance`)
    feature-distance terms on the replaced region. Returns the losses (tensors) logged.
    """
    real, mask, landmarks = batch
    kind = real.device.type
    matching = options.fm_weight > 0
    masked = options.masked_targets
    with torch.autocast(device_type=kind, dtype=torch.bfloat16, enabled=use_amp):
        generated = g_model(condition(real, mask, landmarks), z)
        fake = mask * generated + (1 - mask) * real
        # Discriminator: real and composite in one pass (one DDP forward per backward).
        both = seen(torch.cat([real, fake.detach()]), mask.repeat(2, 1, 1, 1), landmarks.repeat(2, 1, 1))
        if matching:
            logits, d_features = d_model(*both, features=True)
            # the real half's activations, the targets of feature matching (before this update: one step old)
            targets = [f.detach().float().chunk(2)[0] for f in d_features]
        elif masked:
            patches = [p.float() for p in d_model(*both, patches=True)]
            logits = torch.stack([p.mean((1, 2, 3)) for p in patches]).mean(0)
        else:
            logits = d_model(*both)
        d_real, d_fake = logits.float().chunk(2)
        if masked:
            d_loss = masked_patch_loss(patches, both[1]) + EPSILON_PENALTY * (d_real**2).mean()
        else:
            d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean() + EPSILON_PENALTY * (d_real**2).mean()
    opt_d.zero_grad(set_to_none=True)
    scaler.scale(d_loss).backward()
    if options.r1_gamma > 0 and step % options.r1_every == 0:
        # Lazy R1 (StyleGAN2): the penalty every r1_every steps, scaled by r1_every, outside autocast (its
        # second derivative is not worth rounding).
        shown = seen(real, mask, landmarks)
        image = shown[0].detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(d_model(image, *shown[1:]).float().sum(), image, create_graph=True)
        r1 = grad.pow(2).sum((1, 2, 3)).mean()
        scaler.scale(options.r1_gamma / 2 * options.r1_every * r1).backward()
    scaler.step(opt_d)

    with torch.autocast(device_type=kind, dtype=torch.bfloat16, enabled=use_amp):
        g_fm = torch.zeros((), device=real.device)
        if matching:
            g_logits, g_features = d_model(*seen(fake, mask, landmarks), features=True)
            g_fm = sum((g.float() - t).abs().mean() for g, t in zip(g_features, targets)) / len(targets)
            g_adv = F.softplus(-g_logits.float()).mean()
        elif masked:
            shown = seen(fake, mask, landmarks)
            g_adv = masked_patch_loss([p.float() for p in d_model(*shown, patches=True)], shown[1], generator=True)
        else:
            g_adv = F.softplus(-d_model(*seen(fake, mask, landmarks)).float()).mean()
        g_rec = masked_l1(fake.float(), real, mask)
        g_col = mean_colour_error(fake.float(), real, mask)
        g_perc = perceptual(fake, real, mask) if perceptual is not None else torch.zeros((), device=real.device)
        g_div = diversity(generated.float(), mask, z) if options.diversity_weight > 0 else torch.zeros_like(g_rec)
        g_loss = g_adv + options.rec_weight * g_rec + options.colour_weight * g_col + options.perceptual_weight * g_perc
        g_loss = g_loss + options.fm_weight * g_fm
        g_loss = g_loss - options.diversity_weight * g_div.clamp(max=options.diversity_clip)
    opt_g.zero_grad(set_to_none=True)
    scaler.scale(g_loss).backward()
    scaler.step(opt_g)
    scaler.update()
    return d_loss, g_adv, g_rec, d_real, d_fake, g_col, g_perc, g_div, g_fm


# A patch counts as painted when at least this share of it is the mask's (its region in the crop): the soft
# mask's feathered rim alone does not make a patch a painting.
PAINTED_SHARE = 0.1


def masked_patch_loss(patches: list[torch.Tensor], mask: torch.Tensor, generator: bool = False) -> torch.Tensor:
    """The non-saturating loss on per-scale patch logits (each 2B x 1 x h x w, real crops first, composites
    after; with ``generator``, B x 1 x h x w of composites only), where a composite's patch is fake only if it
    holds painted pixels (its share of ``mask``, average-pooled to the patch grid, at least ``PAINTED_SHARE``)
    and real otherwise. The discriminator's loss: real crops and unpainted patches as real, painted patches as
    fake; the generator's: its painted patches judged real, averaged over them. Each scale weighs the same."""
    losses = []
    for p in patches:
        share = F.adaptive_avg_pool2d(mask.float(), p.shape[-2:])
        if generator:
            painted = (share >= PAINTED_SHARE).float()
            losses.append((F.softplus(-p) * painted).sum() / painted.sum().clamp(min=1))
            continue
        p_real, p_fake = p.chunk(2)
        painted = (share.chunk(2)[1] >= PAINTED_SHARE).float()
        fake_loss = painted * F.softplus(p_fake) + (1 - painted) * F.softplus(-p_fake)
        losses.append(F.softplus(-p_real).mean() + fake_loss.mean())
    return torch.stack(losses).mean()


def diversity(generated: torch.Tensor, mask: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """How far apart the two faces painted for the same crop are, per unit of latent distance.

    The batch's halves hold the same crops with other codes (:func:`draw_batch`); the mean absolute
    difference of the two paintings over the replaced region, over the mean absolute difference of their
    codes, averaged over the pairs: the ratio that DSGAN (Yang et al., ICLR 2019) and MSGAN (Mao et al.,
    CVPR 2019) reward, against a generator that paints one face whatever its code.
    """
    n = generated.shape[0] // 2
    area = mask[:n].sum(dim=(1, 2, 3)).clamp(min=1) * generated.shape[1]
    image = ((generated[:n] - generated[n : 2 * n]).abs() * mask[:n]).sum(dim=(1, 2, 3)) / area
    code = (z[:n] - z[n : 2 * n]).abs().mean(dim=1)
    return (image / code).mean()


STATE_FILE = "state.safetensors"


def save_state(folder: Path, generator, ema, discriminator, info: dict) -> None:
    """The compact state a run continues from in another session: the EMA generator as weights
    (``generator.safetensors``, what is evaluated and shipped) and the training generator and discriminator
    (``state.safetensors``), all in float16, each file replaced atomically. The optimisers' moments are not
    kept (they would triple the size); a run started from the state rebuilds them within a few hundred steps."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in (("g.", generator), ("d.", discriminator)):
        frozen = getattr(module, "frozen_prefixes", ())
        for name, value in module.state_dict().items():
            if name.startswith(frozen):
                continue
            value = value.detach().cpu().contiguous()
            tensors[prefix + name] = value.half() if value.is_floating_point() else value
    tmp = _write_state_aside(folder, tensors, {"training": json.dumps(info, sort_keys=True)})
    save_generator(ema, folder / "generator.safetensors", info={"training": info}, half=True)
    os.replace(tmp, folder / STATE_FILE)


def _write_state_aside(folder: Path, tensors: dict, metadata: dict) -> Path:
    """``tensors`` written beside ``folder``'s state file, for the caller to move over it (:func:`os.replace`)."""
    from safetensors.torch import save_file

    tmp = Path(folder) / f".{STATE_FILE}.tmp"
    save_file(tensors, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)
    return tmp


def load_state(
    folder: Path, generator, ema, discriminator, config: GeneratorConfig, kind: str = "dcgan"
) -> tuple[int, int, float]:
    """Load what :func:`save_state` wrote; returns the steps, images and seconds of training it holds. A state
    whose discriminator is of another ``kind`` gives the generators only; a folder with the EMA generator alone
    (no ``state.safetensors``) gives it as both generators."""
    from safetensors import safe_open

    folder = Path(folder)
    weights = load_generator(folder / "generator.safetensors")
    narrow = weights.config
    if narrow.width < config.width and same_network(
        replace(narrow, width=config.width), replace(config, modulated=narrow.modulated)
    ):
        # A narrower generator's state: both generators go on from it widened (:func:`widen`, the same copies and
        # shares for both), painting what it painted; its discriminator goes on as it is (``--d-width``).
        log.info(
            "the state in %s is of a generator %d channels wide: widened to %d", folder, narrow.width, config.width
        )
        weights = widen(weights, config.width)
    # A modulated generator may go on from a plain one's state (its modulation starts at zero).
    if not same_network(
        weights.config, replace(config, modulated=weights.config.modulated) if config.modulated else config
    ):
        raise ValueError(f"the state in {folder} is of a generator {weights.config}, not {config}")
    if weights.config != config:
        log.info(
            "the state in %s painted %s; the run goes on with %s",
            folder,
            _region_text(weights.config),
            _region_text(config),
        )
    load_weights(ema, weights.state_dict())
    if not (folder / STATE_FILE).exists():
        # The EMA generator alone (a start kept small in the tree): the training generator starts from it, the
        # discriminator afresh.
        load_weights(generator, weights.state_dict())
        info = read_info(folder / "generator.safetensors").get("training", {})
        log.info("the state in %s is its EMA generator alone: a new discriminator starts", folder)
        return _trained(info)
    with safe_open(str(folder / STATE_FILE), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        info = json.loads((f.metadata() or {}).get("training", "{}"))
    stored = info.get("discriminator", "dcgan")
    parts = [("g.", generator), ("d.", discriminator)]
    if not any(k.startswith("g.") for k in tensors):
        # The discriminator alone (:func:`drop_training_generator`, a state kept small in the tree): the
        # training generator starts from the EMA one, the discriminator goes on.
        load_weights(generator, weights.state_dict())
        log.info("the state in %s keeps its discriminator, not its training generator: both start from the EMA", folder)
        parts = parts[1:]
    for prefix, module in parts:
        if prefix == "d." and stored != kind:
            member = getattr(discriminator, "parts", {}).get(stored)
            if member is None:
                # Another design's discriminator (a race's arm started from this state): this one starts afresh.
                log.info("the state in %s has a %s discriminator: a new %s one starts", folder, stored, kind)
                continue
            # A part of this one (a projected arm's heads under a discriminator with a pixel head beside them).
            log.info(
                "the state in %s has a %s discriminator: this %s one's %s part goes on from it",
                folder,
                stored,
                kind,
                member,
            )
            module = getattr(discriminator, member)
        own = module.state_dict()
        part = {k[len(prefix) :]: v.to(own[k[len(prefix) :]].dtype) for k, v in tensors.items() if k.startswith(prefix)}
        if prefix == "g.":
            if narrow.width < config.width:  # the training generator widened as the EMA one was
                trained = Generator(narrow)
                load_weights(trained, part)
                part = widen(trained, config.width).state_dict()
            load_weights(module, part)
            continue
        frozen = getattr(module, "frozen_prefixes", ())
        refused = ValueError(
            f"the state in {folder} does not fit this {kind} discriminator: trained at another width? "
            "(--d-width sets it)"
        )
        try:
            missing, unexpected = module.load_state_dict(part, strict=not frozen)
        except RuntimeError as error:  # shapes that differ
            raise refused from error
        if unexpected or any(not k.startswith(frozen) for k in missing):
            raise refused
    return _trained(info)


def drop_training_generator(folder: Path) -> int:
    """Rewrite ``folder``'s ``state.safetensors`` without the training generator, keeping the discriminator and
    the training block: a state to commit, a tenth of the size (the EMA generator beside it starts both
    generators, :func:`load_state`), so that a fresh checkout goes on with the discriminator that was trained,
    not a new one. Returns the bytes written."""
    from safetensors import safe_open

    path = Path(folder) / STATE_FILE
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("g.")}
        metadata = f.metadata() or {}
    if not tensors:
        raise ValueError(f"{path} holds no discriminator")
    os.replace(_write_state_aside(folder, tensors, metadata), path)
    return path.stat().st_size


def _trained(info: dict) -> tuple[int, int, float]:
    """Steps, images seen and seconds of training in a state's ``training`` block."""
    seconds = info.get("training_seconds", 3600 * float(info.get("training_hours", 0)))
    return int(info.get("steps", 0)), int(info.get("images_seen", 0)), float(seconds)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, generator: torch.nn.Module, decay: float) -> None:
    """Move the EMA generator towards ``generator`` (buffers copied). The caller warms ``decay`` up:
    early on, the average must not be anchored to the random initial weights."""
    for p_ema, p in zip(ema.parameters(), generator.parameters()):
        p_ema.lerp_(p, 1 - decay)
    for b_ema, b in zip(ema.buffers(), generator.buffers()):
        b_ema.copy_(b)


def _region_text(config: GeneratorConfig) -> str:
    return f"region scale {config.region_scale:g}, feather {config.feather:g}"


def _on_any_process(flag: bool, device: str) -> bool:
    """Whether ``flag`` is true in any process of the DDP group (so that all act at the same step)."""
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class StopRequest:
    """SIGTERM or Ctrl-C during training asks the loop to checkpoint and stop at the end of its step
    (the run that keeps going is stopped this way, and loses nothing)."""

    def __init__(self) -> None:
        import signal
        import threading

        self.requested = False
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._ask)

    def _ask(self, signum, frame) -> None:
        if self.requested:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(data: Path, out: Path, options: TrainOptions, progress: bool = True) -> dict:
    """Train (or resume) in ``out``; returns the final step and the exported weights' path."""
    from tqdm import tqdm

    if options.diversity_weight > 0 and (options.batch_size < 2 or options.batch_size % 2):
        raise ValueError(f"the diversity term pairs the batch: --batch-size must be even, not {options.batch_size}")
    options = replace(options, init=init_weights(options.init))
    world, rank, local_rank = _dist_info()
    device = resolve_device(options.device)
    if world > 1:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    if options.threads:
        torch.set_num_threads(options.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)
    main_process = rank == 0

    train_set = load_dataset(data, "train")
    config = generator_config(options, train_set.images.shape[1], train_set.context, train_set.frame)
    if train_set.frame == "aligned" and train_set.max_residual is not None:
        # It learns to paint faces that fit the template as loosely as its data's, and paints them so once trained.
        config = replace(config, max_residual=train_set.max_residual)
    if options.fm_weight > 0 and options.discriminator != "dcgan":
        raise ValueError("feature matching (--fm-weight) needs the dcgan discriminator")
    if options.masked_targets and options.discriminator not in PATCH_DISCRIMINATORS:
        raise ValueError("--masked-targets needs a projected discriminator (its patch logits)")
    region = region_of(config)
    train_set = train_set.with_region(region)
    scale_masks = None
    if options.mask_scales is not None:
        if config.frame != "aligned":
            raise ValueError("--mask-scales is for the aligned frame (its inner-face mask)")
        scales = mask_scales(*options.mask_scales)
        scale_masks = mask_scale_stack(config, scales, device)
        log.info("inner-face masks drawn at scales %s (painted by default at %g)", scales, config.region_scale)
    try:
        val_set = load_dataset(data, "val", region)
    except ValueError:
        val_set = train_set  # a tiny custom set may have no validation faces
    manifest = Path(data) if Path(data).is_file() else Path(data) / "manifest.json"
    manifest_mtime = manifest.stat().st_mtime

    torch.manual_seed(options.seed)
    generator, discriminator, (init_steps, init_images) = build_models(options, config)
    # Channels-last: about 25% more images/s on this CPU (oneDNN convolutions), and the layout GPUs prefer.
    generator = generator.to(device, memory_format=torch.channels_last)
    discriminator = discriminator.to(device, memory_format=torch.channels_last)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(generator.parameters(), lr=options.lr, betas=(0.5, 0.999))
    trainable_d = [p for p in discriminator.parameters() if p.requires_grad]
    opt_d = torch.optim.Adam(trainable_d, lr=options.lr, betas=(0.5, 0.999))
    use_amp = options.amp and (device.startswith("cuda") or cpu_has_bf16())
    perceptual = None
    if options.perceptual_weight > 0:
        from anonymizer.models.projected import PerceptualDistance

        perceptual = PerceptualDistance(options.lite0_weights).to(device, memory_format=torch.channels_last)
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # bf16 needs no loss scaling; kept for the state's shape
    rng = torch.Generator().manual_seed(options.seed * 1000 + rank)
    step = 0
    trained_seconds = 0.0  # training time of the steps this run folder holds (wall clock, all processes)

    ckpt_path = out / "checkpoint.pt"
    state_dir = Path(options.state) if options.state else None
    if not ckpt_path.exists() and state_dir is not None and holds_state(state_dir):
        init_steps, init_images, init_seconds = load_state(
            state_dir, generator, ema, discriminator, config, options.discriminator
        )
        log.info("started from the compact state in %s (%d steps, %d images seen)", state_dir, init_steps, init_images)
    else:
        init_seconds = 0.0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if not same_network(GeneratorConfig(**state["config"]), config):
            raise ValueError(f"{ckpt_path} was trained with {state['config']}, not {config.to_dict()}")
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        scaler.load_state_dict(state["scaler"])
        rng.set_state(state["rng"][rank] if rank < len(state["rng"]) else state["rng"][0])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        trained_seconds = float(state.get("trained_seconds", 0.0))
        init_steps, init_images = state.get("init_seen", (init_steps, init_images))
        init_seconds = float(state.get("init_seconds", init_seconds))
        log.info("resumed from step %d", step)

    g_model, d_model = generator, discriminator
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [local_rank] if device.startswith("cuda") else None
        g_model = DDP(generator, device_ids=ids)
        d_model = DDP(discriminator, device_ids=ids)

    # A fixed validation batch and fixed latents: sample sheets are comparable across checkpoints.
    fixed_index = np.arange(min(SAMPLE_COUNT, len(val_set)))
    fixed_batch = to_tensors(val_set, fixed_index, device)
    fixed_batch = (*fixed_batch[:2], painted_landmarks(config, fixed_batch[2]))
    fixed_z = torch.randn(len(fixed_index), config.latent_dim, generator=torch.Generator().manual_seed(1234)).to(device)

    csv_path = out / "losses.csv"
    if main_process:
        start_loss_log(csv_path)

    def checkpoint() -> None:
        rng_states = [rng.get_state()]
        if world > 1:
            gathered: list = [None] * world
            dist.all_gather_object(gathered, rng.get_state())
            rng_states = gathered
        if not main_process:
            return
        state = {
            "step": step,
            "config": config.to_dict(),
            "options": asdict(options),
            "generator": generator.state_dict(),
            "discriminator": discriminator.state_dict(),
            "ema": ema.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng_states,
            "torch_rng": torch.get_rng_state(),
            "trained_seconds": trained_seconds,
            "init_seen": [init_steps, init_images],
            "init_seconds": init_seconds,
        }
        tmp = ckpt_path.with_name(".checkpoint.pt.tmp")
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)
        info = {
            "steps": init_steps + step,
            "images_seen": init_images + step * options.batch_size * world,
            "training_hours": round((init_seconds + trained_seconds) / 3600, 3),
            "training_seconds": round(init_seconds + trained_seconds, 2),
            "device": "cuda" if device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)",
            "training_faces": len(train_set),
            "discriminator": options.discriminator,
        }
        if options.mask_scales is not None:
            info["mask_scales"] = [float(v) for v in options.mask_scales]  # trained on these, paints region_scale
        if options.turned_share > 0:
            info["turned_share"] = options.turned_share  # turned heads drawn as this share of the faces
        if options.init:
            info["init"] = Path(options.init).name + (" (grown to fold 2)" if options.grow else "")
        # Half precision: the weights travel (an accelerator's files come back in 16 MB pieces).
        save_generator(ema, out / "generator.safetensors", info={"training": info}, half=True)
        save_trainable(discriminator, out / DISCRIMINATOR_FILE[options.discriminator])
        _write_png(sample_sheet(ema, fixed_batch, fixed_z), out / "samples" / f"step_{step:07d}.png")
        plot_losses(csv_path, out / "losses.png")
        if state_dir is not None:
            save_state(state_dir, generator, ema, discriminator, info)

    def seen(image: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the discriminator is shown: with DiffAugment, each sample augmented by its own draw."""
        if not options.diff_augment:
            return image, mask, landmarks
        from anonymizer.models.projected import diff_augment

        return diff_augment(image, mask, landmarks, rng)

    weights = draw_weights(train_set, options)
    budget_end = time.monotonic() + options.minutes * 60 if options.minutes else None
    bar = tqdm(total=options.steps, initial=step, unit="step", desc="training", disable=not (progress and main_process))
    log_rows: list[list] = []
    log_every = min(10, options.checkpoint_every)
    tick = time.perf_counter()
    last_checkpoint = time.monotonic()
    stop = StopRequest()
    while step < options.steps:
        started = time.perf_counter()
        (real, mask, landmarks), z = draw_batch(train_set, weights, options, config, rng, device, scale_masks)

        d_loss, g_adv, g_rec, d_real, d_fake, g_col, g_perc, g_div, g_fm = adversarial_step(
            g_model, d_model, opt_g, opt_d, scaler, (real, mask, landmarks), z, options, seen, use_amp, perceptual, step
        )
        update_ema(ema, generator, min(options.ema_decay, (1 + step + init_steps) / (10 + step + init_steps)))
        step += 1
        trained_seconds += time.perf_counter() - started
        bar.update(1)
        out_of_time = (budget_end is not None and time.monotonic() >= budget_end) or stop.requested
        if world > 1 and budget_end is not None:  # every process stops at the same step
            out_of_time = _on_any_process(out_of_time, device)

        if step % log_every == 0:
            now = time.perf_counter()
            speed = log_every * options.batch_size * world / max(now - tick, 1e-9)
            tick = now
            row = [
                step,
                d_loss.item(),
                g_adv.item(),
                g_rec.item(),
                d_real.mean().item(),
                d_fake.mean().item(),
                round(speed, 1),
                g_col.item(),
                g_perc.item(),
                g_div.item(),
                g_fm.item(),
            ]
            log_rows.append(row)
            bar.set_postfix(d=f"{row[1]:.3f}", g=f"{row[2]:.3f}", rec=f"{row[3]:.3f}", img_s=f"{speed:.0f}")
        due = (
            options.checkpoint_minutes is not None
            and time.monotonic() - last_checkpoint >= 60 * options.checkpoint_minutes
        )
        if world > 1 and options.checkpoint_minutes is not None:  # every process checkpoints at the same step
            due = _on_any_process(due, device)
        if step % options.checkpoint_every == 0 or step == options.steps or out_of_time or due:
            last_checkpoint = time.monotonic()
            if main_process and log_rows:
                with open(csv_path, "a", newline="") as f:
                    csv.writer(f).writerows(log_rows)
            log_rows.clear()
            checkpoint()
            # A dataset still being prepared grows: take in the new faces.
            mtime = manifest.stat().st_mtime
            if mtime != manifest_mtime:
                manifest_mtime = mtime
                train_set = load_dataset(data, "train", region)
                weights = draw_weights(train_set, options)
                log.info("dataset grew to %d training faces", len(train_set))
        if out_of_time:
            if stop.requested:
                log.info("stopped by signal at step %d, checkpointed", step)
            else:
                log.info("time budget of %s min reached at step %d", options.minutes, step)
            break
    stop.restore()
    bar.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    result = {"step": step, "weights": str(out / "generator.safetensors")}
    if main_process and (out / "generator.safetensors").is_file():
        # The export anonymize runs on onnxruntime; without it the weights still run on torch.
        from anonymizer.models.export import export_onnx

        try:
            result["onnx"] = str(export_onnx(out / "generator.safetensors"))
        except Exception as exc:  # noqa: BLE001 - the weights are written; only the export is missing
            log.warning("ONNX export failed (%s: %s); anonymize runs these weights on torch", type(exc).__name__, exc)
    if main_process:
        (out / "result.json").write_text(json.dumps(result) + "\n")
    return result


def export_checkpoint(checkpoint: Path, out: Path) -> Path:
    """Write the EMA generator of a training checkpoint as a weights file."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    generator = Generator(GeneratorConfig(**state["config"]))
    generator.load_state_dict(state["ema"])
    info = {
        "steps": int(state["step"]),
        "images_seen": int(state["step"]) * int(state["options"]["batch_size"]),
    }
    return save_generator(generator, Path(out), info={"training": info})
