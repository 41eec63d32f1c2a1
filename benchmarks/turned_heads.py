"""The faces the aligned generator declines, painted anyway: found again, and how they look.

The aligned generator paints only faces whose five landmarks fit its frontal template (residual at most
``anonymizer.align.MAX_RESIDUAL``); the rest go to the pipeline's fallback, which the detector seldom finds
again. This probe paints them with the same generator at a looser bound (``--max-residual``) and reports,
for the WIDER faces of 64 px and more of one half of the split (``benchmarks/wider_split.py``), by the fit's
residual: how many there are, and the share the default detector finds again (IoU >= 0.5). ``--sheets``
writes each newly painted face beside its original at full size (the original's pixels, not resized), to be
looked at: a share found again says nothing about a frontal face painted over a profile.

    .venv/bin/python -m benchmarks.turned_heads --weights training/aligned_pose/generator.safetensors \\
        --half tune --out /tmp/turned --sheets /tmp/turned
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.quality_metrics import DATA

MIN_SIZE = 64
BANDS = ((0.25, 0.30), (0.30, 0.35), (0.35, 0.45), (0.45, float("inf")))


def summarize(rows: list[dict], bands=BANDS) -> dict:
    """Counts and the share found again: alignable faces, each residual band of the declined ones (their
    landmarks inside the box), faces declined for a landmark outside the box, and all."""

    def part(sel: list[dict]) -> dict:
        found = sum(r["found"] for r in sel)
        return {"faces": len(sel), "found": found, "share": found / len(sel) if sel else None}

    declined = [r for r in rows if not r["alignable"] and not r["outside"]]
    return {
        "alignable": part([r for r in rows if r["alignable"]]),
        "bands": [
            {"low": lo, "high": hi, **part([r for r in declined if lo < r["residual"] <= hi])} for lo, hi in bands
        ],
        "outside": part([r for r in rows if r["outside"]]),
        "all": part(rows),
    }


def markdown(result: dict) -> str:
    s = result["summary"]

    def pct(p: dict) -> str:
        return "–" if p["share"] is None else f"{100 * p['share']:.1f}% ({p['found']}/{p['faces']})"

    lines = [
        "# Declined faces painted anyway",
        "",
        f"Weights `{result['weights']}`, WIDER {result['half']} half ({result['photos']} photos), faces of >= "
        f"{MIN_SIZE} px found by the default detector, painted by the generator up to a landmark residual of "
        f"{result['max_residual']}; found again: the default detector on the output, IoU >= 0.5. "
        f"Command: `{result['command']}`; {result['date']}, {result['machine']}.",
        "",
        "| faces | count | found again |",
        "| --- | ---: | ---: |",
        f"| alignable (residual <= {result['default_residual']}) | {s['alignable']['faces']} | {pct(s['alignable'])} |",
    ]
    for b in s["bands"]:
        lines.append(f"| declined, residual {b['low']:.2f}-{b['high']:.2f} | {b['faces']} | {pct(b)} |")
    lines += [
        f"| declined, a landmark outside the box | {s['outside']['faces']} | {pct(s['outside'])} |",
        f"| all | {s['all']['faces']} | {pct(s['all'])} |",
        "",
    ]
    return "\n".join(lines)


def pack_sheets(pairs: list[np.ndarray], width: int = 1400, height: int = 1000) -> list[np.ndarray]:
    """Pairs in rows of at most ``width`` pixels and sheets of at most ``height``, smallest first, none
    resized (a pair wider than ``width`` widens its sheet)."""
    rows: list[list[np.ndarray]] = []
    for p in sorted(pairs, key=lambda p: p.shape[0]):
        if rows and sum(q.shape[1] + 8 for q in rows[-1]) + p.shape[1] <= width:
            rows[-1].append(p)
        else:
            rows.append([p])
    full = max([width] + [sum(q.shape[1] + 8 for q in r) for r in rows])
    strips = []
    for r in rows:
        strip = np.full((max(q.shape[0] for q in r) + 8, full, 3), 255, np.uint8)
        x = 0
        for q in r:
            strip[: q.shape[0], x : x + q.shape[1]] = q
            x += q.shape[1] + 8
        strips.append(strip)
    sheets: list[list[np.ndarray]] = []
    for s in strips:
        if sheets and sum(t.shape[0] for t in sheets[-1]) + s.shape[0] <= height:
            sheets[-1].append(s)
        else:
            sheets.append([s])
    return [np.concatenate(s) for s in sheets]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--weights", required=True, help="an aligned generator (.safetensors)")
    p.add_argument("--max-residual", type=float, default=0.45, help="paint faces up to this landmark residual")
    p.add_argument("--half", choices=("tune", "report", "all"), default="tune", help="WIDER half (default tune)")
    p.add_argument("--wider-dir", default=str(DATA / "wider"))
    p.add_argument("--limit", type=int, default=0, help="at most this many photos of the half (0: all)")
    p.add_argument("--seed", type=int, default=0, help="the generator's seed")
    p.add_argument("--out", required=True, help="folder for turned_heads.json and turned_heads.md")
    p.add_argument("--sheets", default="", help="folder for full-size sheets of the newly painted faces")
    args = p.parse_args(argv)

    from PIL import Image
    from tqdm import tqdm

    from anonymizer.align import MAX_RESIDUAL, alignable, fit_alignment
    from anonymizer.imageio import read_image
    from anonymizer.pipeline import Anonymizer
    from benchmarks.quality_data import wider_photos
    from benchmarks.quality_metrics import match_faces
    from benchmarks.quality_sheets import full_size_crop, full_size_pair
    from benchmarks.wider_split import select_half

    photos = select_half(wider_photos(Path(args.wider_dir), 10**9, 0), args.half, name=lambda ph: ph.rel)
    photos = photos[: args.limit or None]
    base = Anonymizer(method="blur")
    gan = Anonymizer(method="gan", detector=base.detector, weights=args.weights, seed=args.seed)
    # The generator's own check, loosened (or tightened) to the bound asked for: the rest of the product unchanged.
    gan.replacer.max_residual = args.max_residual

    rows: list[dict] = []
    pairs: list[np.ndarray] = []
    for photo in tqdm(photos, unit="photo", desc="turned heads"):
        image = read_image(photo.path).rgb
        faces = base.detect(image)
        big = [f for f in faces if f.size >= MIN_SIZE]
        if not big:
            continue
        out = gan.anonymize(image, faces=list(faces)).image
        found = base.detect(out)
        kept = match_faces(
            np.stack([f.box for f in big]), np.stack([f.box for f in found]) if found else np.zeros((0, 4))
        )
        for f, k in zip(big, kept):
            ok, why = alignable(f.landmarks, f.box)
            _, residual = fit_alignment(f.landmarks, 128)
            outside = not ok and "outside" in why
            rows.append(
                {
                    "photo": photo.rel,
                    "box": [round(float(v), 1) for v in f.box],
                    "size": round(float(f.size), 1),
                    "residual": round(float(residual), 4),
                    "alignable": ok,
                    "outside": outside,
                    "found": bool(k),
                }
            )
            if args.sheets and not ok and not outside and residual <= args.max_residual:
                text = f"{f.size:.0f} px, residual {residual:.2f}, " + ("found" if k else "missed")
                pairs.append(full_size_pair(full_size_crop(image, f.box), full_size_crop(out, f.box), text))

    result = {
        "weights": args.weights,
        "half": args.half,
        "photos": len(photos),
        "max_residual": args.max_residual,
        "default_residual": MAX_RESIDUAL,
        "command": "python -m benchmarks.turned_heads " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "summary": summarize(rows),
        "faces": rows,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "turned_heads.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "turned_heads.md").write_text(markdown(result))
    if args.sheets and pairs:
        Path(args.sheets).mkdir(parents=True, exist_ok=True)
        for i, sheet in enumerate(pack_sheets(pairs)):
            Image.fromarray(sheet).save(Path(args.sheets) / f"turned_heads_{i:02d}.png")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
