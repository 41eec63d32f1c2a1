"""Every face left visible, to be looked at: on the WIDER photos of ``--half`` and the hard sets made from them,
the annotated faces of ``--min-size`` px or more that the main pass (``--detector``, blur, ``--audit``) leaves
visible, each drawn as a pair of tiles (the photo and what was written, the face's box in red, the regions
hidden in green) on numbered contact sheets, with a list of them.

    .venv/bin/python -m benchmarks.miss_sheet --half report --audit hide --sheets /tmp/misses --out benchmarks/results/misses_report.md

The sheets hold pieces of the data's photos: write them outside the repository. The list (``--out``, and its
JSON beside it) says for each miss its set, photo, box, size and the share of its box hidden.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from anonymizer.audit import AUDIT_MODES
from anonymizer.detection import make_detector
from anonymizer.pipeline import Anonymizer
from benchmarks import detection as bench
from benchmarks.audit_tune import main_pass
from benchmarks.photo_sets import command_line, over_sets, write_results
from benchmarks.wider_split import HALVES, select_half

TILE = 320  # px, each half of a pair
PER_SHEET = 12
COLUMNS = 3
RED, GREEN = (255, 40, 40), (40, 220, 40)


def tile(image: np.ndarray, face: np.ndarray, regions: np.ndarray, context: float = 1.0) -> np.ndarray:
    """A TILE-px square of ``image`` around ``face`` (its side plus ``context`` of it on every side), the face's
    box in red and the ``regions`` in green."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * context)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ax, ay = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(int(round(side)), 1)
    canvas = np.full((s, s, 3), 96, np.uint8)
    sx1, sy1, sx2, sy2 = max(ax, 0), max(ay, 0), min(ax + s, w), min(ay + s, h)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - ay : sy2 - ay, sx1 - ax : sx2 - ax] = image[sy1:sy2, sx1:sx2]
    f = TILE / s
    out = np.ascontiguousarray(
        cv2.resize(canvas, (TILE, TILE), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    )

    def rect(b, colour):
        p1 = (int((b[0] - ax) * f), int((b[1] - ay) * f))
        p2 = (int((b[2] - ax) * f), int((b[3] - ay) * f))
        cv2.rectangle(out, p1, p2, colour, 2)

    for r in regions:
        rect(r, GREEN)
    rect(face, RED)
    return out


def set_misses(photos: list, anonymizer: Anonymizer, min_size: int) -> list[dict]:
    misses = []
    for photo in photos:
        image, regions, visible, _ = main_pass(photo, anonymizer)
        sizes = np.maximum(visible[:, 2] - visible[:, 0], visible[:, 3] - visible[:, 1])
        big = visible[sizes >= min_size]
        if not len(big):
            continue
        original = bench.read_rgb(photo.path)
        for face in big:
            cover = max((bench.rect_coverage(face, r) for r in regions), default=0.0)
            misses.append(
                {
                    "photo": photo.name,
                    "box": [int(v) for v in face],
                    "size": int(max(face[2] - face[0], face[3] - face[1])),
                    "hidden": round(float(cover), 3),
                    "pair": np.concatenate([tile(original, face, regions), tile(image, face, regions)], axis=1),
                }
            )
    return misses


def write_sheets(misses: list[dict], folder: Path) -> list[Path]:
    """Numbered contact sheets of the misses' pairs, PER_SHEET a sheet, each pair labelled with its number."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(misses), PER_SHEET):
        chunk = misses[start : start + PER_SHEET]
        rows = (len(chunk) + COLUMNS - 1) // COLUMNS
        label_h = 28
        sheet = np.full((rows * (TILE + label_h), COLUMNS * (2 * TILE + 8), 3), 255, np.uint8)
        for k, m in enumerate(chunk):
            r, c = divmod(k, COLUMNS)
            y, x = r * (TILE + label_h), c * (2 * TILE + 8)
            text = f"#{start + k + 1} {m['set']} {m['size']}px {100 * m['hidden']:.0f}% hidden"
            cv2.putText(sheet, text, (x + 4, y + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
            sheet[y + label_h : y + label_h + TILE, x : x + 2 * TILE] = m["pair"]
        path = folder / f"misses_{start // PER_SHEET + 1:02d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=HALVES, default="report")
    ap.add_argument("--sets", default="photos,cut,upscale,dark,tilt,occluded,pasted")
    ap.add_argument("--limit", type=int, default=None, help="only N photos of the half, spread over the events")
    ap.add_argument("--detector", default="default", help="the detector by name (make_detector)")
    ap.add_argument("--audit", choices=AUDIT_MODES, default="off", help="the audit of the main pass")
    ap.add_argument("--min-size", type=int, default=64, help="faces of this many px or more (longer side)")
    ap.add_argument("--sheets", type=Path, required=True, help="folder for the contact sheets (outside the repository)")
    ap.add_argument("--out", type=Path, required=True, help="the list of misses (markdown, and JSON beside it)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    photos = bench.pick(select_half(bench.load_photos(bench.DEFAULT_DATA), args.half), args.limit)
    anonymizer = Anonymizer(method="blur", detector=make_detector(args.detector), audit=args.audit)
    results = over_sets(args.sets, photos, lambda chosen: set_misses(chosen, anonymizer, args.min_size))
    misses = [{"set": name, **m} for name, found in results.items() for m in found]
    sheets = write_sheets(misses, args.sheets)
    command = command_line("miss_sheet", argv)
    lines = [
        f"# Faces of {args.min_size} px or more left visible, {args.half} half and its hard sets",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d')}. Main pass: detector {args.detector}, blur, audit {args.audit}; a face",
        "is visible when under 70 % of its box lies in one hidden region. Numbers are the contact sheets' labels.",
        "",
        "| set | misses |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {len(found)} |" for name, found in results.items()]
    lines += ["", "| # | set | photo | box | size (px) | hidden |", "| ---: | --- | --- | --- | ---: | ---: |"]
    for k, m in enumerate(misses, 1):
        lines.append(f"| {k} | {m['set']} | {m['photo']} | {m['box']} | {m['size']} | {100 * m['hidden']:.0f}% |")
    lines.append("")
    listed = [{k: v for k, v in m.items() if k != "pair"} for m in misses]
    write_results(args.out, "\n".join(lines), command, {"misses": listed, "sheets": [str(p) for p in sheets]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
