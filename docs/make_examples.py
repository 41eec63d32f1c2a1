"""Render the README's before/after examples: every method on the same photos.

    .venv/bin/python docs/make_examples.py
    .venv/bin/python docs/make_examples.py --weights training/aligned_pose/generator.safetensors \
        --out docs/examples_aligned.jpg --methods gan --height 0   # the generator in training, at full size

Writes ``docs/examples.jpg``: one row per photo (``samples/astronaut.jpg``, and
``../shared/data/photos/two_people.jpg`` when present), columns original |
gan | blur | pixelate | solid. GAN faces use seed 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from anonymizer import Anonymizer
from anonymizer.imageio import read_image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = [ROOT / "samples" / "astronaut.jpg", ROOT.parent / "shared" / "data" / "photos" / "two_people.jpg"]
METHODS = ["gan", "blur", "pixelate", "solid"]
HEIGHT = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="generator weights for gan (default: the shipped ones)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--height", type=int, default=HEIGHT, help="row height in px; 0: the photos' own size")
    parser.add_argument("--out", default=str(ROOT / "docs" / "examples.jpg"))
    args = parser.parse_args()
    methods = args.methods.split(",")
    anonymizers = {
        m: Anonymizer(method=m, seed=0, weights=args.weights) if m == "gan" else Anonymizer(method=m) for m in methods
    }
    anonymizers.setdefault("blur", Anonymizer(method="blur"))
    detector = anonymizers["blur"].detector
    rows = []
    for path in (p for p in PHOTOS if p.is_file()):
        image = read_image(path).rgb
        faces = detector.detect(image)
        cells = [("original", image)] + [(m, anonymizers[m].anonymize(image, faces=faces).image) for m in methods]
        height = args.height or image.shape[0]
        width = round(image.shape[1] * height / image.shape[0])
        tiles = []
        for label, pixels in cells:
            tile = Image.fromarray(pixels).resize((width, height), Image.LANCZOS)
            draw = ImageDraw.Draw(tile)
            draw.rectangle((0, 0, 8 * len(label) + 8, 16), fill=(0, 0, 0))
            draw.text((4, 2), label, fill=(255, 255, 255))
            tiles.append(np.asarray(tile))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out = Path(args.out)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out, quality=88)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
