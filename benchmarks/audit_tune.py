"""The audit's thresholds, and what it catches: on the WIDER photos of ``--half`` and the hard sets made from
them, the faces the main pass leaves visible, and how many of them the audit hides or flags, against its false
flags a photo.

    .venv/bin/python -m benchmarks.audit_tune --half tune --out benchmarks/results/audit_tune.md
    .venv/bin/python -m benchmarks.audit_tune --half report --only 0.6:0.9:0.5 --out benchmarks/results/audit_report.md

For every photo: the default detector finds the faces, the default method (blur) hides them with the audit off,
and the audit's search (``anonymizer.audit``: RetinaFace upright at 640 px and turned at 320 px) runs once on
that output, keeping every find over 0.2. A face of 16 px or more counts as left visible when less than 70 % of
its box lies in the regions hidden (``benchmarks/detection.py``'s measure). Each candidate (FLAG:HIDE:INSIDE: flag a
residual scored FLAG or more, hide it at HIDE or more; a find with INSIDE of its box or more within one hidden
region is that face, already hidden) then gives: the share of the visible faces it catches
(a residual at IoU 0.3 or more with the face, or whose hidden region covers 70 % of it), the share it hides,
and its residuals that match no annotated face (invalid ones included), flagged and hidden, a photo.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from anonymizer.audit import INSIDE, MIN_SIZE, _RetinaFaceSearch, inside_share
from anonymizer.boxes import box_sizes
from anonymizer.crops import DEFAULT_MASK_SCALE, hidden_region
from anonymizer.detection import box_iou, make_detector
from anonymizer.pipeline import Anonymizer
from benchmarks import detection as bench
from benchmarks.photo_sets import command_line, over_sets, write_results
from benchmarks.wider_split import HALVES, select_half

FLAGS = (0.3, 0.4, 0.5, 0.6, 0.7)
HIDES = (0.8, 0.9, 0.95)
INSIDES = (0.5, 0.8, 0.95)  # a find this share inside one hidden region is that face, hidden
FLOOR = 0.2


def main_pass(photo: bench.Photo, anonymizer: Anonymizer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The photo anonymized by ``anonymizer`` (the audit off), the regions it hid, the annotated faces of
    ``MIN_SIZE`` px or more it left visible (under ``bench.COVER`` of the box hidden), and every annotated box,
    ignored ones included (boxes as float32 rows)."""
    result = anonymizer.anonymize(bench.read_rgb(photo.path))
    regions = np.array([hidden_region(f.box, DEFAULT_MASK_SCALE) for f in result.faces], np.float32).reshape(-1, 4)
    sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
    cover = np.array([max((bench.rect_coverage(gt, r) for r in regions), default=0.0) for gt in photo.faces])
    visible = photo.faces[(sizes >= MIN_SIZE) & (cover < bench.COVER)].astype(np.float32).reshape(-1, 4)
    every = np.concatenate([photo.faces, photo.ignored]).reshape(-1, 4).astype(np.float32)
    return result.image, regions, visible, every


def photo_facts(photo: bench.Photo, anonymizer: Anonymizer, search: _RetinaFaceSearch) -> dict:
    image, regions, visible, every = main_pass(photo, anonymizer)
    boxes, scores, _ = search.find(image, FLOOR)
    keep = (box_sizes(boxes) >= MIN_SIZE) & (inside_share(boxes, regions) < max(INSIDES))
    return {
        "visible": visible,
        "boxes": boxes[keep],
        "scores": scores[keep],
        "inside": inside_share(boxes[keep], regions),
        "every": every,
    }


def tally(facts: list[dict], flag: float, hide: float, inside: float = INSIDE) -> dict:
    visible = caught = hidden = false_flags = false_hides = 0
    for f in facts:
        sel = (f["scores"] >= flag) & (f["inside"] < inside)
        boxes, scores = f["boxes"][sel], f["scores"][sel]
        visible += len(f["visible"])
        for gt in f["visible"]:
            iou = box_iou(gt[None].astype(np.float32), boxes)[0] if len(boxes) else np.zeros(0)
            cov = np.array([bench.rect_coverage(gt, hidden_region(b, DEFAULT_MASK_SCALE)) for b in boxes])
            hit = (iou >= 0.3) | (cov >= bench.COVER)
            caught += int(hit.any())
            hidden += int(((cov >= bench.COVER) & (scores >= hide)).any())
        if len(boxes):
            stray = (
                (box_iou(boxes, f["every"]).max(axis=1) < bench.FALSE_IOU)
                if len(f["every"])
                else np.ones(len(boxes), bool)
            )
            false_flags += int((stray & (scores < hide)).sum())
            false_hides += int((stray & (scores >= hide)).sum())
    n = max(1, len(facts))
    return {
        "flag": flag,
        "hide": hide,
        "inside": inside,
        "photos": len(facts),
        "visible_faces": visible,
        "caught": caught / visible if visible else None,
        "hidden": hidden / visible if visible else None,
        "false_flags_per_photo": false_flags / n,
        "false_hides_per_photo": false_hides / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=HALVES, default="tune")
    ap.add_argument("--sets", default="photos,cut,upscale,dark,tilt")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--only", default=None, help="one candidate FLAG:HIDE:INSIDE (the chosen one, on the report half)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    photos = bench.pick(select_half(bench.load_photos(bench.DEFAULT_DATA), args.half), args.limit)
    anonymizer = Anonymizer(method="blur", detector=make_detector("default"), audit="off")
    search = _RetinaFaceSearch()
    grid = (
        [tuple(float(v) for v in args.only.split(":"))] if args.only else list(itertools.product(FLAGS, HIDES, INSIDES))
    )

    def run(chosen: list) -> list[dict]:
        facts = [photo_facts(p, anonymizer, search) for p in chosen]
        return [tally(facts, *candidate) for candidate in grid]

    results = over_sets(args.sets, photos, run)
    command = command_line("audit_tune", argv)
    lines = [
        f"# The audit on the {args.half} half and its hard sets",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d')}. Faces of 16 px or more the main pass (default detector, blur)",
        "leaves visible; the share the audit catches (flags or hides) and hides; its residuals on no face, a photo.",
        "",
    ]
    for set_name, rows in results.items():
        lines += [
            f"## {set_name} ({rows[0]['photos']} photos, {rows[0]['visible_faces']} faces left visible)",
            "",
            "| flag at | hide at | inside | caught | hidden | false flags / photo | false hides / photo |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            lines.append(
                f"| {r['flag']:g} | {r['hide']:g} | {r['inside']:g} | {bench._pct(r['caught'])} | {bench._pct(r['hidden'])} "
                f"| {r['false_flags_per_photo']:.2f} | {r['false_hides_per_photo']:.2f} |"
            )
        lines.append("")
    write_results(args.out, "\n".join(lines), command, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
