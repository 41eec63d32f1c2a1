"""The race's sheets side by side: the same held-out faces, at full size, painted by each generator.

Each curve row keeps a sheet of 16 held-out faces of 128 px and more for its own weights; this puts several
generators on the same faces with the same latent codes, one row a face: the original, then each
generator's painting, none resized, so that the sheets the race is decided by compare at a glance. The faces
are the curve's (``benchmarks/curve.py``): the seed-0 held-out sample, each photo's largest face found by the
default detector, the first ``--faces`` of at least 128 px.

    .venv/bin/python -m benchmarks.race_sheet --weights /tmp/aligned/generator.safetensors \\
        --weights training/aligned_pose/generator.safetensors --out /tmp/race_sheet

A state no longer in the tree is taken from the history first, its sidecar beside it, e.g. the aligned arm's at
5,160,640 images: ``mkdir -p /tmp/aligned && for f in generator.safetensors generator.json; do git show
c5bba57:training/aligned/$f > /tmp/aligned/$f; done`` (the projected arm's: ``b3fd831:training/aligned_projected``).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

from benchmarks.quality_metrics import DATA, LARGE_MIN_SIZE


def face_row(crops: list[np.ndarray], labels: list[str], gap: int = 4) -> np.ndarray:
    """The crops side by side (as they are, on white, ``gap`` px apart), each label under its crop."""
    from benchmarks.quality_sheets import _label

    cells = [_label(c, text) for c, text in zip(crops, labels)]
    height = max(c.shape[0] for c in cells)
    width = sum(c.shape[1] for c in cells) + gap * (len(cells) - 1)
    row = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for c in cells:
        row[: c.shape[0], x : x + c.shape[1]] = c
        x += c.shape[1] + gap
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", action="append", required=True, help="a generator (repeat: one column each)")
    p.add_argument("--faces", type=int, default=16, help=f"held-out faces of >= {LARGE_MIN_SIZE} px (default 16)")
    p.add_argument("--limit", type=int, default=1200, help="held-out photos looked through (the curve's sample)")
    p.add_argument("--faces-dir", default=str(DATA / "faces"))
    p.add_argument("--seed", type=int, default=0, help="the generators' latent codes")
    p.add_argument("--out", required=True, help="folder for race_sheet_NN.jpg")
    args = p.parse_args(argv)

    from PIL import Image
    from tqdm import tqdm

    from anonymizer.imageio import ImageReadError, read_image
    from anonymizer.pipeline import Anonymizer
    from benchmarks.quality_data import heldout_photos
    from benchmarks.quality_sheets import full_size_crop
    from benchmarks.turned_heads import pack_sheets

    base = Anonymizer(method="blur")
    painters = [Anonymizer(method="gan", detector=base.detector, weights=w, seed=args.seed) for w in args.weights]
    names = [Path(w).parent.name or Path(w).stem for w in args.weights]
    rows: list[np.ndarray] = []
    bar = tqdm(heldout_photos(Path(args.faces_dir), args.limit, 0), unit="photo", desc="race sheet")
    for photo in bar:
        if len(rows) >= args.faces:
            break
        try:
            image = read_image(photo.path).rgb
        except ImageReadError:
            continue
        faces = base.detect(image)
        if not faces:
            continue
        at = int(np.argmax([f.size for f in faces]))
        big = faces[at]
        if big.size < LARGE_MIN_SIZE:
            continue
        crops = [full_size_crop(image, big.box)]
        labels = [f"{photo.rel}, {big.size:.0f} px"]
        for name, painter in zip(names, painters):
            given = copy.deepcopy(faces)  # the pipeline fills in each face's .method
            out = painter.anonymize(image, faces=given).image
            crops.append(full_size_crop(out, big.box))
            labels.append(name if given[at].method == "gan" else f"{name} ({given[at].method}: declined)")
        rows.append(face_row(crops, labels))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    # width=1: no two faces share a line; as many lines a sheet as fit in 1,100 px
    for i, sheet in enumerate(pack_sheets(rows, width=1, height=1100)):
        Image.fromarray(sheet).save(out_dir / f"race_sheet_{i:02d}.jpg", quality=92, subsampling=0)
    print(f"{len(rows)} faces -> {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
