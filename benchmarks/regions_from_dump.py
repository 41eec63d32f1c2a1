"""Score more candidate face regions on detections that ``detection.py --dump`` saved, without detecting again.

    .venv/bin/python -m benchmarks.detection --tools ours,deface --regions ellipse:1.4 --dump /tmp/boxes.json
    .venv/bin/python -m benchmarks.regions_from_dump /tmp/boxes.json ellipse:1.35 rect:1.25 \\
        --out benchmarks/results/regions_extra.json

A face counts as hidden, as in ``detection.py``, when one detection's region
covers >= 70 % of its annotated box; buckets by the box's longer side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks import detection as bench


def score(photos: dict, detections: dict, spec: bench.RegionSpec) -> dict:
    hidden = {b[0]: 0 for b in bench.BUCKETS}
    total = dict(hidden)
    for name, dets in detections.items():
        photo = photos[name]
        shapes = [spec.shape(np.asarray(d[:4], np.float32), np.zeros((5, 2), np.float32)) for d in dets]
        cover = bench.shapes_coverage(photo.faces, shapes) if shapes else np.zeros((len(photo.faces), 0))
        best = cover.max(axis=1) if cover.size else np.zeros(len(photo.faces))
        sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
        for size, share in zip(sizes, best):
            bucket = next(b[0] for b in bench.BUCKETS if b[1] <= size < b[2])
            total[bucket] += 1
            hidden[bucket] += int(share >= bench.COVER)
    return {"hidden": hidden, "faces": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", type=Path, help="the JSON that detection.py --dump wrote")
    ap.add_argument("regions", nargs="+", help="KIND:SCALE, as detection.py --regions takes them")
    ap.add_argument("--of", default="ours", help="whose detections")
    ap.add_argument("--data", type=Path, default=bench.DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    photos = {p.name: p for p in bench.load_photos(args.data)}
    detections = json.loads(args.dump.read_text())[args.of]
    result = {spec: score(photos, detections, bench.RegionSpec.parse(spec)) for spec in args.regions}
    for spec, row in result.items():
        print(spec, " ".join(f"{k}: {row['hidden'][k]}/{row['faces'][k]}" for k in row["hidden"]))
    if args.out:
        args.out.write_text(json.dumps({"dump": str(args.dump), "of": args.of, "regions": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
