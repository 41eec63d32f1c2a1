"""Render the README's before/after examples: every method on the same photos.

    .venv/bin/python docs/make_examples.py

Writes ``docs/examples.jpg``: one row per photo (``samples/astronaut.jpg``, and
``../shared/data/photos/two_people.jpg`` when present), columns original |
gan | blur | pixelate | solid. GAN faces use seed 0.
"""

from __future__ import annotations

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
    anonymizers = {m: Anonymizer(method=m, seed=0) if m == "gan" else Anonymizer(method=m) for m in METHODS}
    detector = anonymizers["blur"].detector
    rows = []
    for path in (p for p in PHOTOS if p.is_file()):
        image = read_image(path).rgb
        faces = detector.detect(image)
        cells = [("original", image)] + [(m, anonymizers[m].anonymize(image, faces=faces).image) for m in METHODS]
        width = round(image.shape[1] * HEIGHT / image.shape[0])
        tiles = []
        for label, pixels in cells:
            tile = Image.fromarray(pixels).resize((width, HEIGHT), Image.LANCZOS)
            draw = ImageDraw.Draw(tile)
            draw.rectangle((0, 0, 8 * len(label) + 8, 16), fill=(0, 0, 0))
            draw.text((4, 2), label, fill=(255, 255, 255))
            tiles.append(np.asarray(tile))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out = ROOT / "docs" / "examples.jpg"
    Image.fromarray(np.concatenate(rows, axis=0)).save(out, quality=88)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
