"""``anonymize-train``: prepare a face dataset from photos, train the generator, export it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _prepare(args: argparse.Namespace) -> int:
    from anonymizer.training.dataset import PrepareOptions, prepare_dataset

    shipped = _shipped_config()
    options = PrepareOptions(
        resolution=args.resolution or shipped.get("resolution", PrepareOptions.resolution),
        context=args.context or shipped.get("context", PrepareOptions.context),
        frame=args.frame or shipped.get("frame", PrepareOptions.frame),
        min_face_size=args.min_face_size,
        min_score=args.min_score,
        faces=args.faces,
        max_residual=args.max_residual,
        val_fraction=args.val_fraction,
        limit=args.limit,
        workers=args.workers,
    )
    detections = Path(args.detections) if args.detections else None
    summary = prepare_dataset(Path(args.input), Path(args.out), options, progress=not args.quiet, detections=detections)
    print(json.dumps(summary, indent=2))
    print(f"dataset: {summary['kept']} faces kept of {summary['photos_seen']} photos -> {args.out}", file=sys.stderr)
    return 0 if summary["kept"] else 1


def _shipped_config() -> dict:
    """The shipped generator's config: what fine-tuning from it needs the data to be."""
    from anonymizer.gan import default_weights
    from anonymizer.models.io import read_info

    try:
        return read_info(default_weights())["config"]
    except Exception:  # noqa: BLE001 - without shipped weights the plain defaults apply
        return {}


def _pack(args: argparse.Namespace) -> int:
    from anonymizer.training.dataset import pack_dataset

    summary = pack_dataset(Path(args.data), Path(args.out), int(args.max_mb * 1e6), quality=args.quality)
    print(json.dumps(summary, indent=2))
    print(
        f"packed {summary['faces']} of {summary['of']} faces ({summary['val']} held out) "
        f"in {summary['bytes'] / 1e6:.1f} MB -> {args.out}",
        file=sys.stderr,
    )
    return 0 if summary["faces"] else 1


