"""Colour fidelity of generated faces on held-out crops: is there a colour cast?

    .venv/bin/anonymize-train prepare --input ../shared/data/faces --out data/faces64
    .venv/bin/python -m benchmarks.colour_bias --data data/faces64 --weights weights/generator.safetensors [more.safetensors ...]

For up to ``--faces`` validation crops of a prepared dataset (every third one,
so all three face sets are in), each generator paints the replaced region with
fixed latents. Per face, the mean colour of the region is compared with the
real face's. Reported per weights file, in grey levels (0-255):

* ``bias_rgb``: the mean signed difference per channel (a cast: e.g. red
  negative and blue positive is cyan);
* ``mean_colour_error``: the mean absolute difference of the per-face mean
  colours (skin tone and light off, whatever the direction);
* ``l1``: the mean absolute pixel difference inside the region (lower is
  closer to the real face; not a goal in itself, a generated face should differ);
* ``chroma_ratio``: how colourful the new faces are against the real ones, the
  mean chroma (max - min channel per pixel) inside the region, generated over
  real: below 1 is greyer (washed-out skin);
* ``contrast_ratio``: the spread of brightness inside the region (std of luma
  per face), generated over real: below 1 is flatter (a ghostly face).

Writes ``benchmarks/results/colour_bias.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from anonymizer.models.io import load_generator, read_info
from anonymizer.models.networks import condition

from anonymizer.gan import region_of
from anonymizer.training.dataset import load_dataset
from anonymizer.training.train import masked_l1, mean_colour_difference, to_tensors
from benchmarks.common import ROOT


def colour_stats(generated: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> dict:
    """Colour bias, mean-colour error and L1 of ``generated`` against ``real`` inside ``mask`` (tensors in -1..1).

    The same measures as the training losses (``--colour-weight``, ``--rec-weight``), in grey levels.
    """
    diff = mean_colour_difference(generated, real, mask)  # per face and channel
    scale = 127.5
    return {
        "bias_rgb": [round(float(v) * scale, 2) for v in diff.mean(0)],
        "mean_colour_error": round(float(diff.abs().mean()) * scale, 2),
        "l1": round(float(masked_l1(generated, real, mask)) * scale, 2),
        "chroma_ratio": round(_mean_chroma(generated, mask) / max(_mean_chroma(real, mask), 1e-6), 3),
        "contrast_ratio": round(_luma_spread(generated, mask) / max(_luma_spread(real, mask), 1e-6), 3),
    }


def _mean_chroma(images: torch.Tensor, mask: torch.Tensor) -> float:
    chroma = images.amax(1, keepdim=True) - images.amin(1, keepdim=True)
    return float((chroma * mask).sum() / mask.sum().clamp(min=1))


def _luma_spread(images: torch.Tensor, mask: torch.Tensor) -> float:
    """The mean over faces of the std of luma inside the mask."""
    luma = images.mean(1, keepdim=True)
    area = mask.sum((1, 2, 3)).clamp(min=1)
    mean = (luma * mask).sum((1, 2, 3)) / area
    var = (((luma - mean[:, None, None, None]) ** 2) * mask).sum((1, 2, 3)) / area
    return float(var.sqrt().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a dataset folder made by 'anonymize-train prepare'")
    parser.add_argument("--weights", nargs="+", required=True, help="generator weights files to compare")
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "colour_bias.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    # The masks of the first generator's region: the weights compared paint different regions only
    # if their configs say so, and then each would need its own masks; this compares like with like.
    val = load_dataset(Path(args.data), "val", region_of(load_generator(Path(args.weights[0])).config))
    index = np.arange(0, len(val), 3)[: args.faces]
    real, mask, landmarks = to_tensors(val, index, "cpu")
    z = torch.randn(len(index), 128, generator=torch.Generator().manual_seed(args.seed))
    results = []
    for path in args.weights:
        generator = load_generator(Path(path))
        with torch.no_grad():
            generated = generator(condition(real, mask, landmarks), z[:, : generator.config.latent_dim])
        row = {
            "weights": path,
            "training": read_info(Path(path)).get("training"),
            **colour_stats(generated, real, mask),
        }
        results.append(row)
        print(json.dumps(row))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"data": str(args.data), "faces": len(index), "seed": args.seed, "results": results}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
