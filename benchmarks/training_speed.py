"""Training speed of the generator (images per second) on this machine: the whole training step of a recipe
(generator and discriminator, forward and backward, Adam, EMA), through the real training loop.

    .venv/bin/anonymize-train prepare --input ../shared/data/faces --out data/aligned128 --resolution 128 \\
        --frame aligned --detections ../shared/data/faces/detections.json --min-face-size 40 --workers 2
    .venv/bin/python -m benchmarks.training_speed --data data/aligned128 --threads 2

Runs ``--steps`` steps of the ``--recipe`` (default ``aligned``, the run that keeps going; see
``anonymizer/training/recipes.py``) in a temporary folder, once per precision asked for (``--precision``:
``auto`` is bf16 autocast where the CPU has bf16 instructions, else fp32; ``fp32`` and ``bf16`` force one),
and writes the figures, with the CPU's model and bf16 flags, to ``benchmarks/results/training_speed.json``.
The first logged interval (start-up) is left out. Nothing else should be running: pause the background run
(``kill -STOP``) while this runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from anonymizer.training.cli import main as train_cli
from anonymizer.training.recipes import train_commands
from anonymizer.training.train import cpu_has_bf16

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_facts() -> dict:
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def measure(recipe: str, data: str, steps: int, threads: int | None, precision: str, extra: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {**(extra or {}), "steps": steps, "checkpoint_every": steps}
        if threads:
            overrides["threads"] = threads
        argv = train_commands(recipe, data, tmp, overrides)[-1]
        if precision == "fp32":
            argv.append("--no-amp")
        elif precision == "bf16":
            os.environ["ANONYMIZER_FORCE_BF16"] = "1"
        start = time.perf_counter()
        try:
            code = train_cli(["--quiet", *argv])
        finally:
            os.environ.pop("ANONYMIZER_FORCE_BF16", None)
        total = time.perf_counter() - start
        if code:
            raise SystemExit(f"training failed ({code}): {' '.join(argv)}")
        with open(Path(tmp) / "losses.csv") as f:
            speeds = [float(r["images_per_s"]) for r in csv.DictReader(f)]
    steady = speeds[1:] or speeds  # the first interval includes start-up
    return {
        "precision": precision if precision != "auto" else ("bf16" if cpu_has_bf16() else "fp32"),
        "images_per_s": round(sum(steady) / len(steady), 1),
        "steps": steps,
        "seconds_total": round(total, 1),
        "command": "anonymize-train " + " ".join(argv),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a dataset made by 'anonymize-train prepare' for the recipe")
    parser.add_argument("--recipe", default="aligned", help="the recipe whose step is timed (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--precision", default="auto", help="comma-separated: auto, fp32, bf16")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FLAG=VALUE",
        help="a recipe option changed for this measure, e.g. --set=--projected-scales=4 (repeatable)",
    )
    parser.add_argument("--note", default="", help="what else was running (recorded as is)")
    parser.add_argument("--out", default=str(RESULTS / "training_speed.json"))
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    extra = dict(item.split("=", 1) for item in args.set)
    runs = [measure(args.recipe, args.data, args.steps, args.threads, p, extra) for p in args.precision.split(",")]
    result = {
        "recipe": args.recipe,
        "changed": extra,
        "runs": runs,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        **cpu_facts(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "note": args.note,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
