"""Choose the default cascade's BlazeFace pass (model, score threshold, box growth) on the tune half.

    /tmp/bfconv/bin/python models/convert_blazeface.py --model full_range --out /tmp   # not shipped
    .venv/bin/python -m benchmarks.blazeface_tune --full-range /tmp/blazeface_full_range.onnx \
        --out benchmarks/results/blazeface_tune.json
    .venv/bin/python -m benchmarks.blazeface_tune --full-range /tmp/blazeface_full_range.onnx --cut \
        --thresholds 0.3,0.4,0.5,0.6,0.7 --out benchmarks/results/blazeface_tune_cut.json

Each tune photo of ``benchmarks/detection.py``'s WIDER set is run once through the default cascade and once
through each BlazeFace model at a low threshold; every candidate setting then keeps the BlazeFace finds over
its threshold, of ``--min`` px or more, that overlap no cascade face (as
:class:`~anonymizer.detection.cascade.CascadeDetector` does with ``blazeface``), and is scored like
``benchmarks/detection.py`` scores a tool: faces hidden by size bucket, false detections and pixels changed
outside faces per photo. Only the tune half is read: the report half is left for ``benchmarks/detection.py``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from anonymizer.crops import DEFAULT_MASK_SCALE, hidden_region
from anonymizer.detection import CascadeDetector
from anonymizer.detection.blazeface import BlazeFace
from anonymizer.detection.cascade import new_faces
from benchmarks.detection import (
    DEFAULT_DATA,
    Tally,
    cut_photos,
    damage,
    face_coverage,
    face_zone,
    load_photos,
    paint,
    read_rgb,
)
from benchmarks.wider_split import select_half

LOW = 0.3  # BlazeFace finds are kept from this score; candidates raise it


def score(tally: Tally, photo, faces: list, shape: tuple[int, int], seconds: float) -> None:
    boxes, cov = face_coverage(photo.faces, faces)
    mask = np.zeros(shape, dtype=bool)
    for face in faces:
        paint(mask, "rect", hidden_region(face.box, DEFAULT_MASK_SCALE).astype(np.float64))
    tally.add(photo, boxes, cov, seconds)
    covered, outside = damage(mask, face_zone(photo, shape))
    tally.covered.append(covered)
    tally.outside.append(outside)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, required=True, help="JSON file for the candidates' figures")
    ap.add_argument("--limit", type=int, default=None, help="only the first N tune photos")
    ap.add_argument("--min", type=float, default=64.0, help="smallest BlazeFace face kept (px)")
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--grows", default="1.1,1.3,1.5")
    ap.add_argument("--full-range", default=None, help="the full-range model's ONNX file, to try it too")
    ap.add_argument("--cut", action="store_true", help="cut each photo through its largest face, as detection.py")
    args = ap.parse_args(argv)
    photos = select_half(load_photos(args.data), "tune")[: args.limit]
    if args.cut:
        import tempfile

        photos = cut_photos(photos, Path(tempfile.mkdtemp(prefix="cut-")))
    cascade = CascadeDetector()
    nets = {"short_range": BlazeFace("short_range")}
    if args.full_range:
        nets["full_range"] = BlazeFace("full_range", args.full_range)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    grows = [float(g) for g in args.grows.split(",")]
    names = ["default"] + [f"{m}:{t:g}:{g:g}" for m, t, g in itertools.product(nets, thresholds, grows)]
    tallies = {n: Tally(n) for n in names}
    started = time.time()
    for k, photo in enumerate(photos):
        image = read_rgb(photo.path)
        shape = image.shape[:2]
        t0 = time.perf_counter()
        base = cascade.detect(image)
        base_s = time.perf_counter() - t0
        score(tallies["default"], photo, base, shape, base_s)
        known = np.asarray([f.box for f in base], np.float32).reshape(-1, 4)
        for m, net in nets.items():
            t0 = time.perf_counter()
            boxes, scores, marks = net.find(image, LOW)
            bf_s = time.perf_counter() - t0
            for t, g in itertools.product(thresholds, grows):
                over = scores > t
                extra = new_faces((boxes[over], scores[over], marks[over]), known, args.min, g)
                score(tallies[f"{m}:{t:g}:{g:g}"], photo, base + extra, shape, base_s + bf_s)
        if (k + 1) % 25 == 0:
            print(f"{k + 1}/{len(photos)} photos, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    result = {
        "photos": len(photos),
        "half": "tune",
        "cut": args.cut,
        "min": args.min,
        "command": "python -m benchmarks.blazeface_tune " + " ".join(argv if argv is not None else sys.argv[1:]),
        "candidates": {n: t.summary() for n, t in tallies.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("| candidate | 16-32 | 32-64 | >=64 | <16 | false / photo | outside px / photo |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, s in result["candidates"].items():
        h, tot = s["hidden_per_bucket"], s["faces_per_bucket"]
        cells = [f"{h[b]}/{tot[b]}" for b in ("16-32", "32-64", ">=64", "<16")]
        print(
            f"| {n} | "
            + " | ".join(cells)
            + f" | {s['false_per_photo']:.3f} | {100 * s['outside_faces_per_photo']:.2f}% |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
