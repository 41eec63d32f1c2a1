"""Choose the hidden region of blur, pixelate and solid: faces hidden and pixels changed outside faces, per region.

Reproduce (from the repository root)::

    .venv/bin/python -m benchmarks.region_tune                       # the tune half; writes benchmarks/results/
    .venv/bin/python -m benchmarks.region_tune --half report --regions ellipse:1.3:0.12 rect:1.3:0.12

The detector (the default, or a tool of ``benchmarks/detection.py`` named by ``--detector``) runs once per
photo; each candidate region (``SHAPE:SCALE:FEATHER``: ``rect`` or ``ellipse``, the box grown ``SCALE`` times,
a fade band of ``FEATHER`` times the region's longer side, capped at ``MAX`` photo pixels where a fourth field
``:MAX`` gives one) is then filled solid through the pipeline, as ``anonymize --method solid --mask-shape SHAPE
--mask-scale SCALE`` does, and judged from the pixels as ``benchmarks/crowd.py`` judges the tools: a face is
hidden when 70% or more of its annotated box changed (a channel moved by 16 or more); *outside faces* is the
share of a photo's pixels changed outside every annotated box grown 1.6x, the mean over photos. Regions are
chosen on the ``tune`` half (``benchmarks/wider_split.py``); ``python -m benchmarks.crowd --half report`` gives
the figures of the one chosen.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from anonymizer.crops import Region
from anonymizer.pipeline import Anonymizer
from anonymizer.replacers import SolidReplacer
from benchmarks.common import ROOT, write_results
from benchmarks.crowd import Tally, changed_pixels, face_zone
from benchmarks.detection import BUCKETS, DEFAULT_DATA, load_photos, read_rgb, tool_spec, unmatched
from benchmarks.wider_split import HALVES, select_half

DEFAULT_REGIONS = (
    "rect:1.3:0.12",
    "rect:1.2:0.12",
    "rect:1.3:0.06",
    "ellipse:1.2:0.12",
    "ellipse:1.3:0.08",
    "ellipse:1.3:0.12",
    "ellipse:1.4:0.12",
)


STRAY_IOU = 0.2  # a find overlapping no annotated box this much is a stray: a false find or an unannotated face


def parse_region(text: str) -> Region:
    """``SHAPE:SCALE:FEATHER``, or ``SHAPE:SCALE:FEATHER:MAX`` with the fade band capped at MAX photo pixels."""
    shape, scale, feather, *cap = text.split(":")
    return Region(scale=float(scale), shape=shape, feather=float(feather), feather_max=float(cap[0]) if cap else None)


def score(photos: list, faces_of: dict, region: Region) -> dict:
    replacer = SolidReplacer()
    replacer.region = region  # the pipeline paints a replacer's own region when it has one
    pipeline = Anonymizer("solid", replacer=replacer)
    tally, stray = Tally(), []
    for photo in photos:
        image = read_rgb(photo.path)
        faces = list(faces_of[photo.name])
        tally.add(photo, changed_pixels(image, pipeline.anonymize(image, faces).image))
        boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
        others = [f for f, stray in zip(faces, unmatched(boxes, photo.faces, STRAY_IOU)) if stray]
        changed = changed_pixels(image, pipeline.anonymize(image, others, audit=False).image) if others else None
        stray.append(0.0 if changed is None else float(np.mean(changed & ~face_zone(photo, changed.shape))))
    return {**tally.result(), "outside_stray": statistics.fmean(stray) if stray else 0.0}


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"# Hidden region of blur, pixelate and solid ({s['half']} half)",
        "",
        f"Command: `{s['command']}`; {s['photos']} WIDER photos, {s['faces']} faces; {s['machine']}; {s['date']}.",
        "A face is hidden when >= 70% of its box's pixels changed (solid fill); *outside faces*: pixels changed "
        "outside every annotated box grown 1.6x, mean over photos; *of it, strays*: the same with only the finds "
        f"that overlap no annotated box (IoU < {STRAY_IOU:g}: false finds and faces nobody annotated) filled.",
        "",
        "| region | " + " | ".join(f"{b[0]} px" for b in BUCKETS) + " | outside faces | of it, strays |",
        "| --- | " + " | ".join("---:" for _ in BUCKETS) + " | ---: | ---: |",
    ]
    for label, row in result["regions"].items():
        cells = [f"{row['hidden_count'][b[0]]}/{row['faces'][b[0]]}" for b in BUCKETS]
        stray = f"{row['outside_stray']:.2%}" if "outside_stray" in row else "–"
        lines.append(f"| `{label}` | " + " | ".join(cells) + f" | {row['outside_faces']:.2%} | {stray} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--half", choices=HALVES, default="tune")
    ap.add_argument(
        "--regions", nargs="+", default=list(DEFAULT_REGIONS), help="SHAPE:SCALE:FEATHER, e.g. ellipse:1.3:0.12"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--name", default=None, help="results file name (default: region_tune_<half>)")
    ap.add_argument(
        "--detector", default="ours", help="a tool of benchmarks/detection.py (default: ours, the default detector)"
    )
    args = ap.parse_args(argv)
    regions = {text: parse_region(text) for text in args.regions}
    photos = select_half(load_photos(args.data), args.half)
    detector = tool_spec(args.detector)[0]("cpu")
    faces_of = {photo.name: detector.detect(read_rgb(photo.path)) for photo in photos}
    result = {
        "settings": {
            "half": args.half,
            "detector": args.detector,
            "photos": len(photos),
            "faces": int(sum(len(p.faces) for p in photos)),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "command": "python "
            + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])]),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "regions": {},
    }
    for label, region in regions.items():
        result["regions"][label] = score(photos, faces_of, region)
        print(label, result["regions"][label], file=sys.stderr, flush=True)
    name = args.name or f"region_tune_{args.half}"
    write_results(args.out, name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
