"""What any second look could catch: of the faces the main pass leaves visible, the share that some low-score
search finds at all, pass by pass, and the false finds a photo a verifier of those finds would have to reject.

    .venv/bin/python -m benchmarks.audit_ceiling --half tune --limit 60 --out benchmarks/results/audit_ceiling_tune.md

For every photo of ``--half`` (``--limit`` of them, spread over the events) and each hard set made from them: the
default detector finds the faces and blur hides them (the audit off), as in ``benchmarks/audit_tune.py``; a face
of 16 px or more counts as left visible when less than 70 % of its box lies in the regions hidden. The
anonymized image is then searched at score 0.05 by each pass: RetinaFace at 640 px upright and at 320 px turned
90, 180 and 270 degrees; CenterFace on the image itself, at 320 px upright, turned the same three ways, and
turned 45, 135, 225 and 315 degrees. Finds of 16 px or more with less than half their box inside one hidden
region are kept. A visible face is *reached* by a pass when one of its finds overlaps it at IoU 0.3 or more. The
share reached by any pass is the most that an audit which checks these finds (with a better judge of what is a
face than the detectors' own scores) could catch; *false* counts the finds a photo that overlap no annotated
face, which such a judge would have to reject.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from anonymizer.audit import inside_share
from anonymizer.boxes import box_sizes
from anonymizer.detection import box_iou, make_detector
from anonymizer.detection.cascade import DIAGONALS, find_turned, rotate, rotate_back
from anonymizer.detection.retinaface import RetinaFaceDetector
from anonymizer.imageio import scaled_down
from anonymizer.pipeline import Anonymizer
from benchmarks import detection as bench
from benchmarks.audit_tune import main_pass
from benchmarks.photo_sets import command_line, over_sets, write_results
from benchmarks.wider_split import HALVES, select_half

FLOOR = 0.05
MIN_SIZE = 16
PASSES = ("retina640", "retina320turned", "cf_full", "cf320", "cf320turned", "cf320diagonal")


def _joined(found: list) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b, _, _ in found])
    return boxes, np.concatenate([np.asarray(s, np.float32).reshape(-1) for _, s, _ in found])


def searches(image: np.ndarray, retina: RetinaFaceDetector, centerface) -> dict[str, np.ndarray]:
    """Each pass's boxes at :data:`FLOOR`, in the image's pixels."""
    small, f = scaled_down(image, 320)
    diagonal = []
    for angle in DIAGONALS:
        turned, back = rotate(small, angle)
        diagonal.append(rotate_back(centerface.find(turned, FLOOR), back))
    return {
        "retina640": retina.find(image, FLOOR)[0],
        "retina320turned": _joined(find_turned(lambda im: retina.net.find(im, FLOOR), small))[0] / f,
        "cf_full": centerface.find(image, FLOOR)[0],
        "cf320": centerface.find(small, FLOOR)[0] / f,
        "cf320turned": _joined(find_turned(lambda im: centerface.find(im, FLOOR), small))[0] / f,
        "cf320diagonal": _joined(diagonal)[0] / f,
    }


def set_facts(photos: list, anonymizer: Anonymizer, retina: RetinaFaceDetector) -> dict:
    visible_total, reached_any = 0, 0
    reached = dict.fromkeys(PASSES, 0)
    false = dict.fromkeys(PASSES, 0)
    for photo in photos:
        image, regions, visible, every = main_pass(photo, anonymizer)
        visible_total += len(visible)
        any_pass = np.zeros(len(visible), bool)
        for name, boxes in searches(image, retina, anonymizer.detector.net).items():
            boxes = boxes.reshape(-1, 4).astype(np.float32)
            boxes = boxes[(box_sizes(boxes) >= MIN_SIZE) & (inside_share(boxes, regions) < 0.5)]
            hit = np.zeros(len(visible), bool)
            if len(boxes) and len(visible):
                hit = (box_iou(visible, boxes) >= 0.3).any(axis=1)
            any_pass |= hit
            reached[name] += int(hit.sum())
            if len(boxes):
                false[name] += int((box_iou(boxes, every).max(axis=1) < 0.3).sum()) if len(every) else len(boxes)
        reached_any += int(any_pass.sum())
    n = max(len(photos), 1)
    return {
        "photos": len(photos),
        "visible": visible_total,
        "reached_any": reached_any,
        "reached": reached,
        "false_per_photo": {k: v / n for k, v in false.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=HALVES, default="tune")
    ap.add_argument("--sets", default="photos,cut,upscale,dark,tilt,occluded,pasted")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    photos = bench.pick(select_half(bench.load_photos(bench.DEFAULT_DATA), args.half), args.limit)
    anonymizer = Anonymizer(method="blur", detector=make_detector("default"), audit="off")
    retina = RetinaFaceDetector(side=640)
    results = over_sets(args.sets, photos, lambda chosen: set_facts(chosen, anonymizer, retina))
    command = command_line("audit_ceiling", argv)
    pct = lambda a, b: f"{100 * a / b:.0f}% ({a}/{b})" if b else "-"  # noqa: E731
    lines = [
        f"# What a second look could catch, on the {args.half} half and its hard sets",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d')}. Faces of 16 px or more the main pass (default detector, blur)",
        "leaves visible, and the share of them each search at score 0.05 reaches (a find at IoU 0.3 or more), with",
        "its finds on no annotated face, a photo. *any*: reached by at least one search, the most a judge of these",
        "finds could catch.",
        "",
        "| set | photos | visible | any | " + " | ".join(PASSES) + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in PASSES) + " |",
    ]
    for set_name, r in results.items():
        cells = [f"{pct(r['reached'][p], r['visible'])}, {r['false_per_photo'][p]:.1f} false" for p in PASSES]
        lines.append(
            f"| {set_name} | {r['photos']} | {r['visible']} | {pct(r['reached_any'], r['visible'])} | "
            + " | ".join(cells)
            + " |"
        )
    total_v = sum(r["visible"] for r in results.values())
    total_a = sum(r["reached_any"] for r in results.values())
    lines += ["", f"All sets: {pct(total_a, total_v)} reached by any search.", ""]
    write_results(args.out, "\n".join(lines), command, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
