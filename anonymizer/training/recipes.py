"""Training recipes: the named settings ``anonymize-train recipe`` and the desktop app's Retrain tab share.

A recipe is the set of :class:`~anonymizer.training.options.TrainOptions` fields it changes, and a list of
phases, each an ``anonymize-train train`` run that resumes the one before it (the run folder's checkpoint) up to
its own step count, with the fields that phase changes; the commands are written from them (``to_argv``). ``shipped`` is how
``weights/generator.safetensors`` was trained (see ``weights/README.md``): the L1 weight
eased from 4 to 1 at step 4,000, and the mean-colour term added at step 12,000. ``fine-tune`` is what a
user's own faces get, starting from the shipped generator. ``aligned`` and the designs raced against it are
runs that keep going (``anonymize-train resume``, ``training/resume.sh``, :data:`RESUMED` by default): the 128 px
aligned-frame generator, trained in time-boxed pieces that each continue from the recipe's compact state
(``training/aligned_pose/``; the others' states are in the history, each recipe's ``start``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from anonymizer.training.options import to_argv


def holds_state(folder: str | Path) -> bool:
    """Whether a state folder holds a compact state to go on from (its EMA generator, at least)."""
    return (Path(folder) / "generator.safetensors").exists()


@dataclass(frozen=True)
class Recipe:
    description: str
    options: dict  # the fields of TrainOptions every phase changes: {"batch_size": 16, ...}
    phases: tuple[tuple[int, dict], ...]  # (steps to train to, the fields this phase adds or changes)
    prepare: dict = field(default_factory=dict)  # ``prepare`` options the data needs
    # For a recipe trained on and on (``anonymize-train resume``): its compact state (committed) and run folder.
    state: str | None = None
    run: str | None = None
    # The compact state a first run starts from, copied into ``state`` while that folder holds none: a folder,
    # or ``REVISION:folder`` for one that left the tree and is taken from the repository's history.
    start: str | None = None
    # Where ``anonymize-train resume`` keeps the prepared data (prepared there with ``prepare`` when missing).
    data: str = "data/aligned128"

    def starts_from(self, root: str | Path = ".") -> str | None:
        """The compact state a run of this recipe goes on from (relative to ``root``): its own, or ``start`` while
        its own folder holds none yet."""
        if self.state and holds_state(Path(root) / self.state):
            return self.state
        return self.start or self.state


def copy_start(start: str, state: str | Path, root: str | Path = ".") -> None:
    """Copy a recipe's ``start`` (a folder under ``root``, or ``REVISION:folder`` from the repository's history)
    into the folder ``state``; a file already there is replaced. Raises ValueError when it cannot be had."""
    import shutil
    import subprocess

    state = Path(state)
    revision, _, folder = start.rpartition(":")
    if not revision or (Path(root) / start).exists():  # a folder (whatever its name holds)
        folder = start
        if not holds_state(Path(root) / folder):
            raise ValueError(f"no compact state in {folder} to start from")
        shutil.copytree(Path(root) / folder, state, dirs_exist_ok=True)
        return

    def git(*argv: str) -> bytes:
        try:
            return subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", b"") or str(error).encode()
            raise ValueError(f"cannot take {start} from the repository's history: {detail.decode().strip()}") from None

    tree = f"{revision}:{folder.rstrip('/')}"
    names = git("ls-tree", "--name-only", tree).decode().split()
    if "generator.safetensors" not in names:
        raise ValueError(f"{start} holds no compact state (generator.safetensors)")
    files = {name: git("show", f"{tree}/{name}") for name in names}  # all, or nothing
    state.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (state / name).write_bytes(data)


RECIPES: dict[str, Recipe] = {
    "shipped": Recipe(
        description="how the shipped generator was trained: from random weights, 64 px, 18,000 steps at batch 32",
        options={"init": None, "batch_size": 32, "lr": 2e-4, "width": 16, "checkpoint_every": 500},
        phases=(
            (4000, {"rec_weight": 4.0}),
            (12000, {"rec_weight": 1.0}),
            (18000, {"rec_weight": 1.0, "colour_weight": 5.0}),
        ),
        prepare={"--resolution": 64, "--context": 2.0},
    ),
    "aligned": Recipe(
        description="the aligned-frame 128 px generator: the inner face painted (masks drawn at scales 1.0 to 1.3, "
        "1.2 by default) from the template's landmarks, adversarial loss with feature matching and a mean-colour "
        "term, no L1; trained on and on from training/aligned/",
        options={
            "init": None,
            "batch_size": 16,
            "lr": 2e-4,
            "width": 16,
            "max_width": 128,
            "fold": 2,
            "rec_weight": 0.0,
            "fm_weight": 1.0,
            "colour_weight": 1.0,
            # Brows to chin and cheek to cheek: 1.0 left the brows and the jaw line to the photo, and the
            # generated faces were called the same person twice as often as another person's real face
            # (7.7 % against 4.0 %, step 87,015). One generator for the sizes the measure chooses among.
            "region_scale": 1.2,
            "mask_scales": (1.0, 1.3),
            # From step 252,680 (4,042,880 images) on: the template's landmarks for every face. Painting from each
            # face's own, the new face was the same person for 10.5 % of held-out faces >= 64 px against 6.2 %
            # for another person's real face; the same weights given the template's: 7.5 %
            # (benchmarks/gan_landmark_probe.py). A new design: its own curve (design ...tl).
            "landmarks": "template",
            "checkpoint_every": 1_000_000,
            "checkpoint_minutes": 10,
        },
        phases=((1_000_000_000, {}),),
        prepare={"--resolution": 128, "--frame": "aligned", "--min-face-size": 40},
        state="training/aligned",
        run="data/run_aligned",
        start="c5bba57:training/aligned",  # its last state (5,160,640 images); it left the tree
    ),
    "fine-tune": Recipe(
        description="a user's own faces, starting from the shipped generator (the Retrain tab's default)",
        options={
            "init": "shipped",
            "batch_size": 16,
            "lr": 2e-4,
            "rec_weight": 1.0,
            "colour_weight": 5.0,
            "checkpoint_every": 250,
        },
        phases=((2000, {}),),
    ),
}


# The race's new arm: the aligned recipe with a discriminator on pretrained features, and what that changes. It lost
# the race (training/README.md); its state left the tree then and is in the history (its 5,172,128 images' commit).
RECIPES["aligned-projected"] = Recipe(
    description="the aligned recipe's generator judged by a discriminator with pretrained eyes: patch heads on "
    "frozen EfficientNet-Lite0 features (three scales, random channel and scale mixing, bf16), DiffAugment, "
    "composites' unpainted patches judged as real, lazy R1; no feature matching",
    options={
        # Feature matching needs the DCGAN discriminator's activations (and pulled each painted face towards its
        # own original's).
        **{flag: value for flag, value in RECIPES["aligned"].options.items() if flag != "fm_weight"},
        "discriminator": "projected",
        # Three scales, heads 32 wide, features in bf16: 26 images/s for the whole step on two cores with
        # AVX512_BF16, against 18 with heads 64 wide and float32 features (two, three or four scales alike)
        # and 46 for the aligned recipe (benchmarks/results/training_speed_race.md).
        "projected_scales": 3,
        "projected_head_width": 32,
        "bf16_features": True,
        "masked_targets": True,
        "diff_augment": True,
        "r1_gamma": 0.1,
        "r1_every": 16,
    },
    phases=RECIPES["aligned"].phases,
    prepare=RECIPES["aligned"].prepare,
    state="training/aligned_projected",
    run="data/run_aligned_projected",
)

# The next design after the race of discriminators (the DCGAN one stayed): a wider generator. Both designs' realism
# was flat over their last half million images; this one asks whether the generator's size is what holds it.
RECIPES["aligned-wide"] = Recipe(
    description="the aligned recipe with a generator 24 channels wide at its first level where it was 16 (2.34 M "
    "parameters against 1.98 M; the widest levels stay 128), started from the aligned arm's state at 5,160,640 "
    "images widened so that it paints what that one painted (models.networks.widen); its DCGAN discriminator goes "
    "on at 16",
    options={**RECIPES["aligned"].options, "width": 24, "d_width": 16},
    phases=RECIPES["aligned"].phases,
    prepare=RECIPES["aligned"].prepare,
    state="training/aligned_wide",
    run="data/run_aligned_wide",
    # Its own state left the tree when the coarse-pose arm's was committed: its last, at 6,175,776 images.
    start="73f75ba:training/aligned_wide",
)

# The next design after the wider generator (whose width changed nothing): what the generator is shown. The
# template's points tell a turned head that it faces the camera, and turned heads are where it fails worst
# (warped, smeared faces on heads turned aside or thrown back); the coarse pose tells it which way the head turns,
# in steps too coarse to carry the face's proportions (anonymizer.align.posed_template). It goes on from the
# state the wider generator started from, so the wider run's rows past 5,160,640 images are the other arm.
RECIPES["aligned-pose"] = Recipe(
    description="the wider generator painting from the template's points moved to each face's coarse pose (which "
    "way the head turns and tilts, in steps) instead of the template's own; started from the aligned arm's state "
    "at 5,160,640 images, widened, as the wider generator was",
    options={**RECIPES["aligned-wide"].options, "landmarks": "pose"},
    phases=RECIPES["aligned"].phases,
    prepare=RECIPES["aligned"].prepare,
    state="training/aligned_pose",
    run="data/run_aligned_pose",
    start="c5bba57:training/aligned",  # the aligned arm's state at 5,160,640 images, from the history
)

# The next design after the coarse pose, whose pose has little to teach: 4.3 % of the aligned recipes' training
# faces are turned heads (1,666 of 38,671: a coarse yaw 0.3 eye distances or more from the template's, under a fit
# bound that keeps profiles out), and turned heads are where the generator fails worst. Every face of each photo
# that fits to 0.45 and lies inside it (the others beside each photo's subject; the subjects turned too far for
# 0.25): 1,858 turned of 39,461 (4.7 %; 118 beyond 0.25), drawn as a quarter of the faces. It goes on from the
# coarse-pose arm's state at 5,669,008 images, so that arm's rows past it are the other arm.
RECIPES["aligned-turned"] = Recipe(
    description="the coarse-pose recipe on every face of the training photos that fits the template to 0.45 (not "
    "only each photo's largest, not only to 0.25), turned heads (coarse yaw 0.3 eye distances and more from the "
    "template's) drawn as a quarter of the faces; started from the coarse-pose arm's state at 5,669,008 images",
    options={**RECIPES["aligned-pose"].options, "turned_share": 0.25},
    phases=RECIPES["aligned"].phases,
    prepare={**RECIPES["aligned"].prepare, "--faces": "every", "--max-residual": 0.45},
    state="training/aligned_turned",
    run="data/run_aligned_turned",
    start="effa454:training/aligned_pose",  # the coarse-pose arm at 5,669,008 images, from the history
    data="data/aligned128_turned",
)

# What ``anonymize-train resume`` (``training/resume.sh``) trains when no recipe is named: the coarse pose,
# against the wider generator's million images from the same state (5.16 to 6.18 M: AUC 0.830, 0.832).
RESUMED = "aligned-pose"


def _field(key: str) -> str:
    """A training option's field name, from the field name or its flag (``"--batch-size"``: ``batch_size``)."""
    return key.removeprefix("--").replace("-", "_")


