"""Training speed of the generator (images per second) on this machine, with the real training loop.

    .venv/bin/anonymize-train prepare --input ../shared/data/faces --out data/faces64 --limit 2000
    .venv/bin/python benchmarks/training_speed.py --data data/faces64 --threads 1

Runs ``--steps`` optimisation steps of :func:`anonymizer.training.train.train`
in a temporary folder (after a few warm-up steps) and writes the figures to
``benchmarks/results/training_speed.json``. Nothing else should be running.
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

from anonymizer.training.train import TrainOptions, train

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a dataset folder made by 'anonymize-train prepare'")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=str(RESULTS / "training_speed.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        options = TrainOptions(
            steps=args.steps,
            batch_size=args.batch_size,
            checkpoint_every=args.steps,
            width=args.width,
            device=args.device,
            threads=args.threads,
        )
        start = time.perf_counter()
        train(Path(args.data), Path(tmp), options, progress=False)
        total = time.perf_counter() - start
        with open(Path(tmp) / "losses.csv") as f:
            speeds = [float(r["images_per_s"]) for r in csv.DictReader(f)]
    steady = speeds[1:] or speeds  # the first interval includes start-up
    result = {
        "images_per_s": round(sum(steady) / len(steady), 1),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "width": args.width,
        "seconds_total": round(total, 1),
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
