"""Does the generator paint a different face for each latent code, or one face whatever the code?

    .venv/bin/python -m benchmarks.diversity --data data/faces128 --weights training/aligned_pose/generator.safetensors [more ...]

A generator that ignores its code paints the mean face the L1 term pulls it
to: the same smeared face for everyone, and the same "new person" every time a
person is anonymized. For ``--faces`` validation crops of a prepared dataset
(at each generator's resolution and context; every k-th crop, so all face sets
are in), each generator paints the replaced region twice, with two seeded
codes, and dlib describes the two paintings and the original (5-point
alignment, ResNet descriptor, at the crop's face box). Reported per weights file:

* ``pixel``: the mean absolute difference of the two paintings inside the
  region, in grey levels (0 when the code is ignored);
* ``between_draws``: dlib's mean distance between the two paintings of a crop;
  ``same_across_draws``: the share of crops whose two paintings are within
  dlib's same-person distance (0.6): one identity whatever the code;
* ``to_original``: dlib's mean distance from each painting to the real face;
* ``other_person``: the reference, dlib's mean distance between the real faces
  of two different crops (a derangement), what "another person" measures here.

Writes ``benchmarks/results/diversity.json`` (``--out``); nothing is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from anonymizer.models.config import painted_landmarks
from anonymizer.models.io import load_generator, read_info

from anonymizer.gan import region_of
from anonymizer.training.dataset import identity_group, load_dataset
from anonymizer.training.train import to_tensors
from benchmarks.common import ROOT
from benchmarks.quality import SAME_PERSON, Recognizer, derangement


def paint(generator, real: torch.Tensor, mask: torch.Tensor, landmarks: torch.Tensor, seed: int) -> np.ndarray:
    """The composites (N x R x R x 3 uint8) painted with codes drawn from ``seed``."""
    z = torch.randn(real.shape[0], generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = generator.inpaint(real, mask, landmarks, z)
    return ((out.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def describe(recognizer: Recognizer, images: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([recognizer.descriptors(image, [box]) for image, box in zip(images, boxes)])


def measure(weights: Path, data: Path, faces: int, seeds: tuple[int, int], recognizer: Recognizer) -> dict:
    generator = load_generator(weights)
    arrays = load_dataset(data, "val", region_of(generator.config))
    if arrays.images.shape[1] != generator.config.resolution:
        raise SystemExit(
            f"{data} holds {arrays.images.shape[1]} px crops; {weights.name} paints {generator.config.resolution}"
        )
    index = np.linspace(0, len(arrays) - 1, min(faces, len(arrays))).round().astype(int)
    real, mask, landmarks = to_tensors(arrays, index, "cpu")
    landmarks = painted_landmarks(generator.config, landmarks)  # as in training and inference (the template's)
    first, second = (
        np.concatenate(
            [
                paint(generator, real[i : i + 32], mask[i : i + 32], landmarks[i : i + 32], s)
                for i in range(0, len(index), 32)
            ]
        )
        for s in seeds
    )
    region = arrays.masks[index] > 0
    pixel = np.abs(first.astype(np.int16) - second.astype(np.int16))[region].mean()
    boxes = arrays.boxes[index]
    original = describe(recognizer, arrays.images[index], boxes)
    a, b = describe(recognizer, first, boxes), describe(recognizer, second, boxes)
    between = np.linalg.norm(a - b, axis=1)
    to_original = np.concatenate([np.linalg.norm(a - original, axis=1), np.linalg.norm(b - original, axis=1)])
    groups = [identity_group(str(f)) for f in arrays.files[index]]
    other = np.linalg.norm(original - original[derangement(groups, seed=0)], axis=1)
    info = read_info(weights).get("training", {})
    return {
        "weights": str(weights),
        "steps": info.get("steps"),
        "faces": int(len(index)),
        "pixel": round(float(pixel), 2),
        "between_draws": round(float(between.mean()), 4),
        "same_across_draws": round(float((between < SAME_PERSON).mean()), 4),
        "to_original": round(float(to_original.mean()), 4),
        "other_person": round(float(other.mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a prepared dataset (its validation split is used)")
    ap.add_argument("--weights", type=Path, nargs="+", required=True)
    ap.add_argument("--faces", type=int, default=300, help="validation crops, spread over the split")
    ap.add_argument("--seeds", type=int, nargs=2, default=(1, 2), help="seeds of the two draws of codes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "diversity.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    recognizer = Recognizer()
    rows = [measure(w, args.data, args.faces, tuple(args.seeds), recognizer) for w in args.weights]
    command = "python -m benchmarks.diversity " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