def _train(args: argparse.Namespace) -> int:
    from anonymizer.training.options import from_args
    from anonymizer.training.train import train

    options = from_args(args)
    result = train(Path(args.data), Path(args.out), options, progress=not args.quiet)
    print(f"trained to step {result['step']}; generator -> {result['weights']}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.checkpoint:
        from anonymizer.training.train import export_checkpoint

        if not args.out:
            raise ValueError("--checkpoint needs --out, the weights file to write")
        path = export_checkpoint(Path(args.checkpoint), Path(args.out))
        print(f"generator -> {path}", file=sys.stderr)
    else:
        if not args.weights:
            raise ValueError("give --checkpoint (with --out) or --weights (with --onnx)")
        if not args.onnx:
            raise ValueError("--weights is exported with --onnx")
        path = Path(args.weights)
    if args.onnx:
        from anonymizer.models.export import export_onnx

        print(f"ONNX -> {export_onnx(path)}", file=sys.stderr)
    return 0


def _recipe(args: argparse.Namespace) -> int:
    from anonymizer.training.recipes import RECIPES, prepare_command, train_commands

    recipe = RECIPES[args.name]
    overrides = {"steps": args.steps} if args.steps else {}
    commands = train_commands(args.name, args.data, args.out, overrides)
    if args.photos:
        commands.insert(0, prepare_command(args.name, args.photos, args.data))
    print(f"recipe {args.name}: {recipe.description}", file=sys.stderr)
    for argv in commands:
        line = "anonymize-train " + " ".join(argv)
        print(line, file=sys.stderr if not args.print else sys.stdout)
        if args.print:
            continue
        code = main((["--quiet"] if args.quiet else []) + argv)
        if code != 0:
            return code
    return 0


def _resume(args: argparse.Namespace) -> int:
    """Prepare the data if it is missing, then train a recipe on from its compact state."""
    from anonymizer.training.recipes import RECIPES, copy_start, holds_state, prepare_command, train_commands

    recipe = RECIPES[args.recipe]
    if recipe.state is None:
        print(f"anonymize-train: recipe {args.recipe} is not one that is trained on and on", file=sys.stderr)
        return 2

    data, photos = Path(args.data or recipe.data), Path(args.photos)
    manifest = data / "manifest.json"
    complete = data.is_file() or (manifest.is_file() and (data / ".complete").is_file())  # a pack, or a finished folder
    if data.suffix == ".npz" and not data.is_file():  # a pack is made, never prepared (a folder named .npz)
        print(
            f"anonymize-train: no pack at {data}: make it from prepared data first, e.g. 'anonymize-train pack "
            f"--data {recipe.data} --out {data} --max-mb 55'",
            file=sys.stderr,
        )
        return 2
    quiet = ["--quiet"] if args.quiet else []
    if not complete:
        if not photos.is_dir():
            print(f"anonymize-train: no prepared data in {data} and no photos at {photos} (--photos)", file=sys.stderr)
            return 2
        argv = prepare_command(args.recipe, str(photos), str(data)) + ["--workers", str(args.workers)]
        detections = Path(args.detections) if args.detections else photos / "detections.json"
        if detections.is_file():
            argv += ["--detections", str(detections)]
        print("anonymize-train " + " ".join(argv), file=sys.stderr)
        code = main(quiet + argv)
        if code != 0:
            return code
        (data / ".complete").write_text("prepared by anonymize-train resume\n")
    state = Path(args.state or recipe.state)
    if recipe.start and not holds_state(state):
        print(f"recipe {args.recipe}: its first run starts from a copy of {recipe.start} in {state}", file=sys.stderr)
        try:
            copy_start(recipe.start, state)
        except ValueError as error:
            print(f"anonymize-train: {error}", file=sys.stderr)
            return 2
    if args.state is None and not holds_state(state):
        # A run that keeps going never starts again from random weights by accident (a state left the tree).
        print(
            f"anonymize-train: no compact state in {state} for recipe {args.recipe} to go on from: take it from the "
            f"repository's history (training/README.md), or name a state folder with --state (an empty one: "
            f"from random weights)",
            file=sys.stderr,
        )
        return 2
    overrides = {
        "state": str(state),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "device": args.device,
    }
    if args.minutes:
        overrides["minutes"] = args.minutes
    run = args.run or recipe.run
    (argv,) = train_commands(args.recipe, str(data), run, {k: v for k, v in overrides.items() if v is not None})
    print(f"recipe {args.recipe}: {recipe.description}", file=sys.stderr)
    print("anonymize-train " + " ".join(argv), file=sys.stderr)
    return main(quiet + argv)


def build_parser() -> argparse.ArgumentParser:
    from anonymizer.training.dataset import FACE_CHOICES, PrepareOptions
    from anonymizer.training.options import add_arguments

    prep = PrepareOptions()  # the defaults of 'prepare' (resolution, context and frame: the shipped generator's)
    from anonymizer.training.recipes import RECIPES, RESUMED

    parser = argparse.ArgumentParser(
        prog="anonymize-train",
        description="Retrain the face generator on your own photos.",
        epilog=(
            "example:\n"
            "  anonymize-train prepare --input my_faces/ --out data/mine\n"
            "  anonymize-train train --data data/mine --out runs/mine --steps 2000   # fine-tunes the shipped one\n"
            "  anonymize --input photos/ --out anon/ --method gan --weights runs/mine/generator.safetensors\n"
            "multi-GPU: torchrun --nproc_per_node=4 -m anonymizer.training.cli train ..."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="find, crop and mask the faces of a folder of photos")
    p.add_argument("--input", required=True, help="folder of photos (searched recursively)")
    p.add_argument("--out", required=True, help="dataset folder (created; an existing one is resumed)")
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        choices=(64, 128, 256),
        help="crop side (default: the shipped generator's)",
    )
    p.add_argument(
        "--context",
        type=float,
        default=None,
        help="crop side as a multiple of the face box (default: the shipped generator's)",
    )
    p.add_argument(
        "--frame",
        default=None,
        choices=("box", "aligned"),
        help="crops around the face box, or faces aligned on the template from their landmarks "
        "(default: the shipped generator's)",
    )
    p.add_argument(
        "--detections",
        default=None,
        metavar="REPORT.json",
        help="the faces of these photos as 'anonymize --report' wrote them: no detector pass for the photos it lists",
    )
    p.add_argument(
        "--min-face-size", type=float, default=prep.min_face_size, help="smallest face kept, in photo pixels"
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=prep.min_score,
        help="lowest detection score kept (the default detector's scale)",
    )
    p.add_argument(
        "--faces",
        default=prep.faces,
        choices=FACE_CHOICES,
        help="the largest face of each photo (one subject per photo), or every face that passes the filters",
    )
    p.add_argument(
        "--max-residual",
        type=float,
        default=None,
        help="aligned frame: the loosest fit to the template kept (default 0.25, as at inference; 0.45 keeps "
        "turned heads)",
    )
    p.add_argument("--val-fraction", type=float, default=prep.val_fraction, help="share held out for validation")
    p.add_argument("--limit", type=int, default=None, help="use at most this many photos (a seeded random subset)")
    p.add_argument("--workers", type=int, default=prep.workers, help="detection processes")
    p.set_defaults(func=_prepare)

    t = sub.add_parser("train", help="train the generator (resumes from OUT/checkpoint.pt)")
    t.add_argument("--data", required=True, help="a dataset folder made by 'prepare'")
    t.add_argument("--out", required=True, help="run folder: checkpoints, samples, losses, generator")
    add_arguments(t)  # every field of TrainOptions, its default and help from there
    t.set_defaults(func=_train)

    r = sub.add_parser(
        "recipe",
        help="train with a named recipe, phase by phase ('shipped': how the shipped generator was trained)",
    )
    r.add_argument("name", choices=tuple(RECIPES), help="the recipe (anonymizer/training/recipes.py)")
    r.add_argument("--data", required=True, help="a dataset folder made by 'prepare' (made first with --photos)")
    r.add_argument("--out", required=True, help="run folder")
    r.add_argument("--photos", default=None, help="prepare --data from this folder of photos first")
    r.add_argument("--steps", type=int, default=None, help="stop at this step (default: the recipe's last)")
    r.add_argument("--print", action="store_true", help="print the commands instead of running them")
    r.set_defaults(func=_recipe)

    u = sub.add_parser(
        "resume",
        help="the run that keeps going: prepare the data if missing, then train on from the compact state",
        description="Prepares the aligned 128 px dataset if it is missing (from --photos, with their detections "
        "file when there is one), then trains the recipe (by default the one the background run trains now): from "
        "--run's checkpoint if there is one, else from the compact state in --state, which every checkpoint (each "
        "10 minutes) replaces. Stop it with "
        "SIGTERM or Ctrl-C: it checkpoints first. training/resume.sh runs it in the background under nice -n 19.",
    )
    u.add_argument("--photos", default="../shared/data/faces", help="the face photos (default: %(default)s)")
    u.add_argument("--detections", default=None, help="their detections report (default: PHOTOS/detections.json)")
    u.add_argument("--data", default=None, help="the prepared dataset (default: the recipe's, e.g. data/aligned128)")
    u.add_argument(
        "--recipe",
        default=RESUMED,
        choices=[name for name, r in RECIPES.items() if r.state],
        help="the recipe to train on (default: %(default)s)",
    )
    u.add_argument("--run", default=None, help="run folder: full checkpoint, samples, losses (default: the recipe's)")
    u.add_argument("--state", default=None, help="the compact state (default: the recipe's)")
    u.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (default: never)")
    u.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    u.add_argument("--workers", type=int, default=2, help="preparation processes")
    u.add_argument("--batch-size", type=int, default=None, help="instead of the recipe's (a GPU takes more)")
    u.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    u.set_defaults(func=_resume)

    k = sub.add_parser("pack", help="write a prepared dataset as one small file of JPEG crops (to travel)")
    k.add_argument("--data", required=True, help="a dataset folder made by 'prepare'")
    k.add_argument("--out", required=True, help="the pack (.npz), which 'train --data' reads like the folder")
    k.add_argument("--max-mb", type=float, default=28.0, help="size budget; faces beyond it are left out")
    k.add_argument("--quality", type=int, default=90, help="JPEG quality of the crops")
    k.set_defaults(func=_pack)

    e = sub.add_parser(
        "export",
        help="write the EMA generator of a checkpoint as a weights file, and/or weights to ONNX",
        description="Write the EMA generator of a training checkpoint as a weights file (--checkpoint, --out), "
        "and with --onnx its ONNX export beside it (generator.onnx, recorded in generator.json), which anonymize "
        "runs on onnxruntime without torch. --weights --onnx exports existing weights.",
    )
    e.add_argument("--checkpoint", help="a training checkpoint (checkpoint.pt)")
    e.add_argument("--out", help="weights file to write from --checkpoint (.safetensors)")
    e.add_argument("--weights", help="existing weights (.safetensors) to export with --onnx")
    e.add_argument("--onnx", action="store_true", help="also write the ONNX export beside the weights")
    e.set_defaults(func=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    from anonymizer.device import TRAIN_EXTRA, torch_available

    if args.command != "recipe" and not torch_available():  # a recipe's steps each come back here
        print(
            f"anonymize-train: error: training needs PyTorch, which the light install leaves out: {TRAIN_EXTRA}",
            file=sys.stderr,
        )
        return 2
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"anonymize-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
