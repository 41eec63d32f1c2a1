"""Choosing the RetinaFace pass of the default detector: its score threshold, smallest face, and whether it also
runs on the photo turned, on the tune half of the WIDER photos and the hard sets made from it.

    .venv/bin/python -m benchmarks.retinaface_tune --half tune --out benchmarks/results/retinaface_tune.md

For every photo of each set (the photos as they are, ``--cut``, and ``benchmarks/detection.py``'s hard sets
upscale, dark and tilt, all from ``--half``), the default cascade runs once, and RetinaFace once on the photo
scaled to 640 px (upright) and on it scaled to 320 px and turned 90, 180 and 270 degrees, keeping every find
scored over 0.2. Each candidate setting then adds, as the cascade does with its own later passes, the finds
over its threshold and of at least its smallest size that overlap no face the cascade found (boxes grown 1.2x,
hidden as every face is: the box grown 1.3x, a rectangle), and is scored as ``benchmarks/detection.py`` scores
a tool: the share of faces hidden per size bucket (70 % of the face's box), false finds a photo, and the share
of a photo's pixels hidden outside every face. Nothing here is timed.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from anonymizer.crops import DEFAULT_MASK_SCALE, hidden_region
from anonymizer.detection import CascadeDetector
from anonymizer.detection.cascade import find_turned, new_faces
from anonymizer.detection.retinaface import RetinaFaceDetector
from benchmarks import detection as bench
from benchmarks.photo_sets import command_line, over_sets, write_results
from benchmarks.wider_split import HALVES, select_half

THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
MIN_SIZES = (16, 32, 64)
FLOOR = 0.2
GROW = 1.2


def retina_finds(net: RetinaFaceDetector, image: np.ndarray) -> dict[str, tuple]:
    """RetinaFace's finds over ``FLOOR``: upright at 640 px, and turned at 320 px, in the photo's pixels."""
    import cv2

    finds = {"upright": net.find(image, FLOOR)}
    f = min(1.0, 320 / max(image.shape[:2]))
    small = image if f == 1.0 else cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    turned = [(b / f, s, m / f) for b, s, m in find_turned(lambda im: net.net.find(im, FLOOR), small)]
    boxes, scores, marks = (list(parts) for parts in zip(*turned))
    finds["turned"] = (
        np.concatenate(boxes).reshape(-1, 4).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(marks).reshape(-1, 5, 2).astype(np.float32),
    )
    return finds


def score(tally: bench.Tally, photo: bench.Photo, faces: list, shape: tuple[int, int], zone: np.ndarray) -> None:
    boxes, cov = bench.face_coverage(photo.faces, faces)
    mask = np.zeros(shape, dtype=bool)
    for face in faces:
        bench.paint(mask, "rect", hidden_region(face.box, DEFAULT_MASK_SCALE).astype(np.float64))
    tally.add(photo, boxes, cov, 0.0)
    covered, outside = bench.damage(mask, zone)
    tally.covered.append(covered)
    tally.outside.append(outside)


def candidates() -> list[tuple[str, float, float, bool]]:
    rows = [("cascade alone", 1.1, 1e9, False)]
    for thr, size, turned in itertools.product(THRESHOLDS, MIN_SIZES, (False, True)):
        rows.append((f"+ upright > {thr:g}, >= {size} px" + (", + turned" if turned else ""), thr, size, turned))
    return rows


def run_set(photos: list[bench.Photo], cascade: CascadeDetector, net: RetinaFaceDetector) -> dict:
    tallies = {name: bench.Tally(name) for name, *_ in candidates()}
    for photo in photos:
        image = bench.read_rgb(photo.path)
        shape = image.shape[:2]
        zone = bench.face_zone(photo, shape)
        ours = cascade.detect(image)
        finds = retina_finds(net, image)
        known = np.asarray([f.box for f in ours], np.float32).reshape(-1, 4)
        for name, thr, size, turned in candidates():
            added = []
            for key in ("upright", "turned") if turned else ("upright",):
                b, s, m = finds[key]
                keep = s > thr
                now = np.concatenate([known, np.asarray([f.box for f in added], np.float32).reshape(-1, 4)])
                added += new_faces((b[keep], s[keep], m[keep]), now, size, GROW)
            score(tallies[name], photo, ours + added, shape, zone)
    return {name: t.summary() for name, t in tallies.items()}


def markdown(results: dict, command: str) -> str:
    lines = [
        "# The RetinaFace pass: candidates on the tune half",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d')}. Faces hidden (70 % of the box) per size, false finds a photo,",
        "pixels hidden outside faces a photo; each set's cascade row first.",
        "",
    ]
    for set_name, rows in results.items():
        first = next(iter(rows.values()))
        lines += [
            f"## {set_name} ({first['photos']} photos, {first['faces']} faces)",
            "",
            "| setting | 16-32 | 32-64 | >= 64 | false / photo | outside faces px |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, r in rows.items():
            cov = r["coverage_recall"]
            lines.append(
                f"| {name} | {bench._pct(cov['16-32'])} | {bench._pct(cov['32-64'])} | {bench._pct(cov['>=64'])} "
                f"| {r['false_per_photo']:.2f} | {100 * r['outside_faces_per_photo']:.2f} % |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=HALVES, default="tune")
    ap.add_argument("--sets", default="photos,cut,upscale,dark,tilt")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True, help="the markdown table (a .json beside it)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    photos = bench.pick(select_half(bench.load_photos(bench.DEFAULT_DATA), args.half), args.limit)
    cascade = CascadeDetector()
    net = RetinaFaceDetector(FLOOR, side=640)
    results = over_sets(args.sets, photos, lambda chosen: run_set(chosen, cascade, net))
    command = command_line("retinaface_tune", argv)
    write_results(args.out, markdown(results, command), command, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