def _flags(options: dict) -> list[str]:
    argv: list[str] = []
    for flag, value in options.items():
        argv += [flag] if value is None else [flag, str(value)]
    return argv


def train_commands(name: str, data: str, out: str, overrides: dict | None = None) -> list[list[str]]:
    """The ``anonymize-train`` argument lists that run recipe ``name`` on ``data`` into ``out``, phase by
    phase; ``overrides`` replace recipe options in every phase (fields of :class:`TrainOptions`, by name or
    flag; ``{"steps": N}`` ends the recipe at step N, in the phase in force there, or extends its last phase to
    N)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}: use one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    overrides = {_field(k): v for k, v in (overrides or {}).items()}
    last = overrides.pop("steps", None)
    phases = list(recipe.phases)
    if last is not None:  # the phases ended before it, then the phase in force at that step, to it
        last = int(last)
        current = next((p for p in phases if p[0] >= last), phases[-1])
        phases = [p for p in phases[:-1] if p[0] < last] + [(last, current[1])]
    commands = []
    for steps, changes in phases:
        options = {**recipe.options, **changes, **overrides, "steps": steps}
        commands.append(["train", "--data", str(data), "--out", str(out), *to_argv(options)])
    return commands


def prepare_command(name: str, photos: str, out: str) -> list[str]:
    """The ``anonymize-train prepare`` arguments the recipe's data needs."""
    return ["prepare", "--input", str(photos), "--out", str(out), *_flags(RECIPES[name].prepare)]
